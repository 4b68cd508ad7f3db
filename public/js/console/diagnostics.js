// Diagnostics: pick a link and an object (request, document or pipeline) and an action, and see the
// decision chain user -> link -> contact -> company -> company policy -> contact policy ->
// effective -> object, step by step with pass or fail. It is the gates' own function, so the
// explanation matches what the client gets.
import { get } from "../lib/api.js";
import { badge, h, loading, mount, uid } from "../lib/dom.js";
import { formAlert, onSubmit } from "../lib/forms.js";
import { LEVELS, linkBar, linkPicker } from "./shared.js";

const ACTIONS = [
  ["view", "See it (visibility)"],
  ["create_request", "Create a request (pipeline)"],
  ["read_request_chat", "Read the request chat"],
  ["send_request_chat", "Write in the request chat"],
  ["general_chat", "General chat"],
  ["calls", "Calls"],
  ["telegram", "Telegram connection"],
  ["widget", "Widget connection"],
  ["act_on_document", "Review, approve or sign (document)"],
];

async function objects(ctx, kind, link) {
  const companies = new Map((link.companies || []).map((c) => [c.id, c.name]));
  const tag = (companyId) => (companies.has(companyId) ? companies.get(companyId) : "another company");
  if (kind === "request") {
    const res = await get("/api/admin/requests", { limit: 100 });
    return res.items.map((r) => ({ id: r.id, label: `${r.title} · ${r.pipeline_name || ""} · ${r.company_name || tag(r.company_id)}` }));
  }
  if (kind === "document") {
    const res = await get("/api/admin/documents", { limit: 100 });
    return res.items.map((d) => ({ id: d.id, label: `${d.title} · ${d.status} · ${tag(d.company_id)}` }));
  }
  const pipelines = await ctx.cached("pipelines", "/api/admin/pipelines");
  return pipelines.map((p) => ({ id: p.id, label: `${p.name}${p.archived ? " (archived)" : ""}` }));
}

function chainView(d, title = "Result", headingId = "dg-result") {
  const firstFail = d.chain.findIndex((s) => s.outcome === "fail");
  return h(
    "section",
    { class: "card", "aria-labelledby": headingId },
    h("h2", { id: headingId, tabindex: "-1" }, title),
    d.verdict === "allow"
      ? h("div", { class: "alert ok", role: "status" }, h("p", {}, h("strong", {}, "Allowed."), " Every step of the chain passes."))
      : h("div", { class: "alert error", role: "status" }, h("p", {}, h("strong", {}, "Denied."), d.permission ? ` Permission: ${d.permission}.` : "", firstFail >= 0 ? ` Step ${firstFail + 1} explains it: ${d.chain[firstFail].reason}.` : "")),
    h(
      "ol",
      { class: "chain", "aria-label": title === "Result" ? "Decision chain" : `Decision chain at ${title}` },
      d.chain.map((s, i) =>
        h(
          "li",
          { class: s.outcome === "fail" ? "fail" : "" },
          h("span", {}, s.outcome === "pass" ? badge("✓ pass", "ok") : badge("✗ fail", "bad")),
          h(
            "div",
            {},
            h("div", {}, h("span", { class: "level" }, `${i + 1}. ${LEVELS[s.level] || s.level}`), h("span", { class: "muted" }, ` · ${s.subject}`)),
            h("div", {}, s.reason),
          ),
        ),
      ),
    ),
  );
}

