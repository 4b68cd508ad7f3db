// Permissions for the selected link: per company, the company policy (the perimeter), the contact
// policy (can only narrow it) and the effective policy side by side, with the reason for every
// denial; editing both policies; the recommended minimum as an explicit action; and the "test
// profile" check of what the client sees right now.
import { get, put } from "../lib/api.js";
import { badge, confirmDialog, empty, failure, h, loading, mount, toast, uid } from "../lib/dom.js";
import { checkbox, formAlert, onSubmit } from "../lib/forms.js";
import { wholeDenialSentence } from "../lib/policy.js";
import { LEVELS, PERMISSIONS, linkBar, linkPicker } from "./shared.js";

function names(ids, pipelines) {
  if (!ids || !ids.length) return "none";
  return ids.map((id) => (pipelines.find((p) => p.id === id) || { name: id.slice(0, 8) }).name).join(", ");
}

function yesNo(v) {
  return v ? h("span", { class: "yes" }, "✓ Allowed") : h("span", { class: "no" }, "✗ Denied");
}

function contactCell(v) {
  if (v === "allow") return h("span", { class: "yes" }, "Allow");
  if (v === "deny") return h("span", { class: "no" }, "Deny");
  return h("span", { class: "muted" }, "Inherit");
}

function effectiveCell(eff, key, allowed) {
  if (allowed) return yesNo(true);
  // Denied as a whole: the card says so in a sentence above the table; each cell names the level.
  const d = eff.denied_as_a_whole && typeof eff.denied_as_a_whole === "object" ? eff.denied_as_a_whole : (eff.denials || []).find((x) => x.field === key);
  const reason = d ? `${LEVELS[d.level] || d.level}: ${d.reason}` : null;
  return [yesNo(false), reason ? h("span", { class: "reason" }, reason) : null];
}

function sideBySide(c, pipelines) {
  const eff = c.effective;
  const rows = PERMISSIONS.map((p) =>
    h(
      "tr",
      {},
      h("th", { scope: "row" }, p.label, h("span", { class: "hint" }, p.hint)),
      h("td", { "data-label": "Company" }, yesNo(c.company_policy[p.key])),
      h("td", { "data-label": "Contact" }, contactCell(c.contact_policy[p.key])),
      h("td", { "data-label": "Effective" }, effectiveCell(eff, p.key, eff[p.key] && !eff.denied_as_a_whole)),
    ),
  );
  const pipeDenial = (eff.denials || []).find((x) => x.field === "allowed_pipelines");
  rows.push(
    h(
      "tr",
      {},
      h("th", { scope: "row" }, "Allowed pipelines", h("span", { class: "hint" }, "Where the client sees and creates requests")),
      h("td", { "data-label": "Company" }, names(c.company_policy.allowed_pipelines, pipelines)),
      h("td", { "data-label": "Contact" }, c.contact_policy.allowed_pipelines === null ? h("span", { class: "muted" }, "Inherit") : names(c.contact_policy.allowed_pipelines, pipelines)),
      h(
        "td",
        { "data-label": "Effective" },
        eff.denied_as_a_whole ? yesNo(false) : names(eff.allowed_pipelines, pipelines),
        pipeDenial ? h("span", { class: "reason" }, `${LEVELS[pipeDenial.level] || pipeDenial.level}: ${pipeDenial.reason}`) : null,
      ),
    ),
  );
  return h(
    "div",
    { class: "table-wrap", role: "region", tabindex: "0", "aria-label": `Policies at ${c.company_name}` },
    h(
      "table",
      { class: "policy-table" },
      h("caption", { class: "visually-hidden" }, `Policies at ${c.company_name}: company, contact and effective`),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Permission"), h("th", { scope: "col" }, "Company policy"), h("th", { scope: "col" }, "Contact policy"), h("th", { scope: "col" }, "Effective policy"))),
      h("tbody", {}, rows),
    ),
  );
}

function pipelineChecks(name, selected, pipelines) {
  return pipelines
    .filter((p) => !p.archived)
    .map((p) => checkbox({ label: p.name, name, value: p.id, checked: (selected || []).includes(p.id) }));
}

function warningsOf(res) {
  const ws = (res && res.warnings) || [];
  return ws.length ? h("div", { class: "alert warn", role: "status" }, h("p", {}, "Saved, with warnings:"), h("ul", {}, ws.map((w) => h("li", {}, w.message)))) : null;
}

