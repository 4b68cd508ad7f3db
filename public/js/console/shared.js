// Pieces the console's sections share: the selected-link bar, the link picker, permission names.
import { get } from "../lib/api.js";
import { empty, failure, fullName, h, loading, mount, statusBadge, uid } from "../lib/dom.js";

export const PERMISSIONS = [
  { key: "create_requests", label: "Request creation", hint: "Create requests in the allowed pipelines" },
  { key: "read_request_chat", label: "Request chat reading", hint: "See the conversation on their requests" },
  { key: "send_request_chat", label: "Request chat sending", hint: "Write in the request chat (needs reading)" },
  { key: "general_chat", label: "General chat", hint: "A standing channel with the company outside requests" },
  { key: "calls", label: "Calls", hint: "Portal calls on requests and in the general channel" },
  { key: "telegram", label: "Telegram connection", hint: "Link Telegram for notifications and messaging" },
  { key: "widget", label: "Widget connection", hint: "Link a widget on the client's side" },
];

export { LEVELS } from "../lib/policy.js";

export function linkSummary(l) {
  return `${fullName(l.user)} · ${(l.companies || []).map((c) => c.name).join(", ")}`;
}

/** The bar naming the selected link, shown above the per-link sections. */
export function linkBar(link) {
  if (!link) return null;
  return h(
    "div",
    { class: "linkbar", role: "region", "aria-label": "Selected link" },
    h(
      "span",
      { class: "what" },
      "Link: ",
      h("strong", {}, fullName(link.user)),
      ` (${link.user.login}) · contact ${link.contact.name || fullName(link.contact)} · `,
      (link.companies || []).map((c) => c.name).join(", "),
      " ",
      statusBadge(link.status),
    ),
    h("a", { href: `#links/${link.id}` }, "Link details"),
    h("a", { href: "#links" }, "Choose another link"),
  );
}

/**
 * Search and pick a link (for sections that work on one). `onPick(id)` gets the link id.
 */
export function linkPicker({ onPick, intro }) {
  const id = uid("pick");
  const input = h("input", { id, type: "search", placeholder: "Name, login, contact or company", autocomplete: "off" });
  const results = h("div", { "aria-live": "polite" });
  let timer = null;
  async function search() {
    mount(results, loading("Searching links…"));
    try {
      const res = await get("/api/admin/links", { q: input.value.trim(), limit: 20 });
      if (!res.items.length) return mount(results, empty("No link matches."));
      mount(
        results,
        h(
          "ul",
          { class: "list", "aria-label": "Matching links" },
          res.items.map((l) =>
            h(
              "li",
              {},
              h("div", { class: "item-head" }, h("span", { class: "title" }, linkSummary(l)), statusBadge(l.status)),
              h("div", { class: "small muted" }, l.user.login),
              h("div", { class: "actions" }, h("button", { type: "button", onclick: () => onPick(l.id) }, "Select", h("span", { class: "visually-hidden" }, ` ${linkSummary(l)}`))),
            ),
          ),
        ),
      );
    } catch (err) {
      if (err.status !== 401) mount(results, failure(err, search));
    }
  }
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(search, 250);
  });
  search();
  return h(
    "div",
    { class: "card" },
    h("p", {}, intro || "Choose the client link to work on."),
    h("div", { class: "field" }, h("label", { for: id }, "Find a link"), input),
    results,
  );
}
