// A chat thread (request chat or general chat), for the portal and the console alike: messages
// oldest first in a live log, and a send form when the caller may write.
import { empty, failure, fullName, h, loading, mount, time, toast } from "./dom.js";
import { field, formAlert, onSubmit } from "./forms.js";

const AUTHOR = { client: "", employee: "Team", telegram: "via Telegram", widget: "via widget" };

/** A client's own messages, as the portal marks them. */
const clientMine = (m, me) => m.author_kind === "client" && m.author_name === fullName(me.user);

function message(m, me, isMine) {
  const mine = isMine(m, me);
  const who = mine ? "You" : m.author_name || AUTHOR[m.author_kind] || m.author_kind;
  const tag = !mine && AUTHOR[m.author_kind] ? ` · ${AUTHOR[m.author_kind]}` : "";
  return h(
    "li",
    { class: mine ? "msg mine" : "msg" },
    h("div", { class: "meta" }, h("strong", {}, who), tag, " · ", time(m.created_at)),
    h("div", { class: "body" }, m.body),
  );
}

/**
 * `load(cursor)` resolves to a page {items, next_cursor}; `send(body)` posts one (null when sending is
 * not allowed). `label` names the thread for screen readers; `isMine(m, me)` marks the caller's own
 * messages (default: a client's). With `newestFirst`, `load` returns the latest page newest first:
 * it shows at the bottom, and "Show older messages" fetches the pages before it on demand.
 */
export function chatThread({ me, label, load, send, isMine = clientMine, newestFirst = false }) {
  // The log scrolls; it takes focus so keyboard users can scroll it too.
  const log = h("ol", { class: "thread-list" });
  const scroller = h("div", { class: "thread", role: "log", "aria-label": label, tabindex: "0" }, log);
  const status = h("div");
  const olderBox = h("div", { class: "actions" });
  const root = h("div", {}, status, olderBox, scroller);
  let older = null;
  const inOrder = (page) => (newestFirst ? [...page.items].reverse() : page.items);
  const showOlder = () => mount(olderBox, older ? h("button", { type: "button", onclick: loadOlder }, "Show older messages") : null);

  async function refresh() {
    mount(status, log.childElementCount ? null : loading("Loading messages…"));
    try {
      const page = await load();
      mount(log, inOrder(page).map((m) => message(m, me, isMine)));
      mount(status, page.items.length ? null : empty("No messages yet. Write the first one."));
      older = newestFirst ? page.next_cursor || null : null;
      showOlder();
      scroller.scrollTop = scroller.scrollHeight;
    } catch (err) {
      if (err.status !== 401) mount(status, failure(err, refresh));
    }
  }

  async function loadOlder() {
    try {
      const page = await load(older);
      // Keep what the reader was looking at in place while the older messages go in above it.
      const fromBottom = scroller.scrollHeight - scroller.scrollTop;
      log.prepend(...inOrder(page).map((m) => message(m, me, isMine)));
      scroller.scrollTop = scroller.scrollHeight - fromBottom;
      older = page.next_cursor || null;
      showOlder();
    } catch (err) {
      if (err.status !== 401) toast(err.message);
    }
  }

  const actions = h("div", { class: "actions" });
  if (send) {
    const text = field({ label: "Message", name: "body", kind: "textarea", rows: 3, required: true });
    const form = h("form", { "aria-label": `Write in ${label}` }, formAlert(), text);
    actions.append(h("button", { type: "submit", class: "primary" }, "Send"));
    form.append(actions);
    onSubmit(form, async (data) => {
      const body = String(data.get("body")).trim();
      const sent = await send(body);
      text.control.value = "";
      if (sent) {
        status.replaceChildren();
        log.append(message(sent, me, isMine));
        scroller.scrollTop = scroller.scrollHeight;
      }
      toast("Message sent.");
      text.control.focus();
    });
    root.append(form);
  } else {
    root.append(h("p", { class: "muted small" }, "You can read this conversation; writing in it is not enabled for your account."), actions);
  }
  actions.append(h("button", { type: "button", onclick: refresh }, "Refresh messages"));
  refresh();
  return root;
}
