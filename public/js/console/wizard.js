// The link wizard, in the guide's four steps: 1 user (existing or new), 2 CRM contact and companies
// with the default company, 3 review (POST /api/admin/links/preview: the combination, its blocking
// problems and its warnings; nothing is written), 4 confirmation (POST /api/admin/links).
import { get, post } from "../lib/api.js";
import { badge, empty, failure, fullName, h, loading, mount, toast, uid } from "../lib/dom.js";
import { field, formAlert, showError } from "../lib/forms.js";

const STEPS = ["User", "Contact and companies", "Review", "Confirmation"];

let w = fresh();
function fresh() {
  return { step: 0, mode: "new", user: null, newUser: { login: "", email: "", first_name: "", last_name: "" }, contact: null, companyIds: [], defaultId: null, preview: null, link: null, pendingError: null };
}

function stepper() {
  return h(
    "ol",
    { class: "steps", "aria-label": "Wizard steps" },
    STEPS.map((s, i) => h("li", { class: i < w.step ? "done" : "", "aria-current": i === w.step ? "step" : null }, s, i < w.step ? h("span", { class: "visually-hidden" }, " (done)") : null)),
  );
}

export async function renderWizard(ctx, el) {
  const body = h("div");
  const draw = () => {
    mount(
      el,
      h("div", { class: "section-head" }, h("h1", {}, "Link wizard"), w.step > 0 && w.step < 3 ? h("button", { type: "button", class: "link", onclick: () => { w = fresh(); draw(); } }, "Start over") : null),
      h("p", { class: "muted" }, "Connect a client: a portal user, their CRM contact and the companies they work with."),
      stepper(),
      body,
    );
    [stepUser, stepContact, stepReview, stepDone][w.step](ctx, body, go);
  };
  const go = (step) => {
    w.step = step;
    draw();
    const hd = el.querySelector("h2");
    if (hd) {
      hd.setAttribute("tabindex", "-1");
      hd.focus();
    }
  };
  draw();
}

/** Step 1: find an existing portal user, or enter a new one. */
function stepUser(ctx, el, go) {
  const modeName = uid("mode");
  const radio = (value, text) => {
    const id = uid("m");
    const input = h("input", { type: "radio", id, name: modeName, value, checked: w.mode === value });
    input.addEventListener("change", () => {
      w.mode = value;
      go(0);
    });
    return h("div", { class: "check" }, input, h("label", { for: id }, text));
  };
  const form = h("form", { "aria-labelledby": "wz-user" }, formAlert());
  const section = h(
    "section",
    { class: "card" },
    h("h2", { id: "wz-user" }, "Step 1 of 4: User"),
    h("fieldset", {}, h("legend", {}, "Who gets access?"), radio("new", "Create a new portal user"), radio("existing", "Find an existing portal user")),
    form,
  );
  mount(el, section);

  if (w.mode === "new") {
    const f = (label, key, kind, hint, autocomplete) => {
      const x = field({ label, name: `user.${key}`, kind, required: true, value: w.newUser[key], hint, autocomplete });
      x.control.addEventListener("input", () => (w.newUser[key] = x.control.value));
      return x;
    };
    form.append(
      h("p", { class: "muted small" }, "The new user gets no usable password: the client sets one through the invitation. One user per person, never a shared account."),
      h("div", { class: "cols" }, f("First name", "first_name", "text", null, "off"), f("Last name", "last_name", "text", null, "off")),
      f("Email", "email", "email", "The contact's confirmed email.", "off"),
      f("Login", "login", "text", "What the client signs in with; the email works well.", "off"),
      h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Next: contact and companies")),
    );
    const email = form.querySelector('[name="user.email"]');
    const login = form.querySelector('[name="user.login"]');
    email.addEventListener("input", () => {
      if (!login.dataset.touched) login.value = w.newUser.login = email.value;
    });
    login.addEventListener("input", () => (login.dataset.touched = "1"));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      for (const key of ["first_name", "last_name", "email", "login"]) {
        if (!w.newUser[key].trim()) return showError(form, { field: `user.${key}`, message: "This field is required." });
      }
      w.user = null;
      go(1);
    });
  } else {
    const id = uid("q");
    const q = h("input", { id, type: "search", autocomplete: "off", placeholder: "Name, login or email" });
    const results = h("div", { "aria-live": "polite" });
    const search = async () => {
      mount(results, loading("Searching users…"));
      try {
        const res = await get("/api/admin/users", { q: q.value.trim(), kind: "external", limit: 20 });
        if (!res.items.length) return mount(results, empty("No portal user matches. Create a new one instead."));
        mount(
          results,
          h(
            "ul",
            { class: "list", "aria-label": "Matching users" },
            res.items.map((u) =>
              h(
                "li",
                { class: w.user && w.user.id === u.id ? "selected" : "" },
                h("div", { class: "item-head" }, h("span", { class: "title" }, fullName(u)), u.status !== "active" ? badge(u.status, "bad") : null, (u.links || []).length ? badge(`${u.links.length} link(s)`, "info") : null),
                h("div", { class: "small muted" }, `${u.login}${u.email ? " · " + u.email : ""}`),
                h("div", { class: "actions" }, h("button", { type: "button", class: "primary", onclick: () => { w.user = u; go(1); } }, "Use this user", h("span", { class: "visually-hidden" }, ` ${fullName(u)}`))),
              ),
            ),
          ),
        );
      } catch (err) {
        if (err.status !== 401) mount(results, failure(err, search));
      }
    };
    let timer = null;
    q.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(search, 250);
    });
    form.append(h("div", { class: "field" }, h("label", { for: id }, "Find a user"), q), results);
    form.addEventListener("submit", (e) => e.preventDefault());
    search();
  }
  if (w.pendingError) {
    showError(form, w.pendingError);
    w.pendingError = null;
  }
}

