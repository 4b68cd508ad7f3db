// Profile: who you are, change password, two-factor enrolment, and your own sessions.
import { del, get, post, setSession } from "../lib/api.js";
import { badge, confirmDialog, empty, fullName, h, load, mount, time, toast } from "../lib/dom.js";
import { checkbox, field, formAlert, onSubmit, showError } from "../lib/forms.js";
import { totpEnrolment } from "../lib/totp.js";

/** A readable device name from a user agent string. */
export function device(ua) {
  if (!ua) return "Unknown device";
  const browser = /Edg\//.test(ua) ? "Edge" : /Firefox\//.test(ua) ? "Firefox" : /Chrome\/|Chromium\//.test(ua) ? "Chrome" : /Safari\//.test(ua) ? "Safari" : null;
  const os = /Android/.test(ua) ? "Android" : /iPhone|iPad/.test(ua) ? "iOS" : /Windows/.test(ua) ? "Windows" : /Mac OS X/.test(ua) ? "macOS" : /Linux/.test(ua) ? "Linux" : null;
  return browser && os ? `${browser} on ${os}` : ua.length > 60 ? ua.slice(0, 60) + "…" : ua;
}

function passwordCard(ctx, onChanged) {
  const enrolled = ctx.me.user.mfa_enrolled;
  const form = h(
    "form",
    { "aria-labelledby": "pw-title" },
    formAlert(),
    field({ label: "Current password", name: "current_password", kind: "password", required: true, autocomplete: "current-password" }),
    enrolled ? field({ label: "Authenticator code", name: "totp", required: true, autocomplete: "one-time-code", inputmode: "numeric" }) : null,
    field({ label: "New password", name: "new_password", kind: "password", required: true, autocomplete: "new-password", hint: "Long and not used anywhere else; a few unrelated words work well." }),
    field({ label: "Repeat the new password", name: "new_password_again", kind: "password", required: true, autocomplete: "new-password" }),
    checkbox({ label: "Sign out my other sessions", name: "sign_out_other_sessions", checked: true }),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Change password")),
  );
  onSubmit(form, async (data) => {
    if (data.get("new_password") !== data.get("new_password_again")) {
      showError(form, { field: "new_password_again", message: "The two passwords are different." });
      return;
    }
    const body = {
      current_password: String(data.get("current_password")),
      new_password: String(data.get("new_password")),
      sign_out_other_sessions: data.get("sign_out_other_sessions") === "on",
    };
    if (enrolled) body.totp = String(data.get("totp")).trim();
    const session = await post("/api/me/password", body);
    setSession(session);
    form.reset();
    toast("Password changed.");
    onChanged();
  });
  return h("section", { class: "card", "aria-labelledby": "pw-title" }, h("h2", { id: "pw-title" }, "Change password"), form);
}

function mfaCard(ctx) {
  const body = h("div");
  const enrolled = ctx.me.user.mfa_enrolled;
  const show = () => {
    if (ctx.me.user.mfa_enrolled) {
      const replace = h("button", { type: "button" }, "Replace authenticator");
      replace.addEventListener("click", () => mount(body, totpEnrolment({ replacing: true, onDone: () => ctx.reloadMe() })));
      mount(body, h("p", {}, badge("On", "ok"), " A code from your authenticator app is asked at sign-in and for signing."), replace);
    } else {
      mount(body, totpEnrolment({ onDone: () => ctx.reloadMe() }));
    }
  };
  show();
  return h("section", { class: "card", "aria-labelledby": "mfa-title" }, h("h2", { id: "mfa-title" }, "Two-factor authentication ", enrolled ? null : badge("Off", "warn")), body);
}

function sessionsCard(ctx) {
  const list = h("div");
  const refresh = () =>
    load(list, async () => {
      const res = await get("/api/me/sessions");
      if (!res.items.length) return empty("No active sessions.");
      return h(
        "ul",
        { class: "list", "aria-label": "Your sessions" },
        res.items.map((s) =>
          h(
            "li",
            {},
            h("div", { class: "item-head" }, h("span", { class: "title" }, device(s.user_agent)), s.current ? badge("This device", "info") : null),
            h("div", { class: "small muted" }, [s.ip, s.country].filter(Boolean).join(" · ") || "Unknown place", " · signed in ", time(s.created_at), " · last active ", time(s.last_seen_at)),
            s.current
              ? null
              : h("div", { class: "actions" }, h("button", {
                  type: "button",
                  class: "danger",
                  onclick: async () => {
                    const ok = await confirmDialog({ title: "Sign out this session?", body: `${device(s.user_agent)} will have to sign in again.`, confirm: "Sign out", danger: true });
                    if (!ok) return;
                    try {
                      await del(`/api/me/sessions/${s.id}`);
                      toast("Session signed out.");
                      refresh();
                    } catch (err) {
                      if (err.status !== 401) toast(err.message);
                    }
                  },
                }, "Sign out", h("span", { class: "visually-hidden" }, ` ${device(s.user_agent)}`))),
          ),
        ),
      );
    });
  refresh();
  return { el: h("section", { class: "card", "aria-labelledby": "sessions-title" }, h("h2", { id: "sessions-title" }, "Your sessions"), list), refresh };
}

export async function renderProfile(ctx, el) {
  const me = ctx.me;
  const sessions = sessionsCard(ctx);
  mount(
    el,
    h("h1", {}, "Profile"),
    h(
      "section",
      { class: "card", "aria-labelledby": "acct-title" },
      h("h2", { id: "acct-title" }, "Your account"),
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, "Name"), h("dd", {}, fullName(me.user)),
        h("dt", {}, "Login"), h("dd", {}, me.user.login),
        me.user.email ? [h("dt", {}, "Email"), h("dd", {}, me.user.email)] : null,
        h("dt", {}, "Companies"), h("dd", {}, (me.companies || []).map((c) => (c.is_default ? `${c.name} (default)` : c.name)).join(", ") || "—"),
      ),
    ),
    h("div", { class: "cols" }, passwordCard(ctx, sessions.refresh), mfaCard(ctx)),
    sessions.el,
  );
}
