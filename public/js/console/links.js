// Client links: the list (search, status filter, review due, company) and one link's details with
// its status actions (disable pauses, revoke ends), access review (mark reviewed, set the date),
// default company, and its channel links with their companies, revoked in place.
import { get, patch, post } from "../lib/api.js";
import { badge, confirmDialog, day, empty, failure, fullName, h, loading, mount, statusBadge, time, toast, uid } from "../lib/dom.js";
import { checkbox, field, formAlert, onSubmit } from "../lib/forms.js";
import { linkSummary } from "./shared.js";

export async function renderLinks(ctx, el, param) {
  if (param) return detail(ctx, el, param);
  return list(ctx, el);
}

function labelled(labelText, control) {
  const id = uid("f");
  control.id = id;
  return h("div", { class: "grow" }, h("label", { for: id, class: "label" }, labelText), control);
}

async function list(ctx, el) {
  const q = h("input", { type: "search", placeholder: "Name, login, contact or company", autocomplete: "off" });
  const status = h("select", {}, ["", "active", "disabled", "revoked"].map((s) => h("option", { value: s }, s ? s[0].toUpperCase() + s.slice(1) : "Any status")));
  const company = h("select", {}, h("option", { value: "" }, "Any company"));
  const due = h("input", { type: "checkbox", id: uid("due") });
  const mine = h("input", { type: "checkbox", id: uid("mine") });
  const results = h("div");
  const more = h("div", { class: "actions" });
  mount(
    el,
    h("div", { class: "section-head" }, h("h1", {}, "Client links"), h("a", { class: "button primary", href: "#wizard" }, "Link a client")),
    h("p", { class: "muted" }, "Each link connects a portal user to a CRM contact and one or more companies. Select a link to see its permissions, invitations and diagnostics."),
    h(
      "form",
      { class: "card row", role: "search", "aria-label": "Filter client links", onsubmit: (e) => e.preventDefault() },
      labelled("Search", q),
      labelled("Status", status),
      labelled("Company", company),
      h("div", { class: "check" }, due, h("label", { for: due.id }, "Review due only")),
      h("div", { class: "check" }, mine, h("label", { for: mine.id }, "Only links I answer for")),
    ),
    results,
    more,
  );
  ctx.cached("companies", "/api/admin/companies")
    .then((cs) => company.append(...cs.map((c) => h("option", { value: c.id }, c.name))))
    .catch(() => {});

  let cursor = null;
  async function page(reset) {
    if (reset) {
      cursor = null;
      mount(results, loading("Loading links…"));
    }
    mount(more);
    try {
      const res = await get("/api/admin/links", { q: q.value.trim(), status: status.value, company: company.value, review_due: due.checked ? "true" : "", responsible: mine.checked ? ctx.me.user.id : "", cursor, limit: 25 });
      if (reset) {
        mount(results, res.items.length ? h("ul", { class: "list", "aria-label": "Client links" }) : empty(q.value || status.value || due.checked || mine.checked || company.value ? "No link matches these filters." : "No client links yet. Use “Link a client” to connect the first one."));
      }
      const ul = results.querySelector("ul");
      for (const l of res.items) {
        ul.append(
          h(
            "li",
            { class: ctx.link && ctx.link.id === l.id ? "selected" : "" },
            h("div", { class: "item-head" }, h("a", { class: "title", href: `#links/${l.id}` }, fullName(l.user)), statusBadge(l.status), l.review_due ? badge("review due", "warn") : null),
            h("div", { class: "small" }, `${l.user.login} · contact ${l.contact.name} · `, (l.companies || []).map((c) => (c.id === l.default_company_id ? `${c.name} (default)` : c.name)).join(", ")),
            h("div", { class: "small muted" }, "Created ", time(l.created_at, true), " · review by ", time(l.review_at, true), l.responsible ? ` · responsible: ${l.responsible.name}` : " · no responsible"),
          ),
        );
      }
      cursor = res.next_cursor;
      if (cursor) mount(more, h("button", { type: "button", onclick: () => page(false) }, "Show more links"));
    } catch (err) {
      if (err.status !== 401) mount(results, failure(err, () => page(true)));
    }
  }
  let timer = null;
  q.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => page(true), 250);
  });
  for (const c of [status, company, due, mine]) c.addEventListener("change", () => page(true));
  await page(true);
}

