// The team's documents: upload a draft for a company (and optionally one of its contacts), see drafts,
// published and withdrawn ones, publish after the guide's pre-publish checklist (no internal
// comments, no other client's data), ask for a signature, withdraw, download, and for every client
// action its evidence (who, when, from where, the file's hash at that moment).
import { ApiError, download, get, post } from "../lib/api.js";
import { ACCEPT, BY_EXTENSION, MAX_BYTES, base64 } from "../lib/attachments.js";
import { badge, bytes, confirmDialog, empty, failure, fullName, h, load, loading, mount, time, toast } from "../lib/dom.js";
import { checkbox, field, formAlert, onSubmit } from "../lib/forms.js";

const STATUS_TONE = { draft: "info", published: "ok", withdrawn: "" };
const ACTION = { none: "Information only", review: "Review", approve: "Approve or reject", sign: "Signature" };
const DONE = { reviewed: "Reviewed", approved: "Approved", rejected: "Rejected", signed: "Signed" };
const filters = { company: "", status: "" };

export async function renderDocuments(ctx, el, id) {
  if (id) return detailView(ctx, el, id);
  const companies = await ctx.cached("companies", "/api/admin/companies");
  const names = new Map(companies.map((c) => [c.id, c.name]));
  const company = field({ label: "Company", name: "company", kind: "select", value: filters.company, options: [{ value: "", label: "All companies" }, ...companies.map((c) => ({ value: c.id, label: c.name }))] });
  const status = field({ label: "State", name: "status", kind: "select", value: filters.status, options: [{ value: "", label: "Every state" }, { value: "draft", label: "Drafts" }, { value: "published", label: "Published" }, { value: "withdrawn", label: "Withdrawn" }] });
  const results = h("div", { "aria-live": "polite" });

  async function search() {
    Object.assign(filters, { company: company.control.value, status: status.control.value });
    mount(results, loading("Loading documents…"));
    try {
      const page = await get("/api/admin/documents", { ...filters, limit: 100 });
      if (!page.items.length) return mount(results, empty("No document matches. Upload one above."));
      mount(results, h("ul", { class: "list", "aria-label": "Documents" }, page.items.map((d) =>
        h("li", {},
          h("div", { class: "item-head" }, h("a", { class: "title", href: `#documents/${d.id}` }, d.title), badge(d.status, STATUS_TONE[d.status])),
          h("div", { class: "small muted" }, `${names.get(d.company_id) || "Unknown company"} · ${ACTION[d.required_action] || d.required_action}`,
            d.completed_action ? ` · ${DONE[d.completed_action]} by ${d.completed_by_name || "the client"}` : "", " · ", time(d.created_at))))));
    } catch (err) {
      if (err.status !== 401) mount(results, failure(err, search));
    }
  }
  company.control.addEventListener("change", search);
  status.control.addEventListener("change", search);
  mount(
    el,
    h("h1", {}, "Documents"),
    uploadCard(ctx, companies, (created) => ctx.go(`documents/${created.id}`)),
    h("form", { class: "card", role: "search", "aria-label": "Filter documents", onsubmit: (ev) => ev.preventDefault() }, h("div", { class: "cols" }, company, status)),
    results,
  );
  await search();
}

