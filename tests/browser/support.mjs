// Browser-test support: Debian's Chromium driven by playwright-core, axe-core injected from
// node_modules, screenshots at desktop and phone sizes, and guards that fail a test on a CSP
// violation, an uncaught page error or a request leaving the worker's origin.
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
export const OUT_DIR = fileURLToPath(new URL("./.out/", import.meta.url));
export const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

/**
 * Launch Chromium headless. Playwright gives every launch a fresh temporary profile (its own
 * --user-data-dir) and every context its own cookie jar, so the admin and the client never share
 * a refresh cookie.
 */
export async function launch() {
  mkdirSync(OUT_DIR, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-dev-shm-usage",
    ],
  });
}

/**
 * A page in a fresh context, watched: CSP violations, uncaught errors and requests to any origin
 * but the worker's are collected in `page.problems` (assertClean checks them).
 */
export async function openPage(browser, baseURL, { viewport = DESKTOP } = {}) {
  const context = await browser.newContext({ baseURL, viewport, locale: "en-GB", timezoneId: "UTC" });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: baseURL });
  const page = await context.newPage();
  page.problems = [];
  page.setDefaultTimeout(15_000);
  // Runs before any page script (injected by the browser, not subject to the page's CSP).
  await page.addInitScript(() => {
    window.__csp = [];
    document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`));
  });
  page.on("pageerror", (err) => page.problems.push(`uncaught error: ${err.message}`));
  page.on("console", (msg) => {
    if (/Content Security Policy|Trusted Type/i.test(msg.text())) page.problems.push(`console: ${msg.text()}`);
  });
  page.on("request", (req) => {
    const url = req.url();
    if (!url.startsWith(baseURL) && !url.startsWith("blob:") && !url.startsWith("data:")) page.problems.push(`request outside the worker: ${url}`);
  });
  return page;
}

/** Fail on any CSP violation, uncaught error or foreign request seen so far. */
export async function problems(page) {
  const csp = await page.evaluate(() => window.__csp || []).catch(() => []);
  return [...page.problems, ...csp.map((v) => `CSP violation: ${v}`)];
}

/** Run axe-core on the page; returns the serious and critical violations, described. */
export async function axe(page) {
  const loaded = await page.evaluate(() => typeof window.axe !== "undefined");
  // Evaluated through the DevTools protocol, so the page's CSP (which forbids inline scripts) allows it.
  if (!loaded) await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) }));
  });
  return result.filter((v) => v.impact === "serious" || v.impact === "critical");
}

/**
 * Screenshots of the page as it is, at desktop and phone widths (full page), named
 * `<name>-desktop.png` and `<name>-phone.png`; the viewport is restored afterwards. Also runs axe
 * at both sizes and returns the serious or critical violations found.
 */
export async function capture(page, name) {
  const original = page.viewportSize();
  const found = [];
  // Toasts are transient (a few seconds): leave them out of the pictures.
  await page.evaluate(() => document.querySelectorAll(".toast").forEach((t) => t.remove()));
  for (const [label, size] of [["desktop", DESKTOP], ["phone", PHONE]]) {
    await page.setViewportSize(size);
    await page.waitForTimeout(150);
    await page.screenshot({ path: join(OUT_DIR, `${name}-${label}.png`), fullPage: true });
    for (const v of await axe(page)) found.push({ ...v, size: label });
  }
  await page.setViewportSize(original);
  return found;
}

/** A readable list of axe violations for an assertion message. */
export function describe(violations) {
  return violations.map((v) => `[${v.impact}] ${v.id} (${v.size}): ${v.help} at ${v.nodes.join(", ")}`).join("\n");
}
