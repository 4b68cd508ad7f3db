// The team's requests: an inbox of the requests of the companies in the employee's scope (the API
// decides the scope: a manager sees only their companies), newest activity first, filtered by company,
// pipeline, stage, open or closed and who wrote last ("waiting for the team"); and a request page with its fields, the stage change, the chat, the files and a
// call to start.
import { ApiError, get, patch, post } from "../lib/api.js";
import { attachmentsSection } from "../lib/attachments.js";
import { badge, empty, failure, fullName, h, load, loading, mount, time, toast, uid } from "../lib/dom.js";
import { field, formAlert, onSubmit } from "../lib/forms.js";
import { chatThread } from "../lib/thread.js";

const filters = { company: "", pipeline: "", status: "", open: "true", waiting: "" };

function stageBadge(r) {
  return badge(r.status_name || r.status, r.is_open ? "info" : "");
}

function select(label, name, options, value) {
  const id = uid("rq");
  const control = h("select", { id, name }, options.map(([v, text]) => h("option", { value: v, selected: v === value }, text)));
  return { el: h("div", { class: "field" }, h("label", { for: id }, label), control), control };
}

export async function renderRequests(ctx, el, id) {
  if (id) return detailView(ctx, el, id);
  return inboxView(ctx, el);
}

async function inboxView(ctx, el) {
  const [companies, pipelines] = await Promise.all([ctx.cached("companies", "/api/admin/companies"), ctx.cached("pipelines", "/api/admin/pipelines")]);
  const company = select("Company", "company", [["", "All companies"], ...companies.map((c) => [c.id, c.name])], filters.company);
  const pipeline = select("Pipeline", "pipeline", [["", "All pipelines"], ...pipelines.map((p) => [p.id, p.name])], filters.pipeline);
  const stageOptions = () => {
    const p = pipelines.find((x) => x.id === pipeline.control.value);
    return [["", p ? "Any stage" : "Choose a pipeline first"], ...((p && p.stages) || []).map((s) => [s.id, s.name])];
  };
  const stage = select("Stage", "status", stageOptions(), filters.status);
  const state = select("State", "open", [["true", "Open"], ["false", "Closed"], ["", "Open and closed"]], filters.open);
  const waiting = select("Who wrote last", "waiting", [["", "Anyone"], ["true", "The client: waiting for the team"], ["false", "The team"]], filters.waiting);
  const results = h("div", { "aria-live": "polite" });
  const list = h("ul", { class: "list", "aria-label": "Requests" });

  async function search(cursor) {
    Object.assign(filters, { company: company.control.value, pipeline: pipeline.control.value, status: stage.control.value, open: state.control.value, waiting: waiting.control.value });
    if (!cursor) mount(results, loading("Loading requests…"));
    try {
      const page = await get("/api/admin/requests", { ...filters, cursor, limit: 50 });
      if (!cursor) mount(list);
      list.append(...page.items.map(row));
      const more = page.next_cursor
        ? h("button", { type: "button", onclick: (ev) => { ev.currentTarget.remove(); search(page.next_cursor); } }, "Show older requests")
        : null;
      if (!list.childElementCount) return mount(results, empty("No request matches these filters."));
      mount(results, list, more);
    } catch (err) {
      if (err.status !== 401) mount(results, failure(err, () => search(cursor)));
    }
  }

  function row(r) {
    return h(
      "li",
      {},
      h("div", { class: "item-head" }, h("a", { class: "title", href: `#requests/${r.id}` }, r.title), h("span", {}, r.waiting_for_team ? [badge("waiting for the team", "warn"), " "] : null, stageBadge(r))),
      h("div", { class: "small muted" }, `${r.company_name} · ${r.pipeline_name} · `, r.created_by_name ? `by ${r.created_by_name} · ` : "", "last activity ", time(r.activity_at || r.created_at),
        r.waiting_for_team && r.waiting_since ? [" · waiting since ", time(r.waiting_since)] : null),
    );
  }

  pipeline.control.addEventListener("change", () => {
    mount(stage.control, stageOptions().map(([v, text]) => h("option", { value: v }, text)));
    search();
  });
  for (const s of [company, stage, state, waiting]) s.control.addEventListener("change", () => search());
  mount(
    el,
    h("h1", {}, "Requests"),
    h("p", { class: "muted" }, "Requests of the companies you govern, newest activity first. “Waiting for the team” means the client wrote last (or opened the request) and nobody has answered yet."),
    h("form", { class: "card filters", role: "search", "aria-label": "Filter requests", onsubmit: (ev) => ev.preventDefault() }, h("div", { class: "cols" }, company.el, pipeline.el, stage.el, state.el, waiting.el)),
    results,
  );
  await search();
}

