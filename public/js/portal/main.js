// The client portal (/): sign-in, then the sections the effective policy of the chosen company
// allows. Views are addressed by the URL fragment (#requests, #requests/<id>, #chat, ...), so the
// back button and bookmarks work; every view change moves focus to its heading.
import * as api from "../lib/api.js";
import { brandMark, branding } from "../lib/branding.js";
import { focusHeading, fullName, h, loading, mount } from "../lib/dom.js";
import { loginCard } from "../lib/login.js";
import { wholeDenialSentence } from "../lib/policy.js";
import { totpEnrolment } from "../lib/totp.js";
import { renderCalls } from "./calls.js";
import { channelsAvailable, renderChannels } from "./channels.js";
import { renderChat } from "./chat.js";
import { renderDocuments } from "./documents.js";
import { renderProfile } from "./profile.js";
import { renderRequests } from "./requests.js";

const app = document.getElementById("app");
const topbar = document.getElementById("topbar");
const state = { brand: null, me: null, companyId: null, channels: false, channelsHeld: false, signingOut: false };

const SECTIONS = [
  { id: "requests", label: "Requests", allowed: (p) => p.allowed_pipelines.length > 0, render: renderRequests },
  { id: "chat", label: "Chat", allowed: (p) => p.general_chat, render: renderChat },
  { id: "calls", label: "Calls", allowed: (p) => p.calls, render: renderCalls },
  { id: "documents", label: "Documents", allowed: () => true, render: renderDocuments },
  { id: "channels", label: "Channels", allowed: (p) => state.channels && (p.telegram || p.widget || state.channelsHeld), render: renderChannels },
  { id: "profile", label: "Profile", allowed: () => true, render: renderProfile },
];

function company() {
  return (state.me.companies || []).find((c) => c.id === state.companyId) || null;
}

/** The effective policy of the chosen company (all denied when the company is unknown). */
function policy() {
  const c = company();
  return c ? c.effective_policy : { allowed_pipelines: [], denials: [], denied_as_a_whole: { level: "company", reason: "this company is not on your account" } };
}

const ctx = {
  get me() {
    return state.me;
  },
  get company() {
    return company();
  },
  get policy() {
    return policy();
  },
  go(hash) {
    if (location.hash === `#${hash}`) route();
    else location.hash = hash;
  },
  async reloadMe() {
    state.me = await api.get("/api/me");
    renderFrame();
  },
};

function topbarSignedOut() {
  topbar.replaceChildren(brandMark(state.brand));
}

function renderLogin(notice) {
  topbarSignedOut();
  document.title = `Sign in · ${state.brand.portal_name}`;
  mount(
    app,
    h(
      "main",
      { id: "main", class: "narrow", tabindex: "-1" },
      loginCard({
        title: "Sign in",
        intro: `Welcome to ${state.brand.portal_name}. Sign in to follow your requests, talk to the team and sign documents.`,
        notice,
        onSignedIn: (session) => enter(session),
      }),
      h("p", { class: "muted small" }, "First time here? Open the activation link from your invitation message to set your password."),
    ),
  );
  const first = app.querySelector("input[name=login]");
  if (first && !notice) first.focus();
  else focusHeading(app);
}

function renderEnrolment() {
  topbarSignedOut();
  mount(
    app,
    h(
      "main",
      { id: "main", class: "narrow", tabindex: "-1" },
      h(
        "section",
        { class: "card" },
        h("h1", {}, "Set up two-factor authentication"),
        h("p", {}, "Your portal requires a code from an authenticator app. Set it up to continue."),
        totpEnrolment({ autoStart: true, onDone: () => enter() }),
        h("div", { class: "actions" }, h("button", { type: "button", onclick: signOut }, "Sign out")),
      ),
    ),
  );
  focusHeading(app);
}

function renderEmployee() {
  topbar.replaceChildren(brandMark(state.brand), signOutButton());
  mount(
    app,
    h(
      "main",
      { id: "main", class: "narrow", tabindex: "-1" },
      h(
        "section",
        { class: "card" },
        h("h1", {}, "This portal is for clients"),
        h("p", {}, `You are signed in as ${fullName(state.me.user)}, an employee. Client links, invitations and permissions are managed in the governance console.`),
        h("p", {}, h("a", { class: "button primary", href: "/extranet-governance" }, "Open the governance console")),
      ),
    ),
  );
  focusHeading(app);
}

function signOutButton() {
  return h("button", { type: "button", onclick: signOut }, "Sign out");
}

async function signOut() {
  state.signingOut = true;
  try {
    await api.logout();
  } finally {
    state.me = null;
    state.signingOut = false;
    renderLogin("You have signed out.");
  }
}

