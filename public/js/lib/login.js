// The sign-in form shared by the portal and the console: login and password, then the authenticator
// code when the API answers 401 mfa_required.
import { login } from "./api.js";
import { h } from "./dom.js";
import { field, formAlert, onSubmit, showError } from "./forms.js";

/**
 * A sign-in card. `notice`: a message shown above the form (e.g. why the session ended).
 * `onSignedIn(session)` runs after a successful login.
 */
export function loginCard({ title, intro, notice, onSignedIn }) {
  const loginField = field({ label: "Login", name: "login", required: true, autocomplete: "username", hint: "Usually your email address." });
  const passwordField = field({ label: "Password", name: "password", kind: "password", required: true, autocomplete: "current-password" });
  const codeField = field({
    label: "Authenticator code",
    name: "totp",
    required: false,
    autocomplete: "one-time-code",
    inputmode: "numeric",
    hint: "The 6-digit code from your authenticator app.",
  });
  codeField.hidden = true;
  const submit = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h("form", { "aria-labelledby": "login-title" }, formAlert(), loginField, passwordField, codeField, h("div", { class: "actions" }, submit));

  onSubmit(form, async (data) => {
    const code = codeField.hidden ? undefined : String(data.get("totp") || "").trim();
    if (!codeField.hidden && !code) {
      showError(form, { field: "totp", message: "Enter the code from your authenticator app." });
      return;
    }
    try {
      const session = await login(String(data.get("login")).trim(), String(data.get("password")), code);
      await onSignedIn(session);
    } catch (err) {
      if (err.code === "mfa_required") {
        codeField.hidden = false;
        codeField.control.required = true;
        submit.textContent = "Verify and sign in";
        showError(form, { field: "totp", message: err.message });
        return;
      }
      if (err.code === "invalid_credentials" && !codeField.hidden) {
        // The code may be the wrong part; the answer does not say which, on purpose.
        codeField.control.value = "";
      }
      throw err;
    }
  });

  return h(
    "section",
    { class: "card", "aria-labelledby": "login-title" },
    h("h1", { id: "login-title" }, title),
    intro ? h("p", { class: "muted" }, intro) : null,
    notice ? h("div", { class: "alert info", role: "status" }, h("p", {}, notice)) : null,
    form,
  );
}
