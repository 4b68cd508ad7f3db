// /activate#<token>: who the invitation is for, a password with its rules checked as the client
// types, activation (which sets the refresh cookie), MFA enrolment when required, then the portal.
// The token stays in the fragment (never sent to a server in a URL) and is removed from the address
// bar at once, so it does not linger in the history.
import { ApiError, post, setSession } from "./lib/api.js";
import { brandMark, branding } from "./lib/branding.js";
import { focusHeading, h, mount, time, uid } from "./lib/dom.js";
import { field, formAlert, onSubmit, showError } from "./lib/forms.js";
import { totpEnrolment } from "./lib/totp.js";

const main = document.getElementById("main");
const token = decodeURIComponent(location.hash.replace(/^#/, "")).trim();
if (location.hash) history.replaceState(null, "", location.pathname);

const GONE = {
  invitation_used: {
    title: "This invitation has already been used",
    text: "The account has been activated with it. Sign in with your login and password.",
    action: "signin",
  },
  invitation_revoked: {
    title: "This invitation was revoked",
    text: "It can no longer be used. Ask your contact at the company for a new invitation.",
  },
  invitation_expired: {
    title: "This invitation has expired",
    text: "Invitations are valid for a limited time. Ask your contact at the company for a new one.",
  },
  not_found: {
    title: "We do not recognise this invitation link",
    text: "Check that you opened the whole link from your invitation message (long links are sometimes cut in two). If it still does not work, ask for a new invitation.",
  },
  missing: {
    title: "Open the link from your invitation",
    text: "This page sets your password from the activation link in your invitation message. Open that link in this browser.",
    action: "signin",
  },
};

function card(...children) {
  mount(main, h("div", { class: "card" }, ...children));
  focusHeading(main);
}

function gone(kind) {
  const g = GONE[kind] || GONE.not_found;
  document.title = `${g.title} · Activate your invitation`;
  card(
    h("h1", {}, g.title),
    h("p", {}, g.text),
    h("p", {}, g.action === "signin" ? h("a", { class: "button primary", href: "/" }, "Go to sign in") : h("a", { href: "/" }, "Go to the client portal")),
  );
}

/** The rules from the preview's password_policy, each with a test run on every keystroke. */
function rulesFor(policy, login) {
  const identities = [login, login.includes("@") ? login.split("@")[0] : null].filter(Boolean).map((s) => s.toLowerCase());
  const rules = [
    { text: `At least ${policy.min_length} characters`, test: (p) => [...p].length >= policy.min_length },
    { text: "At most 256 characters", test: (p) => [...p].length <= 256 },
  ];
  if (policy.require_lower) rules.push({ text: "A lowercase letter", test: (p) => /\p{Ll}/u.test(p) });
  if (policy.require_upper) rules.push({ text: "An uppercase letter", test: (p) => /\p{Lu}/u.test(p) });
  if (policy.require_digit) rules.push({ text: "A digit", test: (p) => /\p{N}/u.test(p) });
  if (policy.require_special) rules.push({ text: "A symbol or space", test: (p) => /[^\p{L}\p{N}]/u.test(p) });
  rules.push({
    text: "Does not contain your login",
    test: (p) => p.length > 0 && !identities.some((id) => p.toLowerCase() === id || (id.length >= 4 && p.toLowerCase().includes(id))),
  });
  return rules;
}

function activationForm(preview) {
  const reset = Boolean(preview.password_reset);
  const rules = rulesFor(preview.password_policy, preview.login);
  const rulesId = uid("rules");
  const items = rules.map((r) => {
    const state = h("span", { class: "visually-hidden" }, "not met: ");
    const li = h("li", {}, state, r.text);
    return { ...r, li, state };
  });
  const rulesList = h("ul", { class: "rules", id: rulesId, "aria-label": "Password rules" }, items.map((i) => i.li));
  const pw = field({ label: "New password", name: "password", kind: "password", required: true, autocomplete: "new-password", hint: "A few unrelated words make a strong password that is easy to type. Very common passwords are refused." });
  pw.control.setAttribute("aria-describedby", `${pw.control.getAttribute("aria-describedby")} ${rulesId}`);
  pw.insertBefore(rulesList, pw.querySelector(".field-error"));
  const again = field({ label: "Repeat the password", name: "password_again", kind: "password", required: true, autocomplete: "new-password" });
  // An account with an authenticator keeps it through a reset: the code is asked here too.
  const code = preview.totp_required
    ? field({ label: "Code from your authenticator app", name: "totp", required: true, autocomplete: "one-time-code", hint: "Six digits from the app you set up for this account." })
    : null;
  if (code) {
    code.control.setAttribute("inputmode", "numeric");
    code.control.setAttribute("pattern", "[0-9 ]{6,8}");
  }
  const show = h("input", { type: "checkbox", id: "show-pw" });
  show.addEventListener("change", () => {
    pw.control.type = again.control.type = show.checked ? "text" : "password";
  });
  const summary = h("p", { class: "small muted", role: "status", "aria-live": "polite" });

  const update = () => {
    const value = pw.control.value;
    let met = 0;
    for (const i of items) {
      const ok = i.test(value);
      i.li.classList.toggle("met", ok);
      i.state.textContent = ok ? "met: " : "not met: ";
      if (ok) met++;
    }
    // Announce only the count, and only when it changes: per-keystroke reading would be noise.
    const text = value ? `${met} of ${items.length} password rules met.` : "";
    if (summary.textContent !== text) summary.textContent = text;
  };
  pw.control.addEventListener("input", update);

  const submit = h("button", { type: "submit", class: "primary" }, reset ? "Set the new password" : "Activate and sign in");
  const form = h(
    "form",
    { "aria-labelledby": "activate-title" },
    formAlert(),
    h("input", { type: "text", name: "username", value: preview.login, autocomplete: "username", hidden: true, readonly: true, "aria-hidden": "true", tabindex: "-1" }),
    pw,
    again,
    h("div", { class: "check" }, show, h("label", { for: "show-pw" }, "Show the passwords")),
    code,
    summary,
    h("div", { class: "actions" }, submit),
  );

  onSubmit(form, async (data) => {
    const password = String(data.get("password"));
    const failed = items.find((i) => !i.test(password));
    if (failed) {
      showError(form, { field: "password", message: `The password does not meet a rule: ${failed.text.toLowerCase()}.` });
      return;
    }
    if (password !== String(data.get("password_again"))) {
      showError(form, { field: "password_again", message: "The two passwords are different." });
      return;
    }
    let session;
    try {
      const body = { token, password };
      if (code) body.totp = String(data.get("totp")).replace(/\s/g, "");
      session = await post("/api/invitations/activate", body);
    } catch (err) {
      if (err instanceof ApiError && (err.status === 410 || err.status === 404)) return gone(err.code);
      throw err;
    }
    setSession(session);
    if (session.mfa_enrollment_required) return enrol(password);
    done(session);
  });

  card(
    h("h1", { id: "activate-title" }, reset ? `Set a new password, ${preview.first_name}` : `Welcome, ${preview.first_name}`),
    h(
      "p",
      {},
      reset ? "This link resets the password of " : "This invitation is for ",
      h("strong", {}, preview.login),
      ". It is valid until ",
      time(preview.expires_at),
      ".",
    ),
    preview.mfa_required ? h("div", { class: "alert info" }, h("p", {}, "After setting your password you will also set up an authenticator app (two-factor authentication).")) : null,
    form,
  );
}

function enrol(password) {
  card(
    h("h1", {}, "Set up two-factor authentication"),
    h("p", {}, "Your password is set. Two-factor authentication is required for this portal: add your account to an authenticator app to finish."),
    totpEnrolment({ autoStart: true, password, onDone: () => done() }),
  );
}

function done() {
  card(h("h1", {}, "You are all set"), h("p", { role: "status" }, "Opening the client portal…"));
  // The refresh cookie is set: the portal signs in from it.
  location.assign("/");
}

async function start() {
  const b = await branding();
  document.getElementById("topbar").replaceChildren(brandMark(b));
  if (!token) return gone("missing");
  try {
    const preview = await post("/api/invitations/preview", { token });
    activationForm(preview);
  } catch (err) {
    if (err.status === 410 || err.status === 404) return gone(err.code);
    card(
      h("h1", {}, "The invitation could not be checked"),
      h("div", { class: "alert error", role: "alert" }, h("p", {}, err.message)),
      h("button", { type: "button", class: "primary", onclick: () => start() }, "Try again"),
    );
  }
}

start();
