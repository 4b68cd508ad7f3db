// Invitations: issue one for the selected link (the activation link is shown once, to copy and hand
// over through a trusted channel), see their status and lifetime, revoke pending ones.
import { get, post } from "../lib/api.js";
import { confirmDialog, empty, failure, fullName, h, loading, mount, secretBox, statusBadge, time, toast, uid } from "../lib/dom.js";
import { checkbox } from "../lib/forms.js";
import { linkBar, linkPicker } from "./shared.js";

function lifetime(createdAt, expiresAt) {
  const hours = Math.round((new Date(expiresAt) - new Date(createdAt)) / 3_600_000);
  return hours >= 48 && hours % 24 === 0 ? `${hours / 24} days` : `${hours} hours`;
}

export async function renderInvitations(ctx, el) {
  const link = ctx.link;
  const issued = h("div");
  const list = h("div");
  const statusId = uid("st");
  const status = h("select", { id: statusId }, ["", "pending", "used", "revoked", "expired"].map((s) => h("option", { value: s }, s ? s[0].toUpperCase() + s.slice(1) : "Any status")));

  async function refresh() {
    mount(list, loading("Loading invitations…"));
    try {
      const res = await get("/api/admin/invitations", { link: link ? link.id : "", status: status.value, limit: 50 });
      if (!res.items.length) return mount(list, empty(link ? "No invitations for this link yet." : "No invitations match."));
      mount(
        list,
        h(
          "ul",
          { class: "list", "aria-label": "Invitations" },
          res.items.map((i) =>
            h(
              "li",
              {},
              h("div", { class: "item-head" }, h("span", { class: "title" }, fullName(i.user), ` · ${i.user.login}`), statusBadge(i.status)),
              h(
                "div",
                { class: "small muted" },
                "Issued ", time(i.created_at), " · valid ", lifetime(i.created_at, i.expires_at), " until ", time(i.expires_at),
                i.used_at ? [" · used ", time(i.used_at)] : null,
                i.revoked_at ? [" · revoked ", time(i.revoked_at)] : null,
              ),
              h(
                "div",
                { class: "actions" },
                link ? null : h("a", { href: `#invitations/${i.link_id}` }, "Open the link's invitations"),
                i.status === "pending"
                  ? h("button", {
                      type: "button",
                      class: "danger",
                      onclick: async () => {
                        if (!(await confirmDialog({ title: "Revoke this invitation?", body: "Its activation link stops working at once.", confirm: "Revoke invitation", danger: true }))) return;
                        try {
                          await post(`/api/admin/invitations/${i.id}/revoke`, {});
                          toast("Invitation revoked.");
                          mount(issued);
                          refresh();
                        } catch (err) {
                          if (err.status !== 401) toast(err.message);
                        }
                      },
                    }, "Revoke", h("span", { class: "visually-hidden" }, ` the invitation of ${fullName(i.user)}`))
                  : null,
              ),
            ),
          ),
        ),
      );
    } catch (err) {
      if (err.status !== 401) mount(list, failure(err, refresh));
    }
  }
  status.addEventListener("change", refresh);

  let issueCard = null;
  if (link) {
    const ttl = h("span", {}, "the configured lifetime");
    get("/api/admin/security")
      .then((s) => ttl.replaceChildren(`${s.sessions.invitation_ttl_hours} hours`))
      .catch(() => {});
    const button = h("button", { type: "button", class: "primary", disabled: link.status !== "active" }, "Issue invitation");
    const address = link.user?.email || "";
    const byEmail = checkbox({
      label: address ? `Send by email to ${address}` : "Send by email to the user",
      name: "send_email",
      checked: true,
      hint: "Untick to hand the link over by another trusted channel only.",
    });
    const emailNote = (inv) =>
      ({
        queued: inv.activation_url
          ? h("p", {}, h("strong", {}, `Emailed to ${inv.emailed_to}.`), " You can also copy the link below once, for a trusted channel of your choice.")
          : h("p", {}, h("strong", {}, `Emailed to ${inv.emailed_to}, and only there.`), " A password-reset link goes to the user's own address: nobody else, you included, ever sees it. When it is used, the user is told by email."),
        not_requested: h("p", {}, h("strong", {}, "Not emailed, as you chose."), " Copy the activation link now: it is shown only once. Send it to the contact's confirmed email or another trusted channel. Never send a login and password in correspondence."),
        off: h("p", {}, h("strong", {}, "Not emailed: email is not set up for this portal (an admin sees why under Delivery)."), " Copy the activation link now: it is shown only once, and send it by a trusted channel."),
        no_address: h("p", {}, h("strong", {}, "Not emailed: the user has no email address."), " Copy the activation link now: it is shown only once, and send it by a trusted channel."),
      })[inv.email] ?? h("p", {}, h("strong", {}, "Copy the activation link now: it is shown only once."));
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const inv = await post(`/api/admin/links/${link.id}/invitations`, { send_email: byEmail.control.checked });
        mount(
          issued,
          h(
            "div",
            { class: "alert ok", role: "status" },
            h("h3", { tabindex: "-1" }, inv.password_reset ? "Password-reset invitation issued" : "Invitation issued"),
            emailNote(inv),
            inv.activation_url ? secretBox("Activation link", inv.activation_url) : null,
            h("p", { class: "small" }, "Valid until ", time(inv.expires_at), ". Any earlier pending invitation of this link was revoked."),
          ),
        );
        issued.querySelector("h3").focus();
        refresh();
      } catch (err) {
        if (err.status !== 401) mount(issued, h("div", { class: "alert error", role: "alert" }, h("p", {}, err.message)));
      } finally {
        button.disabled = link.status !== "active";
      }
    });
    issueCard = h(
      "section",
      { class: "card", "aria-labelledby": "inv-issue" },
      h("h2", { id: "inv-issue" }, `Invite ${fullName(link.user)}`),
      h("p", {}, "An invitation is the only correct way for a client to log in for the first time. It is valid for ", ttl, "; a new one revokes the pending ones. If the client did not activate in time, issue a new one rather than resending the old link."),
      link.status !== "active" ? h("div", { class: "alert warn" }, h("p", {}, `The link is ${link.status}: invitations can only be issued for an active link.`)) : null,
      byEmail,
      button,
      issued,
    );
  }

  mount(
    el,
    h("div", { class: "section-head" }, h("h1", {}, "Invitations")),
    linkBar(link),
    issueCard,
    link ? null : linkPicker({ intro: "Choose the client link to invite, or browse all invitations below.", onPick: (id) => ctx.go(`invitations/${id}`) }),
    h("div", { class: "section-head" }, h("h2", {}, link ? "This link's invitations" : "All invitations"), h("div", {}, h("label", { for: statusId, class: "visually-hidden" }, "Invitation status"), status)),
    list,
  );
  await refresh();
}