function companySwitcher() {
  const companies = state.me.companies || [];
  if (companies.length <= 1) {
    return companies.length ? h("span", { class: "who hide-phone" }, companies[0].name) : null;
  }
  const select = h(
    "select",
    { id: "company-switch", "aria-label": "Company" },
    companies.map((c) => h("option", { value: c.id, selected: c.id === state.companyId }, c.is_default ? `${c.name} (default)` : c.name)),
  );
  select.addEventListener("change", () => {
    state.companyId = select.value;
    renderFrame();
    ctx.go("requests");
  });
  return h("div", { class: "row" }, h("label", { for: "company-switch", class: "visually-hidden" }, "Company"), select);
}

let nav;
let content;

/** The signed-in frame: top bar with company switcher, the section navigation and the content. */
function renderFrame() {
  const p = policy();
  topbar.replaceChildren(
    brandMark(state.brand),
    companySwitcher(),
    h("span", { class: "who hide-phone" }, fullName(state.me.user)),
    signOutButton(),
  );
  nav = h(
    "nav",
    { class: "sidenav", "aria-label": "Portal sections" },
    h("ul", {}, SECTIONS.filter((s) => s.allowed(p)).map((s) => h("li", {}, h("a", { href: `#${s.id}`, dataset: { section: s.id } }, s.label)))),
  );
  content = h("main", { id: "main", class: "content", tabindex: "-1" });
  mount(app, h("div", { class: "shell" }, nav, content));
  route(false);
}

/** Render the view named by the fragment; unknown or not-allowed sections fall back to the first. */
function route(focus = true) {
  if (!state.me || !content) return;
  const [id, ...rest] = location.hash.replace(/^#/, "").split("/");
  const p = policy();
  const allowed = SECTIONS.filter((s) => s.allowed(p));
  const section = allowed.find((s) => s.id === id) || allowed[0];
  for (const a of nav.querySelectorAll("a")) {
    if (a.dataset.section === section.id) {
      a.setAttribute("aria-current", "page");
      // On phones the navigation is a scrolling strip: keep the current section in sight.
      if (nav.scrollWidth > nav.clientWidth) nav.scrollLeft = Math.max(0, a.offsetLeft - 16);
    } else a.removeAttribute("aria-current");
  }
  const c = company();
  document.title = `${section.label} · ${state.brand.portal_name}`;
  mount(content);
  if (p.denied_as_a_whole && c) {
    content.append(h("div", { class: "alert warn", role: "status" }, h("p", {}, `Access at ${c.name} is paused. ${wholeDenialSentence(p.denied_as_a_whole)} Contact your account manager.`)));
  }
  const view = h("div");
  content.append(view);
  section.render(ctx, view, rest.join("/")).catch((err) => {
    if (err && err.status !== 401) view.append(h("div", { class: "state error", role: "alert" }, err.message));
  });
  if (focus) queueMicrotask(() => focusHeading(content));
}

function allowedIds() {
  const p = policy();
  return SECTIONS.filter((s) => s.allowed(p)).map((s) => s.id).join(",");
}

/** After sign-in or a restored session: load who we are and show the portal. */
async function enter(session) {
  if (session && session.mfa_enrollment_required) return renderEnrolment();
  mount(app, h("main", { id: "main", class: "narrow" }, loading("Opening your portal…")));
  const me = await api.get("/api/me");
  state.me = me;
  if (me.session_scope === "mfa_enroll") return renderEnrolment();
  if (me.roles && !me.link) return renderEmployee();
  const companies = me.companies || [];
  const def = companies.find((c) => c.is_default) || companies[0];
  if (!state.companyId || !companies.some((c) => c.id === state.companyId)) state.companyId = def ? def.id : null;
  const channels = await channelsAvailable();
  state.channels = channels.available;
  state.channelsHeld = channels.count > 0;
  renderFrame();
  focusHeading(content);
}

api.on("signedout", () => {
  if (state.signingOut) return;
  state.me = null;
  renderLogin("Your session has ended or your access has changed. Sign in again to continue.");
});
api.on("refreshed", async ({ stale }) => {
  // The policy changed under us: recompute what to offer.
  if (stale && state.me) {
    try {
      const before = allowedIds();
      state.me = await api.get("/api/me");
      if (allowedIds() !== before || !company()) renderFrame();
    } catch {
      // The signed-out handler has taken over.
    }
  }
});
api.on("mfa", () => renderEnrolment());
window.addEventListener("hashchange", () => route());

async function boot() {
  state.brand = await branding();
  topbarSignedOut();
  try {
    const session = await api.refresh();
    if (session) return await enter(session);
  } catch {
    // Offline or the server is down: the sign-in form will say so when used.
  }
  renderLogin();
}

boot();