/** Step 2: the CRM contact, the companies and the default company. */
async function stepContact(ctx, el, go) {
  const form = h("form", { "aria-labelledby": "wz-contact" }, formAlert());
  mount(el, h("section", { class: "card" }, h("h2", { id: "wz-contact" }, "Step 2 of 4: Contact and companies"), form));

  const qid = uid("cq");
  const q = h("input", { id: qid, type: "search", autocomplete: "off", placeholder: "Name or email", value: w.contact ? w.contact.email || "" : `${w.mode === "new" ? w.newUser.email : (w.user && w.user.email) || ""}` });
  const contacts = h("div", { "aria-live": "polite" });
  const companiesBox = h("div");
  const contactName = uid("contact");
  const contactErr = uid("contact-err");

  let allCompanies = [];
  const drawCompanies = () => {
    if (!w.contact) return mount(companiesBox, h("p", { class: "muted" }, "Choose the contact first: their CRM companies come first."));
    const related = new Set(w.contact.company_ids || []);
    const sorted = [...allCompanies].sort((a, b) => Number(related.has(b.id)) - Number(related.has(a.id)) || a.name.localeCompare(b.name));
    const defName = uid("def");
    const selected = sorted.filter((c) => w.companyIds.includes(c.id));
    if (w.defaultId && !w.companyIds.includes(w.defaultId)) w.defaultId = null;
    if (!w.defaultId && selected.length) w.defaultId = selected[0].id;
    mount(
      companiesBox,
      h(
        "fieldset",
        {},
        h("legend", {}, "Companies"),
        sorted.map((c) => {
          const id = uid("co");
          const input = h("input", { type: "checkbox", id, name: "company_ids", value: c.id, checked: w.companyIds.includes(c.id) });
          input.addEventListener("change", () => {
            w.companyIds = input.checked ? [...w.companyIds, c.id] : w.companyIds.filter((x) => x !== c.id);
            drawCompanies();
            companiesBox.querySelector(`input[value="${c.id}"][name=company_ids]`).focus();
          });
          return h("div", { class: "check" }, input, h("label", { for: id }, c.name, " ", related.has(c.id) ? badge("contact's company", "ok") : badge("not related in CRM", "warn"), c.status !== "active" ? [" ", badge(c.status, "bad")] : null));
        }),
      ),
      selected.length > 1
        ? h(
            "fieldset",
            {},
            h("legend", {}, "Default company"),
            h("p", { class: "hint" }, "The client starts their work from it."),
            selected.map((c) => {
              const id = uid("d");
              const input = h("input", { type: "radio", id, name: defName, value: c.id, checked: c.id === w.defaultId });
              input.addEventListener("change", () => (w.defaultId = c.id));
              return h("div", { class: "check" }, input, h("label", { for: id }, c.name));
            }),
          )
        : selected.length === 1
          ? h("p", {}, "Default company: ", h("strong", {}, selected[0].name))
          : null,
    );
  };

  const searchContacts = async () => {
    mount(contacts, loading("Searching contacts…"));
    try {
      const res = await get("/api/admin/contacts", { q: q.value.trim(), limit: 20 });
      if (!res.items.length) return mount(contacts, empty("No CRM contact matches. Contacts come from the CRM: check it is up to date there."));
      mount(
        contacts,
        h(
          "fieldset",
          { "aria-describedby": contactErr },
          h("legend", {}, "CRM contact"),
          res.items.map((c) => {
            const id = uid("ct");
            const input = h("input", { type: "radio", id, name: contactName, value: c.id, checked: w.contact && w.contact.id === c.id });
            input.addEventListener("change", () => {
              w.contact = c;
              w.companyIds = [...(c.company_ids || [])].filter((cid) => allCompanies.some((x) => x.id === cid && x.status === "active"));
              w.defaultId = null;
              drawCompanies();
            });
            return h(
              "div",
              { class: "check" },
              input,
              h("label", { for: id }, `${fullName(c)} · ${c.email || "no email"}`, c.state !== "active" ? [" ", badge(c.state, "warn")] : null),
            );
          }),
          h("p", { class: "field-error", id: contactErr }),
        ),
      );
    } catch (err) {
      if (err.status !== 401) mount(contacts, failure(err, searchContacts));
    }
  };

  let timer = null;
  q.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(searchContacts, 250);
  });
  form.append(
    h("div", { class: "field" }, h("label", { for: qid }, "Find the CRM contact"), q),
    contacts,
    companiesBox,
    h(
      "div",
      { class: "actions" },
      h("button", { type: "button", onclick: () => go(0) }, "Back"),
      h("button", { type: "submit", class: "primary" }, "Next: review"),
    ),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const alert = form.querySelector("[data-form-alert]");
    if (!w.contact) {
      document.getElementById(contactErr)?.replaceChildren("Choose the client's CRM contact.");
      return alert.replaceChildren(h("p", {}, "Choose the client's CRM contact."));
    }
    if (!w.companyIds.length) return alert.replaceChildren(h("p", {}, "Choose at least one company."));
    go(2);
  });
  try {
    allCompanies = await ctx.cached("companies", "/api/admin/companies");
  } catch (err) {
    if (err.status !== 401) form.querySelector("[data-form-alert]").replaceChildren(h("p", {}, err.message));
  }
  drawCompanies();
  await searchContacts();
  if (w.pendingError) {
    form.querySelector("[data-form-alert]").replaceChildren(h("p", {}, w.pendingError.message));
    w.pendingError = null;
  }
}