async function detail(ctx, el, id) {
  mount(el, loading("Loading the link…"));
  let link;
  try {
    link = await ctx.selectLink(id);
  } catch (err) {
    if (err.status === 404) return mount(el, h("h1", {}, "Link not found"), empty("This link does not exist or is outside your companies."), h("p", {}, h("a", { href: "#links" }, "Back to client links")));
    if (err.status !== 401) mount(el, h("h1", {}, "Client link"), failure(err, () => detail(ctx, el, id)));
    return;
  }
  const out = h("div", { role: "status" });

  async function change(body, message) {
    try {
      const updated = await patch(`/api/admin/links/${link.id}`, body);
      ctx.setLink(updated);
      toast(message);
      await detail(ctx, el, link.id);
    } catch (err) {
      if (err.status !== 401) mount(out, h("div", { class: "alert error", role: "alert" }, h("p", {}, err.message)));
    }
  }

  const actions = [];
  if (link.status === "active") {
    actions.push(h("button", {
      type: "button",
      onclick: async () => {
        if (await confirmDialog({ title: `Disable ${fullName(link.user)}'s access?`, body: "Access pauses at once: open sessions end at their next action. The link stays and can be enabled again.", confirm: "Disable link", danger: true })) {
          change({ status: "disabled" }, "Link disabled.");
        }
      },
    }, "Disable link"));
  }
  if (link.status === "disabled") actions.push(h("button", { type: "button", class: "primary", onclick: () => change({ status: "active" }, "Link enabled.") }, "Enable link"));
  if (link.status !== "revoked") {
    actions.push(h("button", {
      type: "button",
      class: "danger",
      onclick: async () => {
        if (await confirmDialog({ title: "Revoke this link for good?", body: "Revoking is final: the link cannot be reactivated. For a pause, disable it instead. To also revoke invitations and channel links, use Offboarding.", confirm: "Revoke link", danger: true })) {
          change({ status: "revoked" }, "Link revoked.");
        }
      },
    }, "Revoke link"));
    actions.push(h("button", { type: "button", onclick: () => change({ reviewed: true }, "Access review recorded.") }, "Mark access as reviewed"));
  }

  let defaultForm = null;
  if (link.status !== "revoked" && (link.companies || []).length > 1) {
    const sel = h("select", { id: uid("def") }, link.companies.map((c) => h("option", { value: c.id, selected: c.id === link.default_company_id }, c.name)));
    defaultForm = h(
      "form",
      { class: "inline-form", onsubmit: (e) => { e.preventDefault(); change({ default_company_id: sel.value }, "Default company changed."); } },
      h("div", { class: "field" }, h("label", { for: sel.id }, "Default company"), sel),
      h("button", { type: "submit" }, "Save default company"),
    );
  }

  let reviewForm = null;
  if (link.status !== "revoked") {
    const dateId = uid("review");
    const date = h("input", { id: dateId, type: "date", name: "review_at", value: (link.review_at || "").slice(0, 10), required: true });
    reviewForm = h(
      "form",
      {
        class: "inline-form",
        onsubmit: (e) => {
          e.preventDefault();
          // The end of the chosen day, UTC: "review by" that date.
          if (date.value) change({ review_at: `${date.value}T23:59:59Z` }, "Review date set.");
        },
      },
      h("div", { class: "field" }, h("label", { for: dateId }, "Review access by"), date),
      h("button", { type: "submit" }, "Set review date"),
    );
  }

  // The link's companies, among the contact's companies in the CRM; the API runs the wizard's
  // checks (archived, outside the contact, outside the employee's scope) and names what it refuses.
  let companiesForm = null;
  if (link.status !== "revoked") {
    const [contacts, companies] = await Promise.all([ctx.cached("contacts", "/api/admin/contacts").catch(() => []), ctx.cached("companies", "/api/admin/companies").catch(() => [])]);
    const contact = contacts.find((c) => c.id === link.contact.id);
    const names = new Map(companies.map((c) => [c.id, c.name]));
    const on = new Set((link.companies || []).map((c) => c.id));
    const candidates = [...new Set([...on, ...((contact && contact.company_ids) || [])])];
    if (candidates.length > 1) {
      const form = h("form", { "aria-label": "Companies of this link" }, formAlert(),
        h("fieldset", {}, h("legend", {}, "Companies the client reaches through this link"),
          candidates.map((id) => checkbox({ label: names.get(id) || id, name: "company_ids", value: id, checked: on.has(id) }))),
        h("button", { type: "submit" }, "Save companies"));
      onSubmit(form, async (data) => {
        const chosen = data.getAll("company_ids");
        if (!chosen.length) throw { message: "A link needs at least one company." };
        const updated = await patch(`/api/admin/links/${link.id}`, { company_ids: chosen, default_company_id: chosen.includes(link.default_company_id) ? undefined : chosen[0] });
        ctx.setLink(updated);
        toast("Companies saved.");
        await detail(ctx, el, link.id);
      });
      companiesForm = form;
    }
  }

  // Who answers for the link: "me", or (admins) any employee; the API checks they govern it.
  let responsibleForm = null;
  if (link.status !== "revoked") {
    const people = ctx.isAdmin ? await get("/api/admin/users", { kind: "employee", limit: 200 }).then((r) => r.items.filter((u) => u.status === "active")).catch(() => []) : [];
    const options = [{ value: ctx.me.user.id, label: `Me (${fullName(ctx.me.user)})` }, ...people.filter((u) => u.id !== ctx.me.user.id).map((u) => ({ value: u.id, label: `${fullName(u)} · ${u.role}` }))];
    const choice = field({ label: "Responsible employee", name: "responsible_id", kind: "select", value: link.responsible ? link.responsible.id : ctx.me.user.id, options, hint: "Answers for this link: its reviews and the client's questions." });
    responsibleForm = h("form", { class: "inline-form", "aria-label": "Responsible employee" }, formAlert(), choice, h("button", { type: "submit" }, "Set responsible"));
    onSubmit(responsibleForm, async (data) => {
      const updated = await patch(`/api/admin/links/${link.id}`, { responsible_id: data.get("responsible_id") });
      ctx.setLink(updated);
      toast(`Responsible: ${updated.responsible ? updated.responsible.name : "none"}.`);
      await detail(ctx, el, link.id);
    });
  }

  const invitations = link.invitations || [];
  const channels = link.channel_links || [];
  const companyName = new Map((link.companies || []).map((c) => [c.id, c.name]));
  const revokeChannel = async (c) => {
    if (!(await confirmDialog({ title: `Revoke this ${c.kind} connection?`, body: "It stops at once: no more notifications or messages through it. The client can connect again if the policy allows.", confirm: "Revoke connection", danger: true }))) return;
    try {
      await post(`/api/admin/channel-links/${encodeURIComponent(c.id)}/revoke`, {});
      toast("Connection revoked.");
      await detail(ctx, el, link.id);
    } catch (err) {
      if (err.status !== 401) toast(err.message);
    }
  };
  const channelItem = (c) =>
    h(
      "li",
      {},
      h("div", { class: "item-head" }, h("span", { class: "title" }, `${c.kind}${c.external_label ? " · " + c.external_label : ""}`), statusBadge(c.status)),
      h("div", { class: "small muted" }, `${companyName.get(c.company_id) || c.company_name || "Unknown company"} · since `, time(c.created_at), c.revoked_at ? [" · revoked ", time(c.revoked_at)] : null),
      c.status !== "revoked"
        ? h("div", { class: "actions" }, h("button", { type: "button", class: "danger", onclick: () => revokeChannel(c) }, "Revoke", h("span", { class: "visually-hidden" }, ` ${c.kind} connection at ${companyName.get(c.company_id) || "the company"}`)))
        : null,
    );
  mount(
    el,
    h("p", { class: "small" }, h("a", { href: "#links" }, "← All client links")),
    h("div", { class: "section-head" }, h("h1", {}, fullName(link.user)), statusBadge(link.status), link.review_due ? badge("review due", "warn") : null),
    // The first activation makes a never-reviewed link due: the guide's check after the first login.
    link.review_due && !link.reviewed_at && link.user.has_password && link.status === "active"
      ? h("div", { class: "alert warn", role: "status" }, h("p", {}, `${fullName(link.user)} has signed in for the first time. Check the access once more: the effective policy (Permissions) and what this link sees (Diagnostics), then mark the access as reviewed.`))
      : null,
    out,
    h(
      "div",
      { class: "cols" },
      h(
        "section",
        { class: "card", "aria-labelledby": "ld-who" },
        h("h2", { id: "ld-who" }, "User, contact and companies"),
        h(
          "dl",
          { class: "facts" },
          h("dt", {}, "User"), h("dd", {}, `${fullName(link.user)} · ${link.user.login}`, link.user.status !== "active" ? [" ", statusBadge(link.user.status)] : null),
          h("dt", {}, "Password"), h("dd", {}, link.user.has_password ? "set" : "not set yet (invitation needed)"),
          h("dt", {}, "CRM contact"), h("dd", {}, `${link.contact.name} · ${link.contact.email || "no email"}`, link.contact.state !== "active" ? [" ", badge(link.contact.state, "warn")] : null),
          h("dt", {}, "Companies"), h("dd", {}, (link.companies || []).map((c) => (c.is_default ? `${c.name} (default)` : c.name)).join(", ")),
        ),
      ),
      h(
        "section",
        { class: "card", "aria-labelledby": "ld-life" },
        h("h2", { id: "ld-life" }, "Status and review"),
        h(
          "dl",
          { class: "facts" },
          h("dt", {}, "Status"), h("dd", {}, statusBadge(link.status)),
          h("dt", {}, "Created"), h("dd", {}, time(link.created_at)),
          h("dt", {}, "Access review"), h("dd", {}, `by ${day(link.review_at)}`, link.review_due ? [" ", badge("due", "warn")] : null),
          h("dt", {}, "Last reviewed"), h("dd", {}, link.reviewed_at ? time(link.reviewed_at) : "never"),
          h("dt", {}, "Responsible"), h("dd", {}, link.responsible ? link.responsible.name : "nobody yet"),
          link.revoked_at ? [h("dt", {}, "Revoked"), h("dd", {}, time(link.revoked_at))] : null,
          h("dt", {}, "Last sign-in"),
          h("dd", {}, link.last_sign_in ? [time(link.last_sign_in.at), link.last_sign_in.country ? ` from ${link.last_sign_in.country}` : ""] : "Never signed in"),
          h("dt", {}, "Client activity"),
          h("dd", {}, h("a", { href: `#audit/${encodeURIComponent(link.id)}` }, "What this client did")),
        ),
      ),
    ),
    h("section", { class: "card", "aria-labelledby": "ld-actions" }, h("h2", { id: "ld-actions" }, "Actions"), companiesForm, defaultForm, reviewForm, responsibleForm, h("div", { class: "actions" }, actions.length ? actions : h("p", { class: "muted" }, "A revoked link is final; a returning client gets a new link."))),
    h(
      "nav",
      { class: "card", "aria-label": "Work on this link" },
      h("h2", {}, "Work on this link"),
      h(
        "div",
        { class: "actions" },
        h("a", { class: "button", href: `#invitations/${link.id}` }, `Invitations (${invitations.length})`),
        h("a", { class: "button", href: `#permissions/${link.id}` }, "Permissions"),
        h("a", { class: "button", href: `#diagnostics/${link.id}` }, "Diagnostics"),
        h("a", { class: "button", href: `#offboarding/${link.id}` }, "Offboarding"),
      ),
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "ld-ch" },
      h("h2", { id: "ld-ch" }, "Channel links"),
      channels.length
        ? h("ul", { class: "list", "aria-label": "Channel links of this link" }, channels.map(channelItem))
        : h("p", { class: "muted" }, "No Telegram or widget connections."),
    ),
  );
  document.title = `${linkSummary(link)} · Client links · Extranet Governance`;
}
