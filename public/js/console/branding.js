// Branding (admins): the portal's name, logo and primary colour, with a preview of the portal's top
// bar and a button as the client will see them (the colour darkened as the portal darkens it when
// it would not keep readable contrast).
import { get, put } from "../lib/api.js";
import { applyColor, brandMark, readableColor } from "../lib/branding.js";
import { empty, h, mount, toast } from "../lib/dom.js";
import { field, formAlert, onSubmit } from "../lib/forms.js";

export async function renderBranding(ctx, el) {
  if (!ctx.isAdmin) {
    return mount(el, h("h1", {}, "Branding"), empty("Only admins change the portal's branding."));
  }
  const current = await get("/api/admin/branding");
  const b = current.branding || current;
  const name = field({ label: "Portal name", name: "portal_name", required: true, value: b.portal_name, hint: "Shown in the portal's top bar, the page titles and the sign-in page." });
  const logo = field({ label: "Logo URL (optional)", name: "logo_url", kind: "url", value: b.logo_url || "", placeholder: "https://", hint: "An https image; when it cannot load, the portal shows the name's initial." });
  const color = field({ label: "Primary colour", name: "primary_color", value: b.primary_color, placeholder: "#1d4ed8", hint: "#rrggbb. Buttons and links use it; a colour too light for readable text is darkened." });
  const picker = h("input", { type: "color", value: /^#[0-9a-f]{6}$/i.test(b.primary_color || "") ? b.primary_color : "#1d4ed8", "aria-label": "Pick the primary colour" });
  const preview = h("div", { class: "brand-preview", role: "region", "aria-label": "Preview" });
  const note = h("p", { class: "small muted", "aria-live": "polite" });

  function draw() {
    const shown = { portal_name: name.control.value.trim() || "Client portal", logo_url: logo.control.value.trim() || null };
    const value = color.control.value.trim();
    const readable = readableColor(value);
    if (readable) applyColor(value, preview);
    mount(preview,
      h("div", { class: "topbar" }, brandMark(shown, "#branding")),
      h("div", { class: "preview-body" }, h("p", {}, "Your requests, documents and messages."), h("p", {}, h("a", { href: "#branding" }, "A link"), " ", h("button", { type: "button", class: "primary", tabindex: "-1" }, "A button"))));
    mount(note, !readable ? "The colour must be #rrggbb." : readable.toLowerCase() !== value.toLowerCase() ? `Too light for readable text: the portal uses ${readable} instead.` : "Readable as it is.");
  }
  picker.addEventListener("input", () => {
    color.control.value = picker.value;
    draw();
  });
  for (const f of [name, logo, color]) f.control.addEventListener("input", draw);

  const form = h("form", { "aria-label": "Portal branding" }, formAlert(), name, logo, color, picker, note,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Save branding")));
  onSubmit(form, async (data) => {
    await put("/api/admin/branding", {
      portal_name: String(data.get("portal_name")).trim(),
      logo_url: String(data.get("logo_url") || "").trim() || null,
      primary_color: String(data.get("primary_color")).trim(),
    });
    toast("Branding saved: the portal shows it from the next page load.");
  });
  mount(el, h("h1", {}, "Branding"), h("div", { class: "cols" }, h("div", { class: "card" }, form), h("section", { class: "card", "aria-labelledby": "brand-preview-title" }, h("h2", { id: "brand-preview-title" }, "As the client sees it"), preview)));
  draw();
}
