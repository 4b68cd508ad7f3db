// TOTP enrolment (POST /api/me/mfa/totp, then /confirm with a code): shows the otpauth URI as a QR
// code, as a link and as text, the secret, and confirms. Used after activation when MFA is required, and in the profile.
import { post, setSession } from "./api.js";
import { h, mount, secretBox, toast } from "./dom.js";
import { field, formAlert, onSubmit } from "./forms.js";
import { qrSvg } from "./qr.js";

/**
 * An enrolment panel. `replacing`: the user already has TOTP (a current code is needed to replace
 * it). `onDone()` runs once the code is confirmed (the session then has full scope).
 */
export function totpEnrolment({ replacing = false, autoStart = false, password = null, onDone }) {
  const root = h("div", { class: "stack" });

  function startForm() {
    const current = replacing
      ? field({ label: "Current authenticator code", name: "current_code", required: true, autocomplete: "one-time-code", inputmode: "numeric", hint: "Replacing your authenticator needs a code from the current one." })
      : null;
    // A first enrolment is a step-up: the account's password, so a stolen session alone cannot
    // bind another authenticator.
    const pw = replacing
      ? null
      : field({ label: "Your password", name: "current_password", kind: "password", required: true, autocomplete: "current-password", hint: "Setting up an authenticator needs your password." });
    const form = h(
      "form",
      {},
      formAlert(),
      h("p", {}, replacing ? "Set up a new authenticator app in place of the current one." : "Protect your account with a one-time code from an authenticator app (for example FreeOTP, Aegis, Google Authenticator or 1Password)."),
      current,
      pw,
      h("button", { type: "submit", class: "primary" }, replacing ? "Replace authenticator" : "Set up authenticator"),
    );
    onSubmit(form, async (data) => {
      const body = replacing ? { current_code: String(data.get("current_code")).trim() } : { current_password: String(data.get("current_password")) };
      const enrolment = await post("/api/me/mfa/totp", body);
      mount(root, confirmForm(enrolment));
      root.querySelector("h3").focus();
    });
    return form;
  }

  function confirmForm(enrolment) {
    const grouped = enrolment.secret.replace(/(.{4})/g, "$1 ").trim();
    const code = field({ label: "Code from the app", name: "code", required: true, autocomplete: "one-time-code", inputmode: "numeric", hint: "Enter the 6-digit code the app now shows." });
    const form = h("form", {}, formAlert(), code, h("button", { type: "submit", class: "primary" }, "Confirm and turn on"));
    onSubmit(form, async (data) => {
      const confirmed = await post("/api/me/mfa/totp/confirm", { code: String(data.get("code")).trim() });
      if (confirmed && confirmed.access_token) setSession(confirmed);
      mount(root, h("div", { class: "alert ok", role: "status" }, h("p", {}, "Two-factor authentication is on. You will be asked for a code when you sign in.")));
      toast("Two-factor authentication is on.");
      if (onDone) await onDone(confirmed);
    });
    return h(
      "div",
      { class: "stack" },
      h("h3", { tabindex: "-1" }, "Add the account to your authenticator app"),
      h("ol", {},
        h("li", {}, "Scan the QR code with the app. On the phone itself, open the link instead, or add an account by hand with the secret key."),
        h("li", {}, "Type the code the app shows to finish."),
      ),
      h("figure", { class: "qr-figure" }, qrSvg(enrolment.otpauth_uri, "QR code of the setup URI, for the authenticator app"), h("figcaption", {}, "Scan with your authenticator app")),
      h("p", {}, h("a", { href: enrolment.otpauth_uri }, "Open in authenticator app")),
      secretBox("Secret key (add by hand)", grouped),
      secretBox("Setup URI (otpauth)", enrolment.otpauth_uri),
      form,
    );
  }

  if (autoStart && !replacing && password) {
    // Right after activation the password was just typed: no need to ask for it again.
    mount(root, h("p", { role: "status" }, "Preparing your authenticator setup…"));
    post("/api/me/mfa/totp", { current_password: password })
      .then((enrolment) => mount(root, confirmForm(enrolment)))
      .catch(() => mount(root, startForm()));
  } else {
    mount(root, startForm());
  }
  return root;
}
