// The audit log: governance changes and security events (logins, lockouts, token reuse,
// activations, revocations), newest first, filtered by actor, action (a prefix with *), target and
// time.
import { get } from "../lib/api.js";
import { badge, empty, failure, h, loading, mount, time } from "../lib/dom.js";
import { field, formAlert, onSubmit } from "../lib/forms.js";

function short(id) {
  return id ? `${id.slice(0, 8)}…` : "—";
}

function row(e, filterBy) {
  const details = e.details && Object.keys(e.details).length ? h("details", {}, h("summary", {}, "Details"), h("pre", {}, JSON.stringify(e.details, null, 2))) : null;
  return h(
    "tr",
    {},
    h("td", {}, time(e.created_at)),
    h("td", {}, h("code", {}, e.action)),
    h("td", {}, badge(e.outcome, e.outcome === "success" ? "ok" : "bad")),
    h("td", {}, e.actor_kind, e.actor_id ? [" ", h("button", { type: "button", class: "link", title: e.actor_id, onclick: () => filterBy("actor", e.actor_id) }, short(e.actor_id), h("span", { class: "visually-hidden" }, ": show only this actor"))] : null),
    h("td", {}, e.target_kind || "—", e.target_id ? [" ", h("button", { type: "button", class: "link", title: e.target_id, onclick: () => filterBy("target", e.target_id) }, short(e.target_id), h("span", { class: "visually-hidden" }, ": show only this target"))] : null),
    h("td", {}, [e.ip, e.country].filter(Boolean).join(" · ") || "—"),
    h("td", {}, details),
  );
}

export async function renderAudit(ctx, el) {
  const results = h("div");
  const more = h("div", { class: "actions" });
  const form = h(
    "form",
    { class: "card", role: "search", "aria-label": "Filter the audit log" },
    formAlert(),
    h(
      "div",
      { class: "cols" },
      field({ label: "Action", name: "action", hint: "Exact, or a prefix ending in * (e.g. link.* or auth.*)." }),
      field({ label: "Actor id", name: "actor", hint: "A user's id." }),
      field({ label: "Target id", name: "target", hint: "A link, user, document… id." }),
      field({ label: "Since", name: "since", kind: "datetime-local", hint: "Your local time." }),
    ),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Show events"), h("button", { type: "reset" }, "Clear filters")),
  );
  let cursor = null;
  let filter = {};
  async function page(reset) {
    if (reset) {
      cursor = null;
      mount(results, loading("Loading events…"));
    }
    mount(more);
    const res = await get("/api/admin/audit", { ...filter, cursor, limit: 50 });
    if (reset) {
      mount(
        results,
        res.items.length
          ? h(
              "div",
              { class: "table-wrap", role: "region", tabindex: "0", "aria-label": "Audit events" },
              h(
                "table",
                {},
                h("caption", { class: "visually-hidden" }, "Audit events, newest first"),
                h("thead", {}, h("tr", {}, ["Time", "Action", "Outcome", "Actor", "Target", "From", "Details"].map((t) => h("th", { scope: "col" }, t)))),
                h("tbody"),
              ),
            )
          : empty("No events match."),
      );
    }
    const tbody = results.querySelector("tbody");
    for (const e of res.items) tbody.append(row(e, filterBy));
    cursor = res.next_cursor;
    if (cursor) mount(more, h("button", { type: "button", onclick: () => page(false).catch((err) => mount(more, failure(err))) }, "Show older events"));
  }
  function filterBy(name, value) {
    form.elements[name].value = value;
    form.requestSubmit();
  }
  onSubmit(form, async (data) => {
    const since = String(data.get("since") || "");
    filter = {
      action: String(data.get("action") || "").trim(),
      actor: String(data.get("actor") || "").trim(),
      target: String(data.get("target") || "").trim(),
      since: since ? new Date(since).toISOString().replace(/\.\d{3}Z$/, "Z") : "",
    };
    try {
      await page(true);
    } catch (err) {
      mount(results);
      throw err;
    }
  });
  form.addEventListener("reset", () => setTimeout(() => form.requestSubmit(), 0));
  mount(el, h("h1", {}, "Audit log"), h("p", { class: "muted" }, "Every governance change and security event, with who, what, when and from where."), form, results, more);
  try {
    await page(true);
  } catch (err) {
    if (err.status !== 401) mount(results, failure(err, () => page(true)));
  }
}