function wizardBody() {
  return {
    user: w.mode === "existing" && w.user ? { id: w.user.id } : { ...w.newUser, login: w.newUser.login.trim(), email: w.newUser.email.trim(), first_name: w.newUser.first_name.trim(), last_name: w.newUser.last_name.trim() },
    contact_id: w.contact.id,
    company_ids: w.companyIds,
    default_company_id: w.defaultId || w.companyIds[0],
  };
}

/** Errors about step 1 or 2 fields send the user back there, with the message. */
function backTo(err, go) {
  if (err.field && err.field.startsWith("user")) {
    w.pendingError = err;
    go(0);
    return true;
  }
  if (err.field && /contact|compan/.test(err.field)) {
    w.pendingError = err;
    go(1);
    return true;
  }
  return false;
}

/** Step 3: what the combination would be, its problems (blocking) and warnings. */
async function stepReview(ctx, el, go) {
  const section = h("section", { class: "card", "aria-labelledby": "wz-review" }, h("h2", { id: "wz-review" }, "Step 3 of 4: Review"), loading("Checking the combination…"));
  mount(el, section);
  let p;
  try {
    p = await post("/api/admin/links/preview", wizardBody());
  } catch (err) {
    if (err.status === 401 || backTo(err, go)) return;
    mount(section, h("h2", { id: "wz-review" }, "Step 3 of 4: Review"), failure(err, () => go(2)), h("div", { class: "actions" }, h("button", { type: "button", onclick: () => go(1) }, "Back")));
    return;
  }
  w.preview = p;
  const out = h("div");
  const confirm = h("button", { type: "button", class: "primary", disabled: !p.ok }, "Confirm and save the link");
  confirm.addEventListener("click", async () => {
    confirm.disabled = true;
    try {
      w.link = await post("/api/admin/links", wizardBody());
      ctx.setLink(w.link);
      toast("Link saved.");
      go(3);
    } catch (err) {
      confirm.disabled = false;
      if (err.status === 401 || backTo(err, go)) return;
      mount(out, h("div", { class: "alert error", role: "alert" }, h("p", {}, err.message)));
    }
  });
  const u = p.user;
  mount(
    section,
    h("h2", { id: "wz-review" }, "Step 3 of 4: Review"),
    h("p", {}, "Check the user — contact — companies combination before confirming."),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "User"), h("dd", {}, `${fullName(u)} · ${u.login}`, " ", u.new ? badge("new user", "info") : badge("existing user", "")),
      h("dt", {}, "CRM contact"), h("dd", {}, `${p.contact.name} · ${p.contact.email || "no email"}`, " ", badge(p.contact.state, p.contact.state === "active" ? "ok" : "warn")),
      h("dt", {}, "Companies"),
      h(
        "dd",
        {},
        h(
          "ul",
          { class: "plain" },
          p.companies.map((c) =>
            h(
              "li",
              {},
              c.name,
              c.is_default ? " (default) " : " ",
              c.related_to_contact ? badge("contact's company", "ok") : badge("not the contact's company in the CRM", "bad"),
              " ",
              c.has_policy ? badge("has a policy", "ok") : badge("no access policy yet", "warn"),
              c.status !== "active" ? [" ", badge(c.status, "bad")] : null,
            ),
          ),
        ),
      ),
    ),
    p.problems.length
      ? h("div", { class: "alert error", role: "alert" }, h("h3", {}, `Problems (${p.problems.length}): the link cannot be saved`), h("ul", {}, p.problems.map((x) => h("li", {}, x.message))))
      : h("div", { class: "alert ok", role: "status" }, h("p", {}, "No blocking problems.")),
    p.warnings.length ? h("div", { class: "alert warn" }, h("h3", {}, `Warnings (${p.warnings.length})`), h("ul", {}, p.warnings.map((x) => h("li", {}, x.message)))) : null,
    out,
    h("p", { class: "small muted" }, `You (${fullName(ctx.me.user)}) will answer for this link as its responsible employee; another one can be named on the link's page.`),
    h("div", { class: "actions" }, h("button", { type: "button", onclick: () => go(1) }, "Back"), confirm),
  );
}