function companyForm(c, pipelines, after) {
  const form = h(
    "form",
    { "aria-label": `Company policy of ${c.company_name}` },
    h("h3", {}, `Company policy · ${c.company_name}`),
    h("p", { class: "small muted" }, `The perimeter for every client of ${c.company_name}.`),
    formAlert(),
    PERMISSIONS.map((p) => checkbox({ label: p.label, name: p.key, checked: c.company_policy[p.key] })),
    h("fieldset", {}, h("legend", {}, "Allowed pipelines"), pipelineChecks("allowed_pipelines", c.company_policy.allowed_pipelines, pipelines)),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Save company policy")),
  );
  onSubmit(form, async (data) => {
    const body = { allowed_pipelines: data.getAll("allowed_pipelines") };
    for (const p of PERMISSIONS) body[p.key] = data.get(p.key) === "on";
    const res = await put(`/api/admin/companies/${c.company_id}/policy`, body);
    toast(`Company policy of ${c.company_name} saved.`);
    after(warningsOf(res));
  });
  return form;
}

function contactForm(c, contactId, pipelines, after) {
  const inherit = c.contact_policy.allowed_pipelines === null;
  const inheritBox = checkbox({ label: "Inherit the company's pipelines", name: "inherit_pipelines", checked: inherit });
  const list = h("div", { hidden: inherit }, pipelineChecks("allowed_pipelines", c.contact_policy.allowed_pipelines, pipelines));
  inheritBox.control.addEventListener("change", () => (list.hidden = inheritBox.control.checked));
  const form = h(
    "form",
    { "aria-label": "Contact policy" },
    h("h3", {}, "Contact policy"),
    h("p", { class: "small muted" }, "Narrows the company policy for this person; an allow never widens a company deny."),
    formAlert(),
    h(
      "div",
      { class: "cols" },
      PERMISSIONS.map((p) => {
        const id = uid(p.key);
        return h(
          "div",
          { class: "field" },
          h("label", { for: id }, p.label),
          h("select", { id, name: p.key, "aria-describedby": `${id}-error` }, ["inherit", "allow", "deny"].map((v) => h("option", { value: v, selected: c.contact_policy[p.key] === v }, v[0].toUpperCase() + v.slice(1)))),
          h("p", { class: "field-error", id: `${id}-error` }),
        );
      }),
    ),
    h("fieldset", {}, h("legend", {}, "Allowed pipelines"), inheritBox, list),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Save contact policy")),
  );
  onSubmit(form, async (data) => {
    const body = { allowed_pipelines: data.get("inherit_pipelines") === "on" ? null : data.getAll("allowed_pipelines") };
    for (const p of PERMISSIONS) body[p.key] = data.get(p.key);
    const res = await put(`/api/admin/contacts/${contactId}/policy`, body);
    toast("Contact policy saved.");
    after(warningsOf(res));
  });
  return form;
}

/** The recommended minimum: request creation, request chat reading and sending, one pipeline. */
async function applyMinimum(c, pipelines, after) {
  let preset = null;
  try {
    preset = (await get(`/api/admin/companies/${c.company_id}/policy`)).recommended_minimum;
  } catch {
    // Built below from the pipelines at hand.
  }
  const active = pipelines.filter((p) => !p.archived);
  const first = (preset && preset.allowed_pipelines && preset.allowed_pipelines[0]) || (c.company_policy.allowed_pipelines || [])[0] || (active[0] && active[0].id);
  const id = uid("pl");
  const select = h("select", { id }, active.map((p) => h("option", { value: p.id, selected: p.id === first }, p.name)));
  if (!active.length) {
    toast("There is no pipeline yet: the CRM has to push one first.");
    return;
  }
  const ok = await confirmDialog({
    title: `Apply the recommended minimum to ${c.company_name}?`,
    body: h(
      "div",
      {},
      h("p", {}, "Request creation, request chat reading and sending, and one working pipeline; everything else denied. It applies to every client of this company. Expand access later, as the need appears."),
      h("div", { class: "field" }, h("label", { for: id }, "Working pipeline"), select),
    ),
    confirm: "Apply recommended minimum",
  });
  if (!ok) return;
  try {
    const res = await put(`/api/admin/companies/${c.company_id}/policy`, {
      create_requests: true, read_request_chat: true, send_request_chat: true,
      general_chat: false, calls: false, telegram: false, widget: false,
      allowed_pipelines: [select.value],
    });
    toast(`Recommended minimum applied to ${c.company_name}.`);
    after(warningsOf(res));
  } catch (err) {
    if (err.status !== 401) after(h("div", { class: "alert error", role: "alert" }, h("p", {}, err.message)));
  }
}

