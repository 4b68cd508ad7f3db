// Documents published for the client: download, and the action the team asked for (review,
// approve or reject, sign). Signing asks for the typed name and the current password (and the
// authenticator code when enrolled), in the same request.
import { download, get, post } from "../lib/api.js";
import { badge, bytes, empty, fullName, h, load, mount, time, toast, uid } from "../lib/dom.js";
import { field, formAlert, onSubmit } from "../lib/forms.js";

const REQUIRED = { review: "Review requested", approve: "Approval requested", sign: "Signature requested" };
const DONE = { reviewed: "Reviewed", approved: "Approved", rejected: "Rejected", signed: "Signed" };
const ACTION_LABEL = { reviewed: "Mark as reviewed", approved: "Approve", rejected: "Reject", signed: "Sign" };

function fileName(d) {
  const ext = { "application/pdf": ".pdf", "text/plain": ".txt", "image/png": ".png", "image/jpeg": ".jpg" }[d.content_type] || "";
  return d.title.toLowerCase().endsWith(ext) ? d.title : d.title + ext;
}

function statusLine(d) {
  if (d.completed_action) {
    return h("p", { class: "small" }, badge(DONE[d.completed_action] || d.completed_action, d.completed_action === "rejected" ? "bad" : "ok"), " by ", d.completed_by_name || "a client", " · ", time(d.completed_at));
  }
  if (d.required_action && d.required_action !== "none") return h("p", { class: "small" }, badge(REQUIRED[d.required_action] || d.required_action, "warn"));
  return null;
}

function actionForm(ctx, d, action, onDone) {
  const fields = [];
  let intro;
  if (action === "signed") {
    intro = h("p", {}, "Signing records your typed name, the time and a fingerprint of this exact file (SHA-256 ", h("code", {}, d.sha256.slice(0, 16) + "…"), "). Confirm with your password.");
    fields.push(field({ label: "Your full name", name: "signature_name", required: true, autocomplete: "name", hint: `Type it as your signature, e.g. “${fullName(ctx.me.user)}”.` }));
    fields.push(field({ label: "Your password", name: "password", kind: "password", required: true, autocomplete: "current-password" }));
    if (ctx.me.user.mfa_enrolled) fields.push(field({ label: "Authenticator code", name: "totp", required: true, autocomplete: "one-time-code", inputmode: "numeric" }));
  } else {
    intro = h("p", {}, action === "rejected" ? "Tell the team what is wrong so they can fix it." : `Confirm that you ${action === "approved" ? "approve" : "have reviewed"} “${d.title}”.`);
    fields.push(field({ label: action === "rejected" ? "Reason" : "Comment (optional)", name: "comment", kind: "textarea", rows: 3, required: action === "rejected" }));
  }
  const form = h(
    "form",
    { class: "card", "aria-label": `${ACTION_LABEL[action]}: ${d.title}` },
    h("h3", { tabindex: "-1" }, `${ACTION_LABEL[action]} “${d.title}”`),
    intro,
    formAlert(),
    fields,
    h("div", { class: "actions" }, h("button", { type: "submit", class: action === "rejected" ? "danger" : "primary" }, ACTION_LABEL[action]), h("button", { type: "button", onclick: () => onDone(null) }, "Cancel")),
  );
  onSubmit(form, async (data) => {
    const body = { action };
    for (const k of ["comment", "signature_name", "password", "totp"]) {
      const v = data.get(k);
      if (v !== null && String(v).trim() !== "") body[k] = k === "password" ? String(v) : String(v).trim();
    }
    const res = await post(`/api/documents/${d.id}/actions`, body);
    toast(`${DONE[action]}: “${d.title}”.`);
    onDone(res.document || null);
  });
  return form;
}

function documentItem(ctx, d) {
  const li = h("li");
  const render = (doc, focusActions) => {
    const panel = h("div");
    const buttons = (doc.expected_actions || []).map((a) =>
      h("button", {
        type: "button",
        class: a === "signed" || a === "approved" ? "primary" : a === "rejected" ? "danger" : "",
        onclick: () => {
          mount(panel, actionForm(ctx, doc, a, (updated) => {
            if (updated) render(updated, true);
            else {
              mount(panel);
              li.querySelector("button").focus();
            }
          }));
          panel.querySelector("h3").focus();
        },
      }, ACTION_LABEL[a] || a),
    );
    const dl = h("button", {
      type: "button",
      onclick: async (ev) => {
        ev.currentTarget.disabled = true;
        try {
          await download(doc.file_url || `/api/documents/${doc.id}/file`, fileName(doc));
        } catch (err) {
          if (err.status !== 401) toast(err.message);
        } finally {
          ev.target.closest("button").disabled = false;
        }
      },
    }, "Download", h("span", { class: "visually-hidden" }, ` ${doc.title}`));
    const titleId = uid("doc");
    mount(
      li,
      h("div", { class: "item-head" }, h("span", { class: "title", id: titleId }, doc.title), h("span", { class: "small muted" }, `${doc.content_type} · ${bytes(doc.size)}`)),
      h("div", { class: "small muted" }, "Published ", time(doc.published_at)),
      statusLine(doc),
      h("div", { class: "actions", role: "group", "aria-labelledby": titleId }, dl, buttons),
      panel,
    );
    if (focusActions) li.querySelector("button").focus();
  };
  render(d, false);
  return li;
}

export async function renderDocuments(ctx, el) {
  const list = h("div");
  mount(
    el,
    h("div", { class: "section-head" }, h("h1", {}, `Documents · ${ctx.company.name}`)),
    h("p", { class: "muted" }, "Documents the team published for you. When one needs your review, approval or signature, its button is here."),
    list,
  );
  await load(list, async () => {
    const res = await get("/api/documents", { company: ctx.company.id, limit: 100 });
    if (!res.items.length) return empty("No documents yet.");
    const pending = res.items.filter((d) => (d.expected_actions || []).length).length;
    return [
      pending ? h("div", { class: "alert warn", role: "status" }, h("p", {}, `${pending} document${pending > 1 ? "s" : ""} waiting for your action.`)) : null,
      h("ul", { class: "list", "aria-label": "Documents" }, res.items.map((d) => documentItem(ctx, d))),
    ];
  });
}
