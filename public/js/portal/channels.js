// Channels: connect Telegram by a deep link, create a website-widget connection (its signing secret
// is shown once, to copy to the client's server), rotate and revoke. Hidden when the API has no
// channel routes (GET /api/channels answers 404).
import { ApiError, del, get, post } from "../lib/api.js";
import { confirmDialog, empty, h, load, mount, secretBox, statusBadge, time, toast } from "../lib/dom.js";

/** Whether the channel routes exist, and how many links the user holds. */
export async function channelsAvailable() {
  try {
    const res = await get("/api/channels");
    return { available: true, count: ((res && res.items) || []).length };
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return { available: false, count: 0 };
    return { available: false, count: 0 };
  }
}

function secretPanel(title, secret, webhookPath, previousUntil) {
  return h(
    "div",
    { class: "alert warn", role: "status" },
    h("h3", { tabindex: "-1" }, title),
    h("p", {}, h("strong", {}, "This secret is shown only once."), " Copy it now to your server, where the widget signs its events. Never put it in a web page or share it in chat."),
    secretBox("Signing secret", secret),
    webhookPath ? secretBox("Webhook address", `${location.origin}${webhookPath}`) : null,
    previousUntil ? h("p", {}, "The previous secret keeps working until ", time(previousUntil), ": update your server before then.") : null,
    h("p", { class: "small" }, "Sign each event as v1=hex(HMAC-SHA256(secret, timestamp + \".\" + body)) in the X-Extranet-Signature header, with X-Extranet-Timestamp (unix seconds)."),
  );
}

export async function renderChannels(ctx, el) {
  const p = ctx.policy;
  const company = ctx.company;
  const out = h("div", { class: "spaced" });
  const list = h("div");

  const telegram = h("button", { type: "button", class: "primary" }, "Connect Telegram");
  telegram.addEventListener("click", async () => {
    telegram.disabled = true;
    try {
      const res = await post("/api/channels/telegram", { company_id: company.id });
      mount(
        out,
        h(
          "div",
          { class: "alert info", role: "status" },
          h("h3", { tabindex: "-1" }, "Open Telegram to finish"),
          h("p", {}, "Open the link on the device with your Telegram account and press Start. The link works once, until ", time(res.expires_at), "."),
          h("p", {}, h("a", { class: "button primary", href: res.deep_link, target: "_blank", rel: "noopener noreferrer" }, "Open Telegram", h("span", { class: "visually-hidden" }, " (opens in a new tab)"))),
          secretBox("Or copy the link", res.deep_link),
        ),
      );
      out.querySelector("h3").focus();
    } catch (err) {
      if (err.status !== 401) mount(out, h("div", { class: "alert error", role: "alert" }, h("p", {}, err.message)));
    } finally {
      telegram.disabled = false;
    }
  });

  const widget = h("button", { type: "button" }, "Create a widget connection");
  widget.addEventListener("click", async () => {
    widget.disabled = true;
    try {
      const res = await post("/api/channels/widget", { company_id: company.id });
      mount(out, secretPanel("Widget connection created", res.signing_secret, res.webhook_path || `/webhooks/widget/${res.id}`));
      out.querySelector("h3").focus();
      refresh();
    } catch (err) {
      if (err.status !== 401) mount(out, h("div", { class: "alert error", role: "alert" }, h("p", {}, err.message)));
    } finally {
      widget.disabled = false;
    }
  });

  async function revoke(c) {
    const ok = await confirmDialog({ title: `Revoke this ${c.kind} connection?`, body: "Messages from it will no longer reach the team. You can connect again later.", confirm: "Revoke", danger: true });
    if (!ok) return;
    try {
      await del(`/api/channels/${c.id}`);
      toast("Connection revoked.");
      refresh();
    } catch (err) {
      if (err.status !== 401) toast(err.message);
    }
  }

  async function rotate(c) {
    const ok = await confirmDialog({ title: "Rotate the widget secret?", body: "A new secret is created and shown once. The current one keeps working for 24 hours, so you can update your server without downtime.", confirm: "Rotate" });
    if (!ok) return;
    try {
      const res = await post(`/api/channels/${c.id}/rotate`, {});
      mount(out, secretPanel("New widget secret", res.signing_secret, res.webhook_path || `/webhooks/widget/${c.id}`, res.previous_secret_valid_until));
      refresh();
      out.querySelector("h3").focus();
    } catch (err) {
      if (err.status !== 401) toast(err.message);
    }
  }

  function refresh() {
    return load(list, async () => {
      const res = await get("/api/channels");
      const items = (res.items || []).filter((c) => !c.company_id || c.company_id === company.id);
      if (!items.length) return empty("No connections yet.");
      return h(
        "ul",
        { class: "list", "aria-label": "Your connections" },
        items.map((c) =>
          h(
            "li",
            {},
            h("div", { class: "item-head" }, h("span", { class: "title" }, c.kind === "telegram" ? "Telegram" : "Website widget", c.external_label ? ` · ${c.external_label}` : ""), statusBadge(c.status)),
            h(
              "div",
              { class: "small muted" },
              "Connected ", time(c.created_at),
              c.kind === "telegram" && c.external_label ? " · check that this is your account" : "",
              c.status === "suspended" ? " · suspended: your access policy does not allow this channel now" : "",
              c.status === "unreachable" ? [" · unreachable since ", time(c.unreachable_since), ": you blocked the bot, so nothing reaches this chat. Unblock it or send /start to it to receive updates again"] : "",
              c.previous_secret_valid_until ? [" · previous secret valid until ", time(c.previous_secret_valid_until)] : null,
            ),
            c.status !== "revoked"
              ? h(
                  "div",
                  { class: "actions" },
                  c.kind === "widget" && c.status === "active" ? h("button", { type: "button", onclick: () => rotate(c) }, "Rotate secret") : null,
                  h("button", { type: "button", class: "danger", onclick: () => revoke(c) }, "Revoke"),
                )
              : null,
          ),
        ),
      );
    });
  }

  mount(
    el,
    h("div", { class: "section-head" }, h("h1", {}, `Channels · ${company.name}`)),
    h("p", { class: "muted" }, "Get updates and talk to the team outside the portal."),
    p.telegram || p.widget
      ? h("div", { class: "card" }, h("div", { class: "actions" }, p.telegram ? telegram : null, p.widget ? widget : null), out)
      : h("div", { class: "alert info" }, h("p", {}, "New connections are not enabled for your account at this company.")),
    h("h2", {}, "Your connections"),
    list,
  );
  await refresh();
}
