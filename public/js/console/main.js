// The governance console (/extranet-governance), in the sections the employees' guide names:
// client links, link wizard, invitations, permissions, security, channel links, diagnostics, audit
// log and offboarding; delivery (Telegram, email, CRM webhooks); and the team's own work on the clients' requests. Views are addressed by the fragment (#links, #permissions/<link id>, ...);
// the sections about one link work on the selected link.
import * as api from "../lib/api.js";
import { focusHeading, fullName, h, loading, mount } from "../lib/dom.js";
import { loginCard } from "../lib/login.js";
import { totpEnrolment } from "../lib/totp.js";
import { renderAudit } from "./audit.js";
import { renderBranding } from "./branding.js";
import { renderChannelLinks } from "./channels.js";
import { renderDelivery } from "./delivery.js";
import { renderDocuments } from "./documents.js";
import { renderDiagnostics } from "./diagnostics.js";
import { renderInvitations } from "./invitations.js";
import { renderLinks } from "./links.js";
import { renderOffboarding } from "./offboarding.js";
import { renderRequests } from "./requests.js";
import { renderUsers } from "./users.js";
import { renderPermissions } from "./permissions.js";
import { renderSecurity } from "./security.js";
import { renderWizard } from "./wizard.js";

const app = document.getElementById("app");
const topbar = document.getElementById("topbar");

const SECTIONS = [
  { id: "links", label: "Client links", render: renderLinks },
  { id: "requests", label: "Requests", render: renderRequests },
  { id: "documents", label: "Documents", render: renderDocuments },
  { id: "wizard", label: "Link wizard", render: renderWizard },
  { id: "invitations", label: "Invitations", render: renderInvitations, perLink: true },
  { id: "permissions", label: "Permissions", render: renderPermissions, perLink: true },
  { id: "users", label: "Users", render: renderUsers },
  { id: "security", label: "Security", render: renderSecurity },
  { id: "branding", label: "Branding", render: renderBranding },
  { id: "delivery", label: "Delivery", render: renderDelivery },
  { id: "channels", label: "Channel links", render: renderChannelLinks },
  { id: "diagnostics", label: "Diagnostics", render: renderDiagnostics, perLink: true },
  { id: "audit", label: "Audit log", render: renderAudit },
  { id: "offboarding", label: "Offboarding", render: renderOffboarding, perLink: true },
];

const state = { me: null, link: null, signingOut: false, cache: {} };

const ctx = {
  get me() {
    return state.me;
  },
  get isAdmin() {
    return (state.me.roles || []).includes("admin");
  },
  /** The selected link (full object from GET /api/admin/links/{id}) or null. */
  get link() {
    return state.link;
  },
  go(hash) {
    if (location.hash === `#${hash}`) route();
    else location.hash = hash;
  },
  /** Select a link (by id) for the per-link sections; reloads it from the API. */
  async selectLink(id) {
    state.link = id ? await api.get(`/api/admin/links/${encodeURIComponent(id)}`) : null;
    updateNav();
    return state.link;
  },
  setLink(link) {
    state.link = link;
    updateNav();
  },
  /** Lists that rarely change, loaded once per page: companies, pipelines. */
  async cached(key, path) {
    if (!state.cache[key]) {
      state.cache[key] = api.get(path, { limit: 200 }).then((r) => r.items || []);
      state.cache[key].catch(() => delete state.cache[key]);
    }
    return state.cache[key];
  },
  forget(key) {
    delete state.cache[key];
  },
};

function signOutButton() {
  return h("button", { type: "button", onclick: signOut }, "Sign out");
}

async function signOut() {
  state.signingOut = true;
  try {
    await api.logout();
  } finally {
    state.me = null;
    state.link = null;
    state.signingOut = false;
    renderLogin("You have signed out.");
  }
}

function brand() {
  return h("a", { class: "brand", href: "/extranet-governance" }, h("span", { class: "brand-mark", "aria-hidden": "true" }, "E"), h("span", {}, "Extranet Governance"));
}