/** Step 4: the link is saved; next come permissions and the invitation. */
function stepDone(ctx, el) {
  const link = w.link;
  const needsPolicy = (w.preview && w.preview.warnings || []).some((x) => x.code === "company_without_policy");
  mount(
    el,
    h(
      "section",
      { class: "card", "aria-labelledby": "wz-done" },
      h("h2", { id: "wz-done" }, "Step 4 of 4: Confirmation"),
      h("div", { class: "alert ok", role: "status" }, h("p", {}, `The link for ${fullName(link.user)} is saved (${(link.companies || []).map((c) => c.name).join(", ")}).`)),
      h("p", {}, "Next: check the permissions (the effective policy is what the client gets), then issue the invitation and hand it over through a trusted channel."),
      needsPolicy ? h("div", { class: "alert warn" }, h("p", {}, "A company on this link has no access policy yet: the client would see nothing there. Apply the recommended minimum in Permissions.")) : null,
      h(
        "div",
        { class: "actions" },
        h("a", { class: "button primary", href: `#permissions/${link.id}` }, "Check permissions"),
        h("a", { class: "button", href: `#invitations/${link.id}` }, "Issue an invitation"),
        h("button", { type: "button", onclick: () => { w = fresh(); ctx.go("wizard"); } }, "Link another client"),
      ),
    ),
  );
}
