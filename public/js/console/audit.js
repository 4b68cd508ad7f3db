// The audit log: governance changes and security events (logins, lockouts, token reuse,
// activations, revocations) and what clients did (requests, messages, downloads), newest first,
// filtered by actor, action (a prefix with *), target, time, link, who acted and new countries.
import { get } from "../lib/api.js";
import { badge, empty, failure, h, loading, mount, time } from "../lib/dom.js";
import { checkbox, field, formAlert, onSubmit } from "../lib/forms.js";

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
    h("td", {}, [e.ip, e.country].filter(Boolean).join(" · ") || "—", e.details && e.details.new_country ? [" ", badge("new country", "bad")] : null),
    h("td", {}, details),
  );
}

export async function renderAudit(ctx, el, param) {
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
      field({ label: "Link id", name: "link", hint: "A client link: its changes and what its client did through it." }),
      field({
        label: "Who acted",
        name: "kind",
        kind: "select",
        options: [["", "Anyone"], ["external", "Clients"], ["employee", "Employees"], ["crm", "The CRM"], ["system", "The system"], ["anonymous", "Unknown (failed sign-ins)"]]
          .map(([value, label]) => ({ value, label })),
      }),
    ),
    checkbox({ label: "Only sign-ins from a country the user never signed in from", name: "new_country" }),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Show events"), h("button", { type: "reset" }, "Clear filters")),
  );
  let cursor = null;
  // `#audit/<link id>` (from a link's page) opens with that link's events.
  const linkParam = /^[0-9a-f-]{36}$/i.test(param || "") ? param : "";
  let filter = linkParam ? { link: linkParam } : {};
  if (linkParam) form.elements.link.value = linkParam;
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
      link: String(data.get("link") || "").trim(),
      kind: String(data.get("kind") || ""),
      new_country: data.get("new_country") === "on" ? "true" : "",
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