function uploadCard(ctx, companies, onDone) {
  const company = field({ label: "Company", name: "company_id", kind: "select", required: true, options: [{ value: "", label: "Choose a company" }, ...companies.map((c) => ({ value: c.id, label: c.name }))] });
  const contact = field({ label: "For one contact (optional)", name: "contact_id", kind: "select", options: [{ value: "", label: "Everyone with access at the company" }], hint: "Only this contact's clients see it." });
  const title = field({ label: "Title", name: "title", required: true });
  const file = field({ label: "File", name: "file", kind: "file", required: true, hint: "PDF, images, text, CSV or office documents, up to 7.5 MB. It is a draft until you publish it." });
  file.control.setAttribute("accept", ACCEPT);
  company.control.addEventListener("change", async () => {
    const id = company.control.value;
    const contacts = id ? await ctx.cached("contacts", "/api/admin/contacts").catch(() => []) : [];
    mount(contact.control, h("option", { value: "" }, "Everyone with access at the company"),
      contacts.filter((c) => (c.company_ids || []).includes(id)).map((c) => h("option", { value: c.id }, fullName(c))));
  });
  const form = h("form", { "aria-label": "Upload a document" }, formAlert(), h("div", { class: "cols" }, company, contact), title, file, h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Upload draft")));
  onSubmit(form, async (data) => {
    const chosen = file.control.files && file.control.files[0];
    if (!chosen) throw { field: "file", message: "Choose a file to upload." };
    if (chosen.size > MAX_BYTES) throw { field: "file", message: `The file is ${bytes(chosen.size)}; the limit is 7.5 MB.` };
    const ext = chosen.name.split(".").pop().toLowerCase();
    try {
      const created = await post("/api/admin/documents", {
        company_id: data.get("company_id"),
        contact_id: data.get("contact_id") || undefined,
        title: String(data.get("title")).trim(),
        content_type: chosen.type || BY_EXTENSION[ext] || "application/octet-stream",
        content_base64: base64(await chosen.arrayBuffer()),
      });
      toast(`“${created.title}” uploaded as a draft.`);
      onDone(created);
    } catch (err) {
      // The file's own fields are all this one input.
      if (err.field === "content_type" || err.field === "content_base64") err.field = "file";
      throw err;
    }
  });
  return h("details", { class: "card" }, h("summary", {}, "Upload a document"), form);
}

async function detailView(ctx, el, id) {
  await load(el, async () => {
    let d;
    try {
      d = await get(`/api/admin/documents/${encodeURIComponent(id)}`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        return [h("h1", {}, "Document not found"), empty("This document does not exist or belongs to a company you do not govern."), h("p", {}, h("a", { href: "#documents" }, "Back to documents"))];
      }
      throw err;
    }
    const companies = await ctx.cached("companies", "/api/admin/companies").catch(() => []);
    const companyName = (companies.find((c) => c.id === d.company_id) || {}).name || "Unknown company";
    const again = () => detailView(ctx, el, id);
    const act = async (path, body, message) => {
      try {
        await post(`/api/admin/documents/${encodeURIComponent(d.id)}/${path}`, body);
        toast(message);
        await again();
      } catch (err) {
        if (err.status !== 401) toast(err.message);
      }
    };
    const buttons = [
      h("button", { type: "button", onclick: () => download(`/api/admin/documents/${encodeURIComponent(d.id)}/file`, d.title).catch((err) => err.status !== 401 && toast(err.message)) }, "Download", h("span", { class: "visually-hidden" }, ` ${d.title}`)),
    ];
    if (d.status === "published" && d.required_action !== "sign" && d.completed_action !== "signed") {
      buttons.push(h("button", { type: "button", onclick: () => act("request-signature", {}, "Signature requested: the client is asked to sign.") }, "Request signature"));
    }
    if (d.status !== "withdrawn") {
      buttons.push(h("button", {
        type: "button",
        class: "danger",
        onclick: async () => {
          if (await confirmDialog({ title: `Withdraw “${d.title}”?`, body: "It disappears from the portal at once. Its history and evidence stay here.", confirm: "Withdraw", danger: true })) act("withdraw", {}, "Document withdrawn.");
        },
      }, "Withdraw"));
    }
    return [
      h("p", { class: "small" }, h("a", { href: "#documents" }, "← All documents")),
      h("div", { class: "section-head" }, h("h1", {}, d.title), badge(d.status, STATUS_TONE[d.status])),
      h("div", { class: "card" },
        h("dl", { class: "facts" },
          h("dt", {}, "Company"), h("dd", {}, companyName),
          h("dt", {}, "For"), h("dd", {}, d.contact_id ? "one contact" : "everyone with access at the company"),
          h("dt", {}, "Asked of the client"), h("dd", {}, ACTION[d.required_action] || d.required_action),
          h("dt", {}, "Done"), h("dd", {}, d.completed_action ? [`${DONE[d.completed_action]} by ${d.completed_by_name || "the client"} · `, time(d.completed_at)] : "not yet"),
          h("dt", {}, "File"), h("dd", {}, `${d.content_type} · ${bytes(d.size)}`),
          h("dt", {}, "SHA-256"), h("dd", { class: "mono small" }, d.sha256),
          h("dt", {}, "Uploaded"), h("dd", {}, time(d.created_at)),
          h("dt", {}, "Published"), h("dd", {}, d.published_at ? time(d.published_at) : "not yet"),
          d.withdrawn_at ? [h("dt", {}, "Withdrawn"), h("dd", {}, time(d.withdrawn_at))] : null),
        h("div", { class: "actions" }, buttons)),
      d.status === "draft" ? publishCard(d, (message) => { toast(message); return again(); }) : null,
      evidenceCard(d),
    ];
  });
}

/** Publishing: what the client is asked to do, after the guide's checklist is confirmed. */
function publishCard(d, done) {
  const action = field({ label: "Ask the client to", name: "required_action", kind: "select", value: "none", options: Object.entries(ACTION).map(([value, label]) => ({ value, label })) });
  const clean = checkbox({ label: "It holds no internal comments, notes or drafts meant for the team", name: "no_internal" });
  const own = checkbox({ label: `It holds only this client's data, nothing of another client`, name: "only_this_client" });
  const form = h("form", { "aria-label": "Publish the document" }, formAlert(),
    h("fieldset", {}, h("legend", {}, "Before publishing, check the file"), clean, own),
    action,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Publish")));
  onSubmit(form, async (data) => {
    if (!data.get("no_internal") || !data.get("only_this_client")) {
      throw { message: "Confirm both checks before publishing: the client sees the file exactly as uploaded." };
    }
    await post(`/api/admin/documents/${encodeURIComponent(d.id)}/publish`, { required_action: data.get("required_action") });
    await done("Published: the client sees it in the portal.");
  });
  return h("section", { class: "card", "aria-labelledby": "doc-publish-title" }, h("h2", { id: "doc-publish-title" }, "Publish"), form);
}

/** Every client action with its evidence; the hash shows whether the file then was the file now. */
function evidenceCard(d) {
  const rows = d.actions || [];
  return h("section", { class: "card", "aria-labelledby": "doc-evidence-title" },
    h("h2", { id: "doc-evidence-title" }, "Client actions and evidence"),
    rows.length
      ? h("ul", { class: "list", "aria-label": "Evidence" }, rows.map((a) =>
          h("li", {},
            h("div", { class: "item-head" }, h("span", { class: "title" }, `${DONE[a.action] || a.action} by ${a.user_name || a.user_id}`), time(a.created_at)),
            h("dl", { class: "facts small" },
              a.signature_name ? [h("dt", {}, "Typed name"), h("dd", {}, a.signature_name)] : null,
              a.comment ? [h("dt", {}, "Comment"), h("dd", {}, a.comment)] : null,
              h("dt", {}, "From"), h("dd", {}, `${a.ip || "unknown address"}${a.country ? ` (${a.country})` : ""}`),
              h("dt", {}, "Browser"), h("dd", {}, a.user_agent || "—"),
              h("dt", {}, "File hash then"), h("dd", { class: "mono" }, a.document_sha256, " ", a.document_sha256 === d.sha256 ? badge("matches the file", "ok") : badge("differs from the file", "bad"))))))
      : empty("No client action yet."));
}