function renderLogin(notice) {
  topbar.replaceChildren(brand());
  document.title = "Sign in · Extranet Governance";
  mount(
    app,
    h(
      "main",
      { id: "main", class: "narrow", tabindex: "-1" },
      loginCard({
        title: "Sign in to Extranet Governance",
        intro: "For employees who grant and govern clients' access to the portal.",
        notice,
        onSignedIn: (session) => enter(session),
      }),
    ),
  );
  const first = app.querySelector("input[name=login]");
  if (first && !notice) first.focus();
  else focusHeading(app);
}

function renderSimple(title, ...body) {
  topbar.replaceChildren(brand(), signOutButton());
  mount(app, h("main", { id: "main", class: "narrow", tabindex: "-1" }, h("section", { class: "card" }, h("h1", {}, title), ...body)));
  focusHeading(app);
}

let nav;
let content;

function navHref(s) {
  return s.perLink && state.link ? `#${s.id}/${state.link.id}` : `#${s.id}`;
}

function updateNav() {
  if (!nav) return;
  for (const a of nav.querySelectorAll("a")) {
    const s = SECTIONS.find((x) => x.id === a.dataset.section);
    a.setAttribute("href", navHref(s));
  }
}

function renderFrame() {
  const role = (state.me.roles || []).join(", ");
  topbar.replaceChildren(brand(), h("span", { class: "who hide-phone" }, `${fullName(state.me.user)} · ${role}`), signOutButton());
  nav = h(
    "nav",
    { class: "sidenav", "aria-label": "Console sections" },
    h("ul", {}, SECTIONS.map((s) => h("li", {}, h("a", { href: navHref(s), dataset: { section: s.id } }, s.label)))),
  );
  content = h("main", { id: "main", class: "content", tabindex: "-1" });
  mount(app, h("div", { class: "shell" }, nav, content));
  route(false);
}

async function route(focus = true) {
  if (!state.me || !content) return;
  const [id, ...rest] = location.hash.replace(/^#/, "").split("/");
  const section = SECTIONS.find((s) => s.id === id) || SECTIONS[0];
  const param = rest.join("/");
  for (const a of nav.querySelectorAll("a")) {
    if (a.dataset.section === section.id) {
      a.setAttribute("aria-current", "page");
      // On phones the navigation is a scrolling strip: keep the current section in sight.
      if (nav.scrollWidth > nav.clientWidth) nav.scrollLeft = Math.max(0, a.offsetLeft - 16);
    } else a.removeAttribute("aria-current");
  }
  document.title = `${section.label} · Extranet Governance`;
  const view = h("div");
  mount(content, view);
  try {
    if (section.perLink && param && (!state.link || state.link.id !== param)) {
      mount(view, loading("Loading the link…"));
      try {
        await ctx.selectLink(param);
      } catch (err) {
        if (err.status === 404) state.link = null;
        else throw err;
      }
      mount(view);
    }
    await section.render(ctx, view, param);
  } catch (err) {
    if (err && err.status !== 401) view.append(h("div", { class: "state error", role: "alert" }, err.message));
  }
  if (focus) focusHeading(content);
}

async function enter(session) {
  if (session && session.mfa_enrollment_required) return enrol();
  mount(app, h("main", { id: "main", class: "narrow" }, loading("Opening the console…")));
  const me = await api.get("/api/me");
  state.me = me;
  if (me.session_scope === "mfa_enroll") return enrol();
  if (!me.roles || me.roles.length === 0) {
    return renderSimple(
      "This console is for employees",
      h("p", {}, `You are signed in as ${fullName(me.user)}, a client. Your requests and documents are in the client portal.`),
      h("p", {}, h("a", { class: "button primary", href: "/" }, "Open the client portal")),
    );
  }
  renderFrame();
  focusHeading(content);
}

function enrol() {
  renderSimple(
    "Set up two-factor authentication",
    h("p", {}, "Two-factor authentication is required for employees. Add your account to an authenticator app to continue."),
    totpEnrolment({ autoStart: true, onDone: () => enter() }),
  );
}

api.on("signedout", () => {
  if (state.signingOut) return;
  state.me = null;
  renderLogin("Your session has ended. Sign in again to continue.");
});
api.on("mfa", () => enrol());
window.addEventListener("hashchange", () => route());

async function boot() {
  topbar.replaceChildren(brand());
  try {
    const session = await api.refresh();
    if (session) return await enter(session);
  } catch {
    // The sign-in form reports problems when used.
  }
  renderLogin();
}

boot();
