// Form fields with their labels, hints and error slots, and putting an API error where it belongs:
// next to the field named by `error.field` (inputs are named with the API's field path, e.g.
// "user.login" or "fields.priority"), otherwise in the form's alert.
import { h, uid } from "./dom.js";

/**
 * A labelled control. kind: input type ("text", "password", ...), "textarea", "select" (options:
 * [{value, label}] or strings). Returns the wrapper; the control is `wrapper.control`.
 */
export function field({ label, name, kind = "text", value, required, hint, options, autocomplete, inputmode, min, max, step, rows, placeholder, extra }) {
  const id = uid(name.replace(/[^a-z0-9]/gi, "-"));
  const errId = `${id}-error`;
  const hintId = hint ? `${id}-hint` : null;
  const describedBy = [hintId, errId].filter(Boolean).join(" ");
  const common = { id, name, required: required || false, "aria-describedby": describedBy, autocomplete, inputmode, placeholder };
  let control;
  if (kind === "textarea") {
    control = h("textarea", { ...common, rows: rows || 4 });
    if (value != null) control.value = value;
  } else if (kind === "select") {
    control = h(
      "select",
      common,
      (options || []).map((o) => {
        const opt = typeof o === "string" ? { value: o, label: o } : o;
        return h("option", { value: opt.value, selected: value != null && String(value) === String(opt.value) }, opt.label);
      }),
    );
  } else {
    control = h("input", { ...common, type: kind, value: value ?? null, min, max, step });
  }
  const wrap = h(
    "div",
    { class: "field" },
    h("label", { for: id }, label, required ? h("span", { class: "muted" }, " (required)") : null),
    control,
    hint ? h("span", { class: "hint", id: hintId }, hint) : null,
    extra || null,
    h("p", { class: "field-error", id: errId }),
  );
  wrap.control = control;
  return wrap;
}

/** A checkbox with its label to the right. */
export function checkbox({ label, name, checked, hint, value }) {
  const id = uid(name.replace(/[^a-z0-9]/gi, "-"));
  const input = h("input", { type: "checkbox", id, name, checked: Boolean(checked), value: value ?? null });
  const wrap = h(
    "div",
    { class: "check" },
    input,
    h("label", { for: id }, label, hint ? h("span", { class: "hint" }, hint) : null),
  );
  wrap.control = input;
  return wrap;
}

/** The alert slot of a form (role=alert, empty until an error arrives). */
export function formAlert() {
  return h("div", { class: "alert error", role: "alert", "data-form-alert": "" });
}

/** Clear the errors a previous submit left. */
export function clearErrors(form) {
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  for (const el of form.querySelectorAll(".field-error")) el.textContent = "";
  const alert = form.querySelector("[data-form-alert]");
  if (alert) alert.replaceChildren();
}

/**
 * Show an ApiError in a form: next to the named field when there is one (and focus it), else in
 * the form alert. Returns true when a field took it.
 */
export function showError(form, err) {
  clearErrors(form);
  const name = err && err.field;
  if (name) {
    const control = [...form.elements].find((el) => el.name === name) || [...form.elements].find((el) => el.name && name.startsWith(el.name + "."));
    if (control) {
      control.setAttribute("aria-invalid", "true");
      const slot = document.getElementById(`${control.id}-error`);
      if (slot) slot.textContent = err.message;
      control.focus();
      if (slot) return true;
    }
  }
  const alert = form.querySelector("[data-form-alert]");
  if (alert) {
    alert.replaceChildren(h("p", {}, err && err.message ? err.message : "Something went wrong."));
    alert.scrollIntoView({ block: "nearest" });
  }
  return false;
}

/**
 * Wire a submit handler: prevents the page submit, marks the submit button busy, clears old errors
 * and shows the thrown ApiError where it belongs.
 */
export function onSubmit(form, handler) {
  form.noValidate = true;
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const button = ev.submitter || form.querySelector("button[type=submit]");
    if (form.dataset.busy) return;
    const missing = [...form.elements].find((el) => el.required && !el.disabled && !String(el.value).trim());
    clearErrors(form);
    if (missing) {
      const label = form.querySelector(`label[for="${missing.id}"]`);
      const text = label ? label.firstChild.textContent.trim() : "This field";
      showError(form, { field: missing.name, message: `${text} is required.` });
      return;
    }
    form.dataset.busy = "1";
    form.setAttribute("aria-busy", "true");
    if (button) button.disabled = true;
    try {
      await handler(new FormData(form), button);
    } catch (err) {
      showError(form, err);
    } finally {
      delete form.dataset.busy;
      form.removeAttribute("aria-busy");
      if (button && button.isConnected) button.disabled = false;
    }
  });
}
