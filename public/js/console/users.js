// Users: clients and employees (as far as the caller may see them: a manager sees the clients of
// their companies), with search, status, lockout and two-factor state, and the actions an
// employee needs without touching the API: block or unblock, unlock, reset two-factor, and the
// user's sessions (list, end them all). Admins also invite employees and set an employee's role and
// the companies a manager governs (PUT /api/admin/employees/{id}).
import { get, patch, post, put } from "../lib/api.js";
import { badge, confirmDialog, empty, failure, fullName, h, loading, mount, secretBox, statusBadge, time, toast, uid } from "../lib/dom.js";
import { checkbox, field, formAlert, onSubmit } from "../lib/forms.js";

const filters = { q: "", kind: "" };

export async function renderUsers(ctx, el, id) {
  if (id) return detailView(ctx, el, id);
  const searchId = uid("users-q");
  const kindId = uid("users-kind");
  const input = h("input", { id: searchId, type: "search", value: filters.q, placeholder: "Name, login or email", autocomplete: "off" });
  const kind = h("select", { id: kindId }, [["", "Clients and employees"], ["external", "Clients"], ["employee", "Employees"]].map(([v, t]) => h("option", { value: v, selected: v === filters.kind }, t)));
  const results = h("div", { "aria-live": "polite" });
  let timer = null;
  async function search() {
    filters.q = input.value.trim();
    filters.kind = kind.value;
    mount(results, loading("Searching users…"));
    try {
      const page = await get("/api/admin/users", { q: filters.q, kind: filters.kind, limit: 50 });
      if (!page.items.length) return mount(results, empty("No user matches."));
      mount(results, h("ul", { class: "list", "aria-label": "Users" }, page.items.map(row)));
    } catch (err) {
      if (err.status !== 401) mount(results, failure(err, search));
    }
  }
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(search, 250);
  });
  kind.addEventListener("change", search);
  mount(
    el,
    h("h1", {}, "Users"),
    h("p", { class: "muted" }, "Clients and employees: block or unblock, unlock a locked account, reset two-factor authentication, end sessions."),
    h("form", { class: "card", role: "search", "aria-label": "Find users", onsubmit: (ev) => ev.preventDefault() },
      h("div", { class: "cols" },
        h("div", { class: "field" }, h("label", { for: searchId }, "Find a user"), input),
        h("div", { class: "field" }, h("label", { for: kindId }, "Kind"), kind))),
    ctx.isAdmin ? await employeeCard(ctx, null, (u) => ctx.go(`users/${u.id}`)) : null,
    results,
  );
  await search();
}

/**
 * Invite a new employee (`existing` null) or change an existing one's role and companies. A new one
 * gets an invitation whose activation link is shown once, to hand over on a channel of the admin's
 * choice.
 */
