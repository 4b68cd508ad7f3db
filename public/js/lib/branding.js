// The portal's branding (GET /api/branding): name, logo and primary colour. The colour is only used
// when it keeps readable contrast; otherwise a darker shade of it is used (WCAG AA, 4.5:1).
import { h } from "./dom.js";

function luminance(hex) {
  const m = /^#?([0-9a-f]{6})$/i.exec(hex || "");
  if (!m) return null;
  const n = parseInt(m[1], 16);
  const ch = [(n >> 16) & 255, (n >> 8) & 255, n & 255].map((c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * ch[0] + 0.7152 * ch[1] + 0.0722 * ch[2];
}

const contrast = (a, b) => (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);

function darken(hex, f) {
  const n = parseInt(hex.replace("#", ""), 16);
  const c = [(n >> 16) & 255, (n >> 8) & 255, n & 255].map((x) => Math.round(x * f));
  return "#" + c.map((x) => x.toString(16).padStart(2, "0")).join("");
}

/**
 * The colour the pages use for a brand colour: the colour itself, or darker shades of it until white
 * text on it, and it as link text on the page's light grey canvas (#f5f7fa), both reach 4.5:1.
 * Null for a value that is not `#rrggbb`.
 */
export function readableColor(hex) {
  if (luminance(hex) === null) return null;
  let color = hex;
  const canvas = luminance("#f5f7fa");
  for (let i = 0; i < 12 && contrast(luminance(color), canvas) < 4.5; i++) color = darken(color, 0.9);
  return color;
}

/** Set --primary / --on-primary from a brand colour on `el` (CSSOM: allowed under style-src 'self'). */
export function applyColor(hex, el = document.documentElement) {
  const color = readableColor(hex);
  if (!color) return;
  el.style.setProperty("--primary", color);
  el.style.setProperty("--on-primary", "#ffffff");
}

let cached = null;
/** Load the public branding once; on failure the defaults stay. */
export async function branding() {
  if (!cached) {
    cached = fetch("/api/branding", { headers: { accept: "application/json" } })
      .then((r) => (r.ok ? r.json() : null))
      .catch(() => null)
      .then((b) => b || { portal_name: "Client portal", logo_url: null, primary_color: null });
  }
  const b = await cached;
  if (b.primary_color) applyColor(b.primary_color);
  return b;
}

/** The brand block of a top bar: logo (or an initial) and the portal name. */
export function brandMark(b, href = "/") {
  const name = (b && b.portal_name) || "Client portal";
  const mark = h("span", { class: "brand-mark", "aria-hidden": "true" }, name.trim().charAt(0).toUpperCase() || "P");
  const el = h("a", { class: "brand", href }, mark, h("span", {}, name));
  if (b && b.logo_url) {
    const img = h("img", { src: b.logo_url, alt: "" });
    // A logo that cannot load (blocked, gone) leaves the initial in place.
    img.addEventListener("load", () => mark.replaceWith(img));
  }
  return el;
}
