// Offboarding: end a collaboration in one step (disable or revoke the link, revoke its invitations,
// channel links and sessions) and get the report, with the open requests to close or hand over.
import { post } from "../lib/api.js";
import { confirmDialog, fullName, h, mount, statusBadge, uid } from "../lib/dom.js";
import { formAlert, onSubmit } from "../lib/forms.js";
import { linkBar, linkPicker } from "./shared.js";

function report(r) {
  return h(
    "section",
    { class: "card", "aria-labelledby": "ob-report" },
    h("h2", { id: "ob-report", tabindex: "-1" }, "Offboarding report"),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Link status"), h("dd", {}, statusBadge(r.link_status)),
      h("dt", {}, "Invitations revoked"), h("dd", {}, String(r.invitations_revoked)),
      h("dt", {}, "Channel links revoked"), h("dd", {}, String(r.channel_links_revoked)),
      h("dt", {}, "Sessions ended"), h("dd", {}, String(r.sessions_revoked)),
    ),
    h("h3", {}, `Open requests (${r.open_requests.length})`),
    r.open_requests.length
      ? [
          h("p", {}, "Check that these are closed or handed over:"),
          h("ul", {}, r.open_requests.map((q) => h("li", {}, `${q.title} · ${q.status_name || q.status}`))),
        ]
      : h("p", { class: "muted" }, "No open requests."),
  );
}

let lastReport = null; // { linkId, report }: shown again after the view refreshes

export async function renderOffboarding(ctx, el) {
  const link = ctx.link;
  if (!link) {
    mount(el, h("h1", {}, "Offboarding"), linkPicker({ intro: "Choose the client link whose collaboration ends.", onPick: (id) => ctx.go(`offboarding/${id}`) }));
    return;
  }
  const out = h("div");
  const name = uid("mode");
  const radio = (value, label, hint, checked) => {
    const id = uid("m");
    return h("div", { class: "check" }, h("input", { type: "radio", id, name: "mode", value, checked }), h("label", { for: id }, h("strong", {}, label), h("span", { class: "hint" }, hint)));
  };
  const form = h(
    "form",
    { class: "card", "aria-label": "Offboard this link" },
    formAlert(),
    h("fieldset", { id: name }, h("legend", {}, "How to end access"),
      radio("disable", "Disable", "A pause: the link stays and can be enabled again.", true),
      radio("revoke", "Revoke", "Final: the link cannot be reactivated; a returning client gets a new link.", false),
    ),
    h("p", {}, "Both also revoke the link's pending invitations, its Telegram and widget links and its open sessions."),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "danger", disabled: link.status === "revoked" }, "Offboard")),
  );
  onSubmit(form, async (data) => {
    const mode = String(data.get("mode"));
    const ok = await confirmDialog({
      title: `${mode === "revoke" ? "Revoke" : "Disable"} ${fullName(link.user)}'s access?`,
      body: `${fullName(link.user)} loses access at once${mode === "revoke" ? ", for good" : ""}. Invitations, channel links and sessions are revoked.`,
      confirm: mode === "revoke" ? "Revoke and offboard" : "Disable and offboard",
      danger: true,
    });
    if (!ok) return;
    const r = await post(`/api/admin/links/${link.id}/offboard`, { mode });
    lastReport = { linkId: link.id, report: r };
    // The link changed: redraw with its new status, then the report.
    await ctx.selectLink(link.id).catch(() => null);
    await renderOffboarding(ctx, el);
    el.querySelector("#ob-report").focus();
  });
  if (lastReport && lastReport.linkId === link.id) out.append(report(lastReport.report));
  mount(
    el,
    h("h1", {}, "Offboarding"),
    linkBar(link),
    h("p", { class: "muted" }, "Ending the collaboration: disable or revoke the link, revoke active invitations, revoke the Telegram and widget links, and check that unfinished requests are closed or handed over."),
    link.status === "revoked" ? h("div", { class: "alert info" }, h("p", {}, "This link is already revoked.")) : null,
    form,
    out,
  );
}