export async function renderDiagnostics(ctx, el) {
  const link = ctx.link;
  if (!link) {
    mount(el, h("h1", {}, "Diagnostics"), linkPicker({ intro: "When a client sees something extra or misses something, check their link here. Choose the link first.", onPick: (id) => ctx.go(`diagnostics/${id}`) }));
    return;
  }
  const ids = { kind: uid("kind"), object: uid("obj"), manual: uid("man"), action: uid("act") };
  const kind = h("select", { id: ids.kind, name: "kind" }, [["request", "Request"], ["document", "Document"], ["pipeline", "Pipeline"]].map(([v, t]) => h("option", { value: v }, t)));
  const object = h("select", { id: ids.object, name: "object", "aria-describedby": `${ids.object}-error` });
  const manual = h("input", { id: ids.manual, name: "object_id", type: "text", autocomplete: "off", placeholder: "Paste an id", "aria-describedby": `${ids.manual}-error` });
  const action = h("select", { id: ids.action, name: "action", "aria-describedby": `${ids.action}-error` }, ACTIONS.map(([v, t]) => h("option", { value: v }, t)));
  const result = h("div");

  async function fillObjects() {
    mount(object, h("option", { value: "" }, "Loading…"));
    try {
      const items = await objects(ctx, kind.value, link);
      mount(object, h("option", { value: "" }, items.length ? "Choose…" : "None found: paste an id"), items.map((o) => h("option", { value: o.id }, o.label)));
    } catch (err) {
      mount(object, h("option", { value: "" }, "Could not load the list: paste an id"));
    }
    action.value = kind.value === "pipeline" ? "create_request" : kind.value === "document" ? "view" : "view";
  }
  kind.addEventListener("change", fillObjects);

  const err = (id) => h("p", { class: "field-error", id: `${id}-error` });
  const form = h(
    "form",
    { class: "card", "aria-label": "What to check" },
    formAlert(),
    h(
      "div",
      { class: "cols" },
      h("div", { class: "field" }, h("label", { for: ids.kind }, "Object type"), kind),
      h("div", { class: "field" }, h("label", { for: ids.object }, "Object"), object, err(ids.object)),
      h("div", { class: "field" }, h("label", { for: ids.manual }, "Or its id"), manual, err(ids.manual)),
      h("div", { class: "field" }, h("label", { for: ids.action }, "Action"), action, err(ids.action)),
    ),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Check access")),
  );
  onSubmit(form, async () => {
    const id = manual.value.trim() || object.value;
    if (!id) throw { field: "object", message: "Choose an object or paste its id." };
    mount(result, loading("Walking the chain…"));
    try {
      const d = await get(`/api/admin/links/${link.id}/diagnostics`, { object: `${kind.value}:${id}`, action: action.value });
      mount(result, chainView(d));
      result.querySelector("h2").focus();
    } catch (e) {
      mount(result);
      if (e.field === "object") e.field = manual.value.trim() ? "object_id" : "object";
      throw e;
    }
  });

  // The whole link: every company of the link, its chain down to the effective policy, and the
  // verdict for one permission when chosen.
  const wholeId = uid("whole");
  const wholeAction = h("select", { id: wholeId, name: "action" }, h("option", { value: "" }, "Every permission"), ACTIONS.filter(([v]) => !["view", "create_request", "act_on_document"].includes(v)).map(([v, t]) => h("option", { value: v }, t)));
  const wholeResult = h("div");
  const whole = h(
    "form",
    { class: "card", "aria-label": "Check the whole link" },
    formAlert(),
    h("h2", {}, "The whole link"),
    h("p", { class: "muted" }, "Every company of the link, down to its effective policy: where each permission is granted or denied, and by which level."),
    h("div", { class: "field" }, h("label", { for: wholeId }, "Permission"), wholeAction),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Check the whole link")),
  );
  onSubmit(whole, async () => {
    mount(wholeResult, loading("Walking every company…"));
    const d = await get(`/api/admin/links/${link.id}/diagnostics`, { action: wholeAction.value || undefined });
    const names = new Map((link.companies || []).map((c) => [c.id, c.name]));
    mount(wholeResult, (d.companies || []).map((c, i) => chainView({ ...c, chain: c.chain || [] }, names.get(c.company_id) || c.company_name || c.company_id, `dg-whole-${i}`)));
    const first = wholeResult.querySelector("h2");
    if (first) first.focus();
  });

  mount(
    el,
    h("h1", {}, "Diagnostics"),
    linkBar(link),
    h("p", { class: "muted" }, "Walk the chain user — contact — companies — effective policy — object visibility. Almost every access problem is explained by one step in it."),
    form,
    result,
    whole,
    wholeResult,
  );
  await fillObjects();
}


