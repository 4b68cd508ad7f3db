// Requests: the list with status, creating one in an allowed pipeline with its declared fields, and
// the detail with its chat.
import { ApiError, get, post } from "../lib/api.js";
import { badge, empty, failure, h, load, loading, mount, time, toast } from "../lib/dom.js";
import { field, formAlert, onSubmit, showError } from "../lib/forms.js";
import { callButton } from "./calls.js";
import { attachmentsSection } from "../lib/attachments.js";
import { chatThread } from "../lib/thread.js";

export async function renderRequests(ctx, el, param) {
  if (param === "new") return createView(ctx, el);
  if (param) return detailView(ctx, el, param);
  return listView(ctx, el);
}

function statusBadge(r) {
  return badge(r.status_name || r.status, r.is_open ? "info" : "ok");
}

async function pipelines(ctx) {
  const res = await get("/api/pipelines", { company: ctx.company.id });
  return res.items || [];
}

async function listView(ctx, el) {
  const p = ctx.policy;
  const canCreate = p.create_requests;
  const pipelineFilter = h("select", { id: "rq-pipeline" }, h("option", { value: "" }, "All pipelines"));
  const openFilter = h("select", { id: "rq-open" }, h("option", { value: "" }, "Open and closed"), h("option", { value: "true" }, "Open only"), h("option", { value: "false" }, "Closed only"));
  const list = h("div");
  const more = h("div", { class: "actions" });
  mount(
    el,
    h(
      "div",
      { class: "section-head" },
      h("h1", {}, `Requests · ${ctx.company.name}`),
      canCreate ? h("a", { class: "button primary", href: "#requests/new" }, "New request") : null,
    ),
    h(
      "div",
      { class: "row card", role: "search", "aria-label": "Filter requests" },
      h("div", { class: "grow" }, h("label", { for: "rq-pipeline", class: "label" }, "Pipeline"), pipelineFilter),
      h("div", { class: "grow" }, h("label", { for: "rq-open", class: "label" }, "Status"), openFilter),
    ),
    list,
    more,
  );
  pipelines(ctx)
    .then((items) => pipelineFilter.append(...items.map((pl) => h("option", { value: pl.id }, pl.name))))
    .catch(() => {});

  let cursor = null;
  async function page(reset) {
    if (reset) {
      cursor = null;
      mount(list, loading("Loading requests…"));
    }
    mount(more);
    try {
      const res = await get("/api/requests", { company: ctx.company.id, pipeline: pipelineFilter.value, open: openFilter.value, cursor, limit: 25 });
      if (reset) mount(list, res.items.length ? h("ul", { class: "list", "aria-label": "Requests" }) : empty(canCreate ? "No requests yet. Create one with “New request”." : "No requests to show."));
      const ul = list.querySelector("ul");
      for (const r of res.items) {
        ul.append(
          h(
            "li",
            {},
            h("div", { class: "item-head" }, h("a", { class: "title", href: `#requests/${r.id}` }, r.title), statusBadge(r)),
            h("div", { class: "small muted" }, `${r.pipeline_name} · created `, time(r.created_at), " · updated ", time(r.updated_at)),
          ),
        );
      }
      cursor = res.next_cursor;
      if (cursor) mount(more, h("button", { type: "button", onclick: () => page(false) }, "Show more requests"));
    } catch (err) {
      if (err.status !== 401) mount(list, failure(err, () => page(true)));
    }
  }
  pipelineFilter.addEventListener("change", () => page(true));
  openFilter.addEventListener("change", () => page(true));
  await page(true);
}

/** A control for one declared request field, named `fields.<key>` so API errors land next to it. */
function declaredField(f) {
  const name = `fields.${f.key}`;
  if (f.type === "choice") {
    return field({ label: f.label, name, kind: "select", required: f.required, options: [{ value: "", label: "Choose…" }, ...(f.choices || []).map((c) => ({ value: c, label: c }))] });
  }
  const kind = f.type === "number" ? "number" : f.type === "date" ? "date" : "text";
  return field({ label: f.label, name, kind, required: f.required, step: f.type === "number" ? "any" : undefined });
}