async function employeeCard(ctx, existing, onSaved) {
  const companies = await ctx.cached("companies", "/api/admin/companies").catch(() => []);
  const fields = existing
    ? []
    : [
        field({ label: "First name", name: "first_name", required: true }),
        field({ label: "Last name", name: "last_name", required: true }),
        field({ label: "Login", name: "login", required: true, autocomplete: "off" }),
        field({ label: "Email", name: "email", kind: "email", required: true, autocomplete: "off" }),
      ];
  const role = field({ label: "Role", name: "role", kind: "select", value: existing ? existing.role : "manager", options: [{ value: "manager", label: "Manager: governs the companies below" }, { value: "admin", label: "Admin: everything, security and branding included" }] });
  const scope = new Set((existing && existing.company_ids) || []);
  const boxes = companies.map((c) => checkbox({ label: c.name, name: "company_ids", value: c.id, checked: scope.has(c.id) }));
  const out = h("div", { "aria-live": "polite" });
  const byEmail = existing ? null : checkbox({ label: "Also send the link to that address", name: "send_email", checked: true, hint: "When the portal sends mail (see Delivery); the link is shown here once either way." });
  const form = h("form", { "aria-label": existing ? "Role and companies" : "Invite an employee" }, formAlert(),
    fields.length ? h("div", { class: "cols" }, fields) : null,
    byEmail,
    role,
    h("fieldset", {}, h("legend", {}, "Companies governed (managers)"), boxes.length ? boxes : h("p", { class: "muted" }, "No company yet: the CRM creates them.")),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, existing ? "Save role and companies" : "Invite employee")),
    out);
  onSubmit(form, async (data) => {
    const body = existing
      ? { login: existing.login, email: existing.email, first_name: existing.first_name, last_name: existing.last_name }
      : { login: String(data.get("login")).trim(), email: String(data.get("email")).trim(), first_name: String(data.get("first_name")).trim(), last_name: String(data.get("last_name")).trim() };
    const extra = existing ? {} : { send_email: byEmail.control.checked };
    const saved = await put(`/api/admin/employees/${existing ? existing.id : crypto.randomUUID()}`, { ...body, ...extra, role: data.get("role"), company_ids: data.getAll("company_ids") });
    if (saved.invitation && saved.invitation.activation_url) {
      // Reset first: the link's box sits inside the form, and a reset would empty it.
      form.reset();
      const sent = saved.invitation.emailed_to ? ` The link was emailed to ${saved.invitation.emailed_to};` : "";
      mount(out,
        h("div", { class: "alert ok", role: "status" }, h("p", {}, `${fullName(saved)} is invited.${sent} Hand the link over on a channel you trust if needed; it is shown only now.`)),
        secretBox("Activation link", saved.invitation.activation_url),
        h("p", {}, h("a", { href: `#users/${saved.id}` }, `Open ${fullName(saved)}`)));
      toast("Employee invited.");
    } else {
      toast("Role and companies saved.");
      if (onSaved) onSaved(saved);
    }
  });
  return existing
    ? h("section", { class: "card", "aria-labelledby": "user-role-title" }, h("h2", { id: "user-role-title" }, "Role and companies"), form)
    : h("details", { class: "card" }, h("summary", {}, "Invite an employee"), form);
}

function states(u) {
  return [
    statusBadge(u.status),
    " ",
    badge(u.kind === "employee" ? u.role || "employee" : "client"),
    u.locked ? [" ", badge("locked", "bad")] : null,
    " ",
    badge(u.mfa_enrolled ? "two-factor on" : "two-factor off", u.mfa_enrolled ? "ok" : ""),
  ];
}

function row(u) {
  return h(
    "li",
    {},
    h("div", { class: "item-head" }, h("a", { class: "title", href: `#users/${u.id}` }, fullName(u) || u.login), h("span", {}, states(u))),
    h("div", { class: "small muted" }, u.login, u.email && u.email !== u.login ? ` · ${u.email}` : "", (u.links || []).length ? ` · ${(u.links || []).length} link(s)` : ""),
  );
}

