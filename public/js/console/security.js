// Security: the password, login (lockout), session and MFA policy for portal logins (admins).
// Inputs are named by their JSON path, so a range error lands next to its field.
import { get, put } from "../lib/api.js";
import { failure, h, loading, mount, toast } from "../lib/dom.js";
import { checkbox, field, formAlert, onSubmit } from "../lib/forms.js";

function human(seconds) {
  const s = Number(seconds);
  if (!Number.isFinite(s) || s <= 0) return "";
  if (s % 86_400 === 0) return `${s / 86_400} day${s === 86_400 ? "" : "s"}`;
  if (s % 3600 === 0) return `${s / 3600} hour${s === 3600 ? "" : "s"}`;
  if (s % 60 === 0) return `${s / 60} minute${s === 60 ? "" : "s"}`;
  return `${s} seconds`;
}

function num(label, name, value, min, max, unit, hint) {
  const f = field({ label: `${label} (${unit})`, name, kind: "number", value, required: true, min, max, step: 1, hint: hint || `From ${min} to ${max}.` });
  if (unit === "seconds") {
    const live = h("span", { class: "hint", "aria-live": "polite" }, `= ${human(value)}`);
    f.control.addEventListener("input", () => (live.textContent = `= ${human(f.control.value)}`));
    f.insertBefore(live, f.querySelector(".field-error"));
  }
  return f;
}

export async function renderSecurity(ctx, el) {
  const body = h("div");
  mount(
    el,
    h("h1", {}, "Security"),
    h("p", { class: "muted" }, "Requirements for portal logins. Tighten them if contracts, financial documents or personal data go through the extranet; remember that sessions that are too short turn into constant re-logins."),
    body,
  );
  mount(body, loading("Loading the security settings…"));
  let s;
  try {
    s = await get("/api/admin/security");
  } catch (err) {
    if (err.status === 403 || err.status === 404) return mount(body, h("div", { class: "alert info" }, h("p", {}, "Only admins can see and change the security settings.")));
    if (err.status !== 401) mount(body, failure(err, () => renderSecurity(ctx, el)));
    return;
  }
  const form = h(
    "form",
    { "aria-label": "Security settings" },
    formAlert(),
    h(
      "div",
      { class: "cols" },
      h(
        "fieldset",
        {},
        h("legend", {}, "Password policy"),
        num("Minimum length", "password.min_length", s.password.min_length, 8, 128, "characters", "From 8 to 128. Length matters more than character classes."),
        checkbox({ label: "Require a lowercase letter", name: "password.require_lower", checked: s.password.require_lower }),
        checkbox({ label: "Require an uppercase letter", name: "password.require_upper", checked: s.password.require_upper }),
        checkbox({ label: "Require a digit", name: "password.require_digit", checked: s.password.require_digit }),
        checkbox({ label: "Require a special character", name: "password.require_special", checked: s.password.require_special }),
      ),
      h(
        "fieldset",
        {},
        h("legend", {}, "Login policy"),
        num("Failed attempts before lockout", "lockout.max_failed_attempts", s.lockout.max_failed_attempts, 3, 20, "attempts"),
        num("Lockout duration", "lockout.lockout_minutes", s.lockout.lockout_minutes, 1, 1440, "minutes"),
      ),
      h(
        "fieldset",
        {},
        h("legend", {}, "Sessions"),
        num("Access lifetime", "sessions.access_ttl_seconds", s.sessions.access_ttl_seconds, 60, 3600, "seconds"),
        num("Session refresh lifetime (idle)", "sessions.refresh_ttl_seconds", s.sessions.refresh_ttl_seconds, 600, 2_592_000, "seconds"),
        num("Maximum session age", "sessions.session_max_age_seconds", s.sessions.session_max_age_seconds, 3600, 31_536_000, "seconds", "At least the refresh lifetime."),
        num("Invitation lifetime", "sessions.invitation_ttl_hours", s.sessions.invitation_ttl_hours, 1, 720, "hours"),
      ),
      h(
        "fieldset",
        {},
        h("legend", {}, "Two-factor authentication"),
        checkbox({ label: "Required for clients", name: "mfa.required_for_clients", checked: s.mfa.required_for_clients, hint: "Clients enrol right after activating their invitation." }),
        checkbox({ label: "Required for employees", name: "mfa.required_for_employees", checked: s.mfa.required_for_employees }),
      ),
    ),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Save security settings")),
  );
  onSubmit(form, async (data) => {
    const n = (k) => Number(data.get(k));
    const b = (k) => data.get(k) === "on";
    await put("/api/admin/security", {
      password: { min_length: n("password.min_length"), require_lower: b("password.require_lower"), require_upper: b("password.require_upper"), require_digit: b("password.require_digit"), require_special: b("password.require_special") },
      lockout: { max_failed_attempts: n("lockout.max_failed_attempts"), lockout_minutes: n("lockout.lockout_minutes") },
      sessions: { access_ttl_seconds: n("sessions.access_ttl_seconds"), refresh_ttl_seconds: n("sessions.refresh_ttl_seconds"), session_max_age_seconds: n("sessions.session_max_age_seconds"), invitation_ttl_hours: n("sessions.invitation_ttl_hours") },
      mfa: { required_for_clients: b("mfa.required_for_clients"), required_for_employees: b("mfa.required_for_employees") },
    });
    toast("Security settings saved.");
  });
  mount(body, h("div", { class: "card" }, form));
}
