// A QR code as inline SVG built with DOM calls (no markup strings, so Trusted Types stay enforced),
// from the vendored qrcode-generator (MIT, Kazuhiko Arase; public/js/vendor, version in its name).
import { qrcode } from "../vendor/qrcode-generator-2.0.4.mjs";

const SVG = "http://www.w3.org/2000/svg";
// The quiet zone the QR specification asks for around the symbol, in modules.
const QUIET = 4;

/** The dark modules of `text`'s QR code (error correction M, smallest version that fits) as a path. */
export function qrPath(text) {
  const qr = qrcode(0, "M");
  qr.addData(text);
  qr.make();
  const n = qr.getModuleCount();
  let d = "";
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      if (qr.isDark(r, c)) d += `M${c + QUIET} ${r + QUIET}h1v1h-1z`;
    }
  }
  return { size: n + 2 * QUIET, d };
}

/** An `<svg role="img">` of `text`'s QR code, labelled for assistive technology. */
export function qrSvg(text, label) {
  const { size, d } = qrPath(text);
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${size} ${size}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label);
  svg.setAttribute("class", "qr");
  svg.setAttribute("shape-rendering", "crispEdges");
  const background = document.createElementNS(SVG, "rect");
  background.setAttribute("width", String(size));
  background.setAttribute("height", String(size));
  background.setAttribute("fill", "#fff");
  const modules = document.createElementNS(SVG, "path");
  modules.setAttribute("d", d);
  modules.setAttribute("fill", "#000");
  svg.append(background, modules);
  return svg;
}