async function detailView(ctx, el, id) {
  mount(el, loading("Loading the user…"));
  let u;
  try {
    u = await get(`/api/admin/users/${encodeURIComponent(id)}`);
  } catch (err) {
    if (err.status === 404) {
      return mount(el, h("h1", {}, "User not found"), empty("This user does not exist or is not one you govern."), h("p", {}, h("a", { href: "#users" }, "Back to users")));
    }
    if (err.status !== 401) mount(el, failure(err, () => detailView(ctx, el, id)));
    return;
  }
  const companies = await ctx.cached("companies", "/api/admin/companies").catch(() => []);
  const companyName = new Map(companies.map((c) => [c.id, c.name]));
  const name = fullName(u) || u.login;
  const head = h("p", { class: "states" }, states(u));
  const actions = h("div", { class: "actions" });
  const sessions = h("div", { "aria-live": "polite" });
  const refresh = () => detailView(ctx, el, id);

  const act = (label, { title, body, danger, run, done }) =>
    h("button", {
      type: "button",
      class: danger ? "danger" : null,
      onclick: async () => {
        if (!(await confirmDialog({ title, body, confirm: label, danger }))) return;
        try {
          await run();
          toast(done);
          await refresh();
        } catch (err) {
          if (err.status !== 401) toast(err.message);
        }
      },
    }, label);

  const self = ctx.me && ctx.me.user && ctx.me.user.id === u.id;
  if (!self) {
    actions.append(
      u.status === "blocked"
        ? act("Unblock", { title: `Unblock ${name}?`, body: "They can sign in again; their links keep their own status.", run: () => patch(`/api/admin/users/${id}`, { status: "active" }), done: `${name} is unblocked.` })
        : act("Block", { title: `Block ${name}?`, body: "Every session ends at once and they cannot sign in until unblocked.", danger: true, run: () => patch(`/api/admin/users/${id}`, { status: "blocked" }), done: `${name} is blocked; their sessions ended.` }),
    );
  }
  if (u.locked) {
    actions.append(act("Unlock", { title: `Unlock ${name}?`, body: "The lockout after failed sign-ins is cleared; they can try again at once.", run: () => post(`/api/admin/users/${id}/unlock`, {}), done: `${name} is unlocked.` }));
  }
  if (u.mfa_enrolled && !self) {
    actions.append(act("Reset two-factor", { title: `Reset ${name}'s two-factor authentication?`, body: "Their authenticator stops working; they set up a new one at their next sign-in (employees must).", danger: true, run: () => post(`/api/admin/users/${id}/mfa/reset`, {}), done: `${name}'s two-factor authentication was reset.` }));
  }

  async function loadSessions() {
    mount(sessions, loading("Loading sessions…"));
    try {
      const page = await get(`/api/admin/users/${id}/sessions`, { limit: 50 });
      const live = page.items.filter((s) => s.status === "live");
      mount(
        sessions,
        page.items.length
          ? h("ul", { class: "list", "aria-label": `Sessions of ${name}` }, page.items.map((s) =>
              h("li", {},
                h("div", { class: "item-head" }, h("span", { class: "title" }, s.user_agent || "Unknown device"), badge(s.status, s.status === "live" ? "ok" : "")),
                h("div", { class: "small muted" }, `${s.ip || "unknown address"}${s.country ? ` (${s.country})` : ""} · started `, time(s.created_at), " · last seen ", time(s.last_seen_at),
                  s.revoked_reason ? ` · ended: ${s.revoked_reason}` : ""),
                s.status === "live" && !self
                  ? h("div", { class: "actions" }, act("End this session", { title: "End this session?", body: "Its next request is refused; the user's other sessions go on.", danger: true, run: () => post(`/api/admin/users/${id}/sessions/revoke`, { session_id: s.id }), done: "The session ended." }))
                  : null)))
          : empty("No sessions."),
        live.length && !self
          ? act("End all sessions", { title: `End all of ${name}'s sessions?`, body: `${live.length} live session(s) end at once; their next request is refused and they must sign in again.`, danger: true, run: () => post(`/api/admin/users/${id}/sessions/revoke`, {}), done: `${name}'s sessions ended.` })
          : null,
      );
    } catch (err) {
      if (err.status !== 401) mount(sessions, failure(err, loadSessions));
    }
  }

  mount(
    el,
    h("p", { class: "small" }, h("a", { href: "#users" }, "← All users")),
    h("h1", {}, name),
    h("div", { class: "card" },
      head,
      h("dl", { class: "facts" },
        h("dt", {}, "Login"), h("dd", {}, u.login),
        h("dt", {}, "Email"), h("dd", {}, u.email || "—"),
        h("dt", {}, "Password set"), h("dd", {}, u.has_password ? "yes" : "no (invitation not used yet)"),
        h("dt", {}, "Last sign-in"), h("dd", {}, u.last_login_at ? time(u.last_login_at) : "never"),
        u.locked_until ? [h("dt", {}, "Locked until"), h("dd", {}, time(u.locked_until))] : null,
        h("dt", {}, "Links"), h("dd", {}, (u.links || []).length ? (u.links || []).map((l, i) => [i ? ", " : "", h("a", { href: `#links/${l.id}` }, `${(l.company_ids || []).map((c) => companyName.get(c) || c).join(", ")} (${l.status})`)]) : "—"),
        h("dt", {}, "Created"), h("dd", {}, time(u.created_at))),
      actions.childElementCount ? actions : null),
    ctx.isAdmin && u.kind === "employee" && !self ? await employeeCard(ctx, u, () => refresh()) : null,
    h("section", { class: "card", "aria-labelledby": "user-sessions-title" }, h("h2", { id: "user-sessions-title" }, "Sessions"), sessions),
  );
  loadSessions();
}