async function createView(ctx, el) {
  mount(el, h("h1", {}, "New request"), loading("Loading pipelines…"));
  let items;
  try {
    items = (await pipelines(ctx)).filter((pl) => pl.can_create !== false);
  } catch (err) {
    if (err.status !== 401) mount(el, h("h1", {}, "New request"), failure(err, () => createView(ctx, el)));
    return;
  }
  if (!ctx.policy.create_requests || items.length === 0) {
    mount(el, h("h1", {}, "New request"), empty("Creating requests is not enabled for your account at this company."), h("p", {}, h("a", { href: "#requests" }, "Back to requests")));
    return;
  }
  const pipelineField = field({ label: "Pipeline", name: "pipeline_id", kind: "select", required: true, options: items.map((pl) => ({ value: pl.id, label: pl.name })), hint: "The direction your request belongs to." });
  const fieldsBox = h("div");
  const showFields = () => {
    const pl = items.find((x) => x.id === pipelineField.control.value);
    mount(fieldsBox, (pl && pl.fields ? pl.fields : []).map(declaredField));
  };
  pipelineField.control.addEventListener("change", showFields);
  showFields();
  const form = h(
    "form",
    { "aria-labelledby": "new-request-title" },
    formAlert(),
    pipelineField,
    field({ label: "Title", name: "title", required: true, hint: "A short summary, e.g. “Printer on the 2nd floor is offline”." }),
    field({ label: "Description", name: "description", kind: "textarea", rows: 5, required: true }),
    fieldsBox,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Create request"), h("a", { class: "button", href: "#requests" }, "Cancel")),
  );
  onSubmit(form, async (data) => {
    const pl = items.find((x) => x.id === data.get("pipeline_id"));
    const fields = {};
    for (const f of (pl && pl.fields) || []) {
      const raw = String(data.get(`fields.${f.key}`) ?? "").trim();
      if (raw === "") continue;
      if (f.type === "number") {
        const n = Number(raw);
        if (Number.isNaN(n)) return showError(form, { field: `fields.${f.key}`, message: `${f.label} must be a number.` });
        fields[f.key] = n;
      } else fields[f.key] = raw;
    }
    const created = await post("/api/requests", {
      company_id: ctx.company.id,
      pipeline_id: data.get("pipeline_id"),
      title: String(data.get("title")).trim(),
      description: String(data.get("description")).trim(),
      fields,
    });
    toast(`Request “${created.title}” created.`);
    ctx.go(`requests/${created.id}`);
  });
  mount(el, h("h1", { id: "new-request-title" }, `New request · ${ctx.company.name}`), h("div", { class: "card" }, form));
}

async function detailView(ctx, el, id) {
  await load(el, async () => {
    let r;
    try {
      r = await get(`/api/requests/${encodeURIComponent(id)}`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        return [h("h1", {}, "Request not found"), empty("This request does not exist or is not visible to you."), h("p", {}, h("a", { href: "#requests" }, "Back to requests"))];
      }
      throw err;
    }
    const company = (ctx.me.companies || []).find((c) => c.id === r.company_id);
    const p = company ? company.effective_policy : ctx.policy;
    let labels = {};
    try {
      const pls = (await get("/api/pipelines", { company: r.company_id })).items || [];
      const pl = pls.find((x) => x.id === r.pipeline_id);
      if (pl) labels = Object.fromEntries((pl.fields || []).map((f) => [f.key, f.label]));
    } catch {
      // Labels are a nicety: the keys are shown instead.
    }
    const facts = h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Status"), h("dd", {}, statusBadge(r)),
      h("dt", {}, "Pipeline"), h("dd", {}, r.pipeline_name),
      h("dt", {}, "Company"), h("dd", {}, r.company_name),
      h("dt", {}, "Created"), h("dd", {}, time(r.created_at)),
      h("dt", {}, "Updated"), h("dd", {}, time(r.updated_at)),
      Object.entries(r.fields || {}).map(([k, v]) => [h("dt", {}, labels[k] || k), h("dd", {}, String(v))]),
    );
    const chat = p.read_request_chat
      ? h(
          "section",
          { class: "card", "aria-labelledby": "rq-chat-title" },
          h("h2", { id: "rq-chat-title" }, "Conversation"),
          chatThread({
            me: ctx.me,
            label: `Conversation on ${r.title}`,
            load: (cursor) => get(`/api/requests/${r.id}/messages`, { order: "newest", limit: 50, cursor }),
            newestFirst: true,
            send: p.send_request_chat ? (body) => post(`/api/requests/${r.id}/messages`, { body }) : null,
          }),
        )
      : null;
    return [
      h("p", { class: "small" }, h("a", { href: "#requests" }, "← All requests")),
      h("div", { class: "section-head" }, h("h1", {}, r.title), p.calls ? callButton(ctx, r.company_id, r.id) : null),
      h("div", { class: "card" }, facts, h("h2", {}, "Description"), h("p", { class: "prewrap" }, r.description)),
      attachmentsSection(r, Boolean(p.create_requests || p.send_request_chat)),
      chat,
    ];
  });
}