async function detailView(ctx, el, id) {
  await load(el, async () => {
    let r;
    try {
      r = await get(`/api/admin/requests/${encodeURIComponent(id)}`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        return [h("h1", {}, "Request not found"), empty("This request does not exist or belongs to a company you do not govern."), h("p", {}, h("a", { href: "#requests" }, "Back to requests"))];
      }
      throw err;
    }
    const pipelines = await ctx.cached("pipelines", "/api/admin/pipelines").catch(() => []);
    const pipeline = pipelines.find((p) => p.id === r.pipeline_id);
    const labels = Object.fromEntries(((pipeline && pipeline.fields) || []).map((f) => [f.key, f.label]));
    const status = h("dd", {}, stageBadge(r));
    const facts = h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Stage"), status,
      h("dt", {}, "Company"), h("dd", {}, r.company_name),
      h("dt", {}, "Pipeline"), h("dd", {}, r.pipeline_name),
      h("dt", {}, "Created by"), h("dd", {}, r.created_by_name || r.created_by_kind || "—"),
      h("dt", {}, "Created"), h("dd", {}, time(r.created_at)),
      h("dt", {}, "Updated"), h("dd", {}, time(r.updated_at)),
      Object.entries(r.fields || {}).map(([k, v]) => [h("dt", {}, labels[k] || k), h("dd", {}, String(v))]),
    );
    return [
      h("p", { class: "small" }, h("a", { href: "#requests" }, "← All requests")),
      h("div", { class: "section-head" }, h("h1", {}, r.title), callButton(r)),
      h("div", { class: "card" }, facts, h("h2", {}, "Description"), h("p", { class: "prewrap" }, r.description || "—")),
      stageCard(r, status),
      h(
        "section",
        { class: "card", "aria-labelledby": "trq-chat-title" },
        h("h2", { id: "trq-chat-title" }, "Conversation with the client"),
        chatThread({
          me: ctx.me,
          label: `Conversation on ${r.title}`,
          load: (cursor) => get(`/api/admin/requests/${r.id}/messages`, { order: "newest", limit: 50, cursor }),
          newestFirst: true,
          send: (body) => post(`/api/admin/requests/${r.id}/messages`, { body }),
          isMine: (m, me) => m.author_kind === "employee" && m.author_name === fullName(me.user),
        }),
      ),
      attachmentsSection(r, true, {
        base: `/api/admin/requests/${encodeURIComponent(r.id)}/attachments`,
        uploaderName: (a) => a.uploaded_by_name || (a.uploaded_by_kind === "employee" ? "The team" : "The client"),
      }),
    ];
  });
}

/** Start a call on the request: the join link opens here and reaches the client's portal (Calls). */
function callButton(r) {
  const out = h("span", { "aria-live": "polite" });
  const button = h("button", {
    type: "button",
    onclick: async () => {
      button.disabled = true;
      try {
        const call = await post("/api/admin/calls", { company_id: r.company_id, request_id: r.id });
        mount(out, h("a", { class: "button primary", href: call.join_url, target: "_blank", rel: "noopener noreferrer" }, "Join the call"));
        toast("Call started: the client sees it in the portal.");
      } catch (err) {
        if (err.status !== 401) toast(err.message);
      } finally {
        button.disabled = false;
      }
    },
  }, "Start a call");
  return h("span", { class: "actions" }, button, out);
}

/** Move the request to another stage of its pipeline; the client sees the new stage at once. */
function stageCard(r, statusCell) {
  const stages = r.stages || [];
  if (!stages.length) return null;
  const choice = field({ label: "Move to stage", name: "status", kind: "select", options: stages.map((s) => ({ value: s.id, label: s.is_final ? `${s.name} (closes the request)` : s.name })), value: r.status });
  const form = h("form", { "aria-label": "Change the stage" }, formAlert(), choice, h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Change stage")));
  onSubmit(form, async (data) => {
    const next = String(data.get("status"));
    if (next === r.status) throw { field: "status", message: "The request is already at this stage." };
    const moved = await patch(`/api/admin/requests/${encodeURIComponent(r.id)}`, { status: next });
    Object.assign(r, moved);
    mount(statusCell, stageBadge(r));
    toast(`Moved to “${r.status_name}”.`);
  });
  return h("section", { class: "card", "aria-labelledby": "trq-stage-title" }, h("h2", { id: "trq-stage-title" }, "Stage"), form);
}