function visibleView(v, pipelines) {
  return v.companies.map((c) =>
    h(
      "div",
      { class: "card" },
      h("h3", {}, c.company_name, c.is_default ? " (default)" : "", " ", c.visible ? badge("visible", "ok") : badge("nothing visible", "bad")),
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, "Permitted actions"), h("dd", {}, c.permitted_actions.length ? c.permitted_actions.map((a) => (PERMISSIONS.find((p) => p.key === a) || { label: a }).label).join(", ") : "none"),
        h("dt", {}, "Pipelines"), h("dd", {}, c.pipelines.map((p) => p.name).join(", ") || "none"),
        h("dt", {}, "Requests"), h("dd", {}, c.requests.length ? c.requests.slice(0, 5).map((r) => `${r.title} (${r.status_name})`).join("; ") + (c.requests.length > 5 ? `; and ${c.requests.length - 5} more` : "") : "none"),
        h("dt", {}, "Documents"), h("dd", {}, c.documents.length ? c.documents.slice(0, 5).map((d) => d.title).join("; ") + (c.documents.length > 5 ? `; and ${c.documents.length - 5} more` : "") : "none"),
      ),
    ),
  );
}

export async function renderPermissions(ctx, el) {
  const link = ctx.link;
  if (!link) {
    mount(el, h("h1", {}, "Permissions"), linkPicker({ intro: "Choose the client link whose permissions to check.", onPick: (id) => ctx.go(`permissions/${id}`) }));
    return;
  }
  const body = h("div");
  const notice = h("div");
  const visible = h("div");
  mount(
    el,
    h("div", { class: "section-head" }, h("h1", {}, "Permissions")),
    linkBar(link),
    h("p", { class: "muted" }, "Check the effective policy, not the individual settings: it is exactly what the client gets. Changes reach the client's open sessions at their next action."),
    notice,
    body,
    h(
      "section",
      { class: "card", "aria-labelledby": "pm-visible" },
      h("h2", { id: "pm-visible" }, "What the client sees now"),
      h("p", { class: "small muted" }, "The test-profile check: the requests, documents and actions this link's client has right now."),
      h("button", {
        type: "button",
        onclick: async () => {
          mount(visible, loading("Checking…"));
          try {
            const [v, pipelines] = await Promise.all([get(`/api/admin/links/${link.id}/visible`), ctx.cached("pipelines", "/api/admin/pipelines")]);
            mount(visible, visibleView(v, pipelines));
          } catch (err) {
            if (err.status !== 401) mount(visible, failure(err));
          }
        },
      }, "Check what the client sees"),
      visible,
    ),
  );

  async function draw(message) {
    mount(body, loading("Loading policies…"));
    try {
      const [pol, pipelines] = await Promise.all([get(`/api/admin/links/${link.id}/policy`), ctx.cached("pipelines", "/api/admin/pipelines")]);
      mount(notice, message || null);
      // The default company first: it is where the client starts.
      pol.companies.sort((a, b) => Number(b.is_default_company) - Number(a.is_default_company));
      const after = (msg) => draw(msg);
      mount(
        body,
        pol.link_status !== "active" || pol.user_status !== "active" || pol.contact_state !== "active"
          ? h("div", { class: "alert warn" }, h("p", {}, `Everything is denied while the link is ${pol.link_status}, the user ${pol.user_status} and the contact ${pol.contact_state}.`))
          : null,
        pol.companies.length ? null : empty("This link has no companies."),
        pol.companies.map((c) =>
          h(
            "section",
            { class: "card", "aria-labelledby": `pm-${c.company_id}` },
            h("div", { class: "section-head" }, h("h2", { id: `pm-${c.company_id}` }, c.company_name, c.is_default_company ? " (default)" : ""), h("button", { type: "button", onclick: () => applyMinimum(c, pipelines, after) }, "Apply recommended minimum")),
            c.effective.denied_as_a_whole ? h("div", { class: "alert error" }, h("p", {}, wholeDenialSentence(c.effective.denied_as_a_whole))) : null,
            sideBySide(c, pipelines),
            h("details", {}, h("summary", {}, "Edit the company and contact policies"), h("div", { class: "cols" }, companyForm(c, pipelines, after), contactForm(c, link.contact.id, pipelines, after))),
          ),
        ),
      );
    } catch (err) {
      if (err.status !== 401) mount(body, failure(err, () => draw()));
    }
  }
  await draw();
}
