// Delivery (admins): what leaves the portal after each answer, channel by channel. Telegram
// notices, email (Cloudflare Email Service) and CRM webhooks: set up or why not, what waits, what
// failed for good and why; "deliver now" runs one pass as the cron does, and a replay sends the CRM
// every event after a cursor again (it dedupes on webhook-id).
import { get, post } from "../lib/api.js";
import { badge, empty, failure, h, loading, mount, time, toast, uid } from "../lib/dom.js";

function channelCard(title, c, extra) {
  return h(
    "section",
    { class: "card", "aria-label": title },
    h("h2", {}, title, " ", c.configured ? badge("on", "ok") : badge("off", "warn")),
    c.configured ? null : h("p", {}, h("strong", {}, "Off: "), c.reason || "not configured"),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Waiting"), h("dd", {}, String(c.pending)),
      h("dt", {}, "Failed for good"), h("dd", {}, String(c.failed)),
      h("dt", {}, "Last error"), h("dd", {}, c.last_error || "none"),
      ...(extra || []),
    ),
  );
}

function failuresTable(caption, rows, columns) {
  if (!rows.length) return null;
  return h(
    "table",
    {},
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, ...columns.map(([label]) => h("th", { scope: "col" }, label)))),
    h("tbody", {}, ...rows.map((r) => h("tr", {}, ...columns.map(([, cell]) => h("td", {}, cell(r)))))),
  );
}

export async function renderDelivery(ctx, el) {
  const body = h("div");
  mount(
    el,
    h("h1", {}, "Delivery"),
    h("p", { class: "muted" }, "Notices, emails and CRM events leave after each answer, never inside it; what fails is retried after 1, 2, 4 and 8 minutes, then marked failed here."),
    body,
  );
  if (!ctx.isAdmin) return mount(body, h("div", { class: "alert info" }, h("p", {}, "Only admins can see the delivery status.")));
  mount(body, loading("Loading the delivery status…"));
  let s;
  try {
    s = await get("/api/admin/outbox");
  } catch (err) {
    if (err.status !== 401) mount(body, failure(err, () => renderDelivery(ctx, el)));
    return;
  }
  const deliver = h("button", { type: "button", class: "primary" }, "Deliver now");
  deliver.addEventListener("click", async () => {
    deliver.disabled = true;
    try {
      const r = await post("/api/admin/outbox/deliver", {});
      const sent = (r.telegram?.sent ?? 0) + (r.email?.sent ?? 0) + (r.crm_webhook?.sent ?? 0);
      toast(`Delivered ${sent} message${sent === 1 ? "" : "s"}${r.errors.length ? `; problems: ${r.errors.join("; ")}` : ""}.`);
      renderDelivery(ctx, el);
    } catch (err) {
      deliver.disabled = false;
      if (err.status !== 401) toast(err.message);
    }
  });
  const crm = s.crm_webhook;
  const cursorId = uid("cursor");
  const cursor = h("input", { id: cursorId, name: "after", inputmode: "numeric", pattern: "[0-9]*", value: crm.pushed_cursor, autocomplete: "off" });
  const replay = h("button", { type: "submit", disabled: !crm.configured }, "Send again");
  const replayForm = h(
    "form",
    { class: "inline-form", "aria-label": "Replay CRM events" },
    h("div", { class: "field" }, h("label", { for: cursorId }, "Send every CRM event after cursor"), cursor),
    replay,
  );
  replayForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    replay.disabled = true;
    try {
      const r = await post("/api/admin/crm/events/replay", { after: cursor.value.trim() || "0" });
      toast(`${r.queued} event${r.queued === 1 ? "" : "s"} queued again; ${r.push.sent} sent now.`);
      renderDelivery(ctx, el);
    } catch (err) {
      replay.disabled = !crm.configured;
      if (err.status !== 401) toast(err.message);
    }
  });
  mount(
    body,
    h("div", { class: "section-head" }, h("h2", {}, "Channels"), deliver),
    channelCard("Telegram notices", s.telegram),
    channelCard("Email", s.email, [h("dt", {}, "Sender"), h("dd", {}, s.email.sender || "—"), h("dt", {}, "Sent"), h("dd", {}, String(s.email.sent))]),
    failuresTable("Emails that failed for good", s.email.recent_failures, [
      ["Message", (f) => f.kind.replaceAll("_", " ")],
      ["To", (f) => f.to],
      ["Tries", (f) => String(f.attempts)],
      ["Error", (f) => f.error || ""],
      ["Queued", (f) => time(f.created_at)],
    ]),
    channelCard("CRM webhooks", crm, [
      h("dt", {}, "Acknowledged up to cursor"), h("dd", {}, crm.pushed_cursor),
      h("dt", {}, "Next try"), h("dd", {}, crm.next_attempt_at ? time(crm.next_attempt_at) : "—"),
    ]),
    failuresTable("CRM events given up on", crm.recent_failures, [
      ["Cursor", (f) => f.cursor],
      ["Event", (f) => f.type],
      ["Tries", (f) => String(f.attempts)],
      ["Error", (f) => f.error],
      ["When", (f) => time(f.failed_at)],
    ]) ?? (crm.configured ? empty("No CRM event was given up on.") : null),
    crm.configured ? replayForm : null,
  );
}
