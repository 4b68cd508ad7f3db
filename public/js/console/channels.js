// Channel links: the Telegram and widget connections clients made, by kind and status, with revoke
// (when the responsible person changes on the client's side, or the collaboration ends).
import { get, post } from "../lib/api.js";
import { confirmDialog, empty, failure, h, loading, mount, statusBadge, time, toast, uid } from "../lib/dom.js";

export async function renderChannelLinks(ctx, el) {
  const kindId = uid("k");
  const statusId = uid("s");
  const kind = h("select", { id: kindId }, [["", "Any kind"], ["telegram", "Telegram"], ["widget", "Widget"]].map(([v, t]) => h("option", { value: v }, t)));
  const status = h("select", { id: statusId }, [["", "Any status"], ["active", "Active"], ["suspended", "Suspended"], ["unreachable", "Unreachable (bot blocked)"], ["revoked", "Revoked"]].map(([v, t]) => h("option", { value: v }, t)));
  const list = h("div");
  mount(
    el,
    h("h1", {}, "Channel links"),
    h("p", { class: "muted" }, "The Telegram and widget connections clients made. Revoke them when the responsible person changes on the client's side and when the collaboration ends."),
    h(
      "form",
      { class: "card row", role: "search", "aria-label": "Filter channel links", onsubmit: (e) => e.preventDefault() },
      h("div", { class: "grow" }, h("label", { for: kindId, class: "label" }, "Kind"), kind),
      h("div", { class: "grow" }, h("label", { for: statusId, class: "label" }, "Status"), status),
    ),
    list,
  );
  async function refresh() {
    mount(list, loading("Loading channel links…"));
    try {
      const res = await get("/api/admin/channel-links", { kind: kind.value, status: status.value, limit: 100 });
      if (!res.items.length) return mount(list, empty("No channel links match."));
      mount(
        list,
        h(
          "ul",
          { class: "list", "aria-label": "Channel links" },
          res.items.map((c) =>
            h(
              "li",
              {},
              h("div", { class: "item-head" }, h("span", { class: "title" }, c.kind === "telegram" ? "Telegram" : "Widget", c.external_label ? ` · ${c.external_label}` : ""), statusBadge(c.status)),
              h("div", { class: "small" }, `${c.user_login} · ${c.company_name}`),
              h("div", { class: "small muted" }, "Since ", time(c.created_at), c.revoked_at ? [" · revoked ", time(c.revoked_at), c.revoked_reason ? ` (${c.revoked_reason})` : ""] : null,
                c.unreachable_since ? [" · the user blocked the bot on ", time(c.unreachable_since), ": notices stop until they unblock it or start it again"] : null),
              h(
                "div",
                { class: "actions" },
                h("a", { href: `#links/${c.link_id}` }, "Open the link"),
                c.status !== "revoked"
                  ? h("button", {
                      type: "button",
                      class: "danger",
                      onclick: async () => {
                        if (!(await confirmDialog({ title: `Revoke this ${c.kind} connection?`, body: `${c.user_login} at ${c.company_name}: messages through it stop reaching the team.`, confirm: "Revoke", danger: true }))) return;
                        try {
                          await post(`/api/admin/channel-links/${c.id}/revoke`, {});
                          toast("Channel link revoked.");
                          refresh();
                        } catch (err) {
                          if (err.status !== 401) toast(err.message);
                        }
                      },
                    }, "Revoke", h("span", { class: "visually-hidden" }, ` the ${c.kind} connection of ${c.user_login}`))
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
  kind.addEventListener("change", refresh);
  status.addEventListener("change", refresh);
  await refresh();
}
