// Building the DOM without HTML strings (nothing is parsed from text, so nothing injected can run),
// plus the shared states: loading, empty, error, announcements, confirmation and copy.

/**
 * h("button", {class: "primary", onclick: fn, "aria-label": "..."}, "text", child, [children])
 * Attributes: class, text, dataset, on<event> handlers, booleans (true sets, false/null skips).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "value") el.value = v;
    else if (k === "checked" || k === "selected" || k === "disabled" || k === "required" || k === "multiple") el[k] = Boolean(v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replace an element's children. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let seq = 0;
/** A unique id for label/aria wiring. */
export function uid(prefix = "id") {
  seq += 1;
  return `${prefix}-${seq}`;
}

export function loading(text = "Loading…") {
  return h("div", { class: "state", role: "status" }, h("span", { class: "spinner", "aria-hidden": "true" }), text);
}

export function empty(text) {
  return h("div", { class: "state" }, text);
}

/** An error state with the API's message and, when given, a retry button. */
export function failure(err, retry) {
  return h(
    "div",
    { class: "state error", role: "alert" },
    h("p", {}, err && err.message ? err.message : "Something went wrong."),
    retry ? h("button", { type: "button", onclick: retry }, "Try again") : null,
  );
}

/**
 * Show loading in `el`, run `fn` (async, returns nodes), then show its result; an error shows the
 * message with a retry. Returns whatever fn's nodes were, or null on error.
 */
export async function load(el, fn) {
  mount(el, loading());
  el.setAttribute("aria-busy", "true");
  try {
    const nodes = await fn();
    mount(el, nodes);
    return nodes;
  } catch (err) {
    if (err && err.status === 401) {
      mount(el);
      return null;
    }
    mount(el, failure(err, () => load(el, fn)));
    return null;
  } finally {
    el.removeAttribute("aria-busy");
  }
}

let toastRegion = null;
/** A short confirmation, also read by screen readers (role=status). */
export function toast(text) {
  if (!toastRegion) {
    toastRegion = h("div", { class: "toast-region", role: "status", "aria-live": "polite" });
    document.body.append(toastRegion);
  }
  const t = h("div", { class: "toast" }, text);
  toastRegion.append(t);
  setTimeout(() => t.remove(), 4000);
}

/** A modal confirmation (native <dialog>: focus is trapped and Escape cancels). Resolves true/false. */
export function confirmDialog({ title, body, confirm = "Confirm", danger = false }) {
  return new Promise((resolve) => {
    const titleId = uid("dlg");
    const dlg = h(
      "dialog",
      { "aria-labelledby": titleId },
      h("h2", { id: titleId }, title),
      typeof body === "string" ? h("p", {}, body) : body,
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", class: danger ? "danger" : "primary", onclick: () => dlg.close("yes") }, confirm),
        h("button", { type: "button", onclick: () => dlg.close("no") }, "Cancel"),
      ),
    );
    dlg.addEventListener("close", () => {
      dlg.remove();
      resolve(dlg.returnValue === "yes");
    });
    document.body.append(dlg);
    dlg.showModal();
  });
}

/** Copy text; falls back to selecting the input so the user can copy by hand. */
export async function copy(text, input) {
  try {
    await navigator.clipboard.writeText(text);
    toast("Copied to the clipboard.");
    return true;
  } catch {
    if (input) {
      input.focus();
      input.select();
    }
    toast("Copying was refused by the browser: the text is selected, press Ctrl+C (or ⌘C).");
    return false;
  }
}

/** A read-only value with a Copy button (activation links, widget secrets). */
export function secretBox(label, value) {
  const id = uid("secret");
  const input = h("input", { id, type: "text", readonly: true, value, spellcheck: "false", autocomplete: "off" });
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    h("div", { class: "secret" }, input, h("button", { type: "button", onclick: () => copy(value, input) }, "Copy")),
  );
}

const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const dayFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });
export function when(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : dateFmt.format(d);
}
export function day(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : dayFmt.format(d);
}
/** A <time> element showing a local date and carrying the exact instant. */
export function time(iso, dateOnly = false) {
  return h("time", { datetime: iso || "" }, dateOnly ? day(iso) : when(iso));
}

export function bytes(n) {
  if (n == null) return "";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** A coloured status word; the colour is never the only signal (the word is there). */
export function badge(text, tone = "") {
  return h("span", { class: `badge ${tone}`.trim() }, text);
}

export function statusBadge(status) {
  const tone = { active: "ok", pending: "info", used: "", disabled: "warn", revoked: "bad", expired: "", suspended: "warn", unreachable: "warn" }[status] ?? "";
  return badge(status, tone);
}

/** Move focus to a heading after a view change, so keyboard and screen reader users land there. */
export function focusHeading(root) {
  const hd = root.querySelector("h1, h2");
  if (hd) {
    hd.setAttribute("tabindex", "-1");
    hd.focus({ preventScroll: false });
  }
}

export function fullName(p) {
  if (!p) return "";
  return [p.first_name, p.last_name].filter(Boolean).join(" ") || p.name || p.login || "";
}
