//! Client links: the wizard (preview and confirm share one assessment, so the review step shows
//! exactly what confirming would refuse), the list with search and filters, a link's detail, and
//! changes to a link (status, companies, default company, review dates).
//!
//! Writes follow one pattern: the batch's first statement is the audit event, inserted only when
//! the state the decision was made on still holds (and the employee is still alive and in scope);
//! every later statement requires that event's fresh id to exist. The event id is the batch's
//! nonce, so a lost race writes nothing, and an event exists exactly when its change committed.

use crate::app::kit::rows::{json_ids, parse_ids, rows};
use crate::app::kit::page::{encode_id_cursor, Page};
use crate::app::kit::text::like_pattern;
use crate::app::kit::time::{rfc3339};
use crate::app::kit::sql::{employee_alive, all_in_scope, link_in_scope};
use crate::app::kit::audit::{audit_guard, AuditGuard};
use crate::app::kit::audit::{ActorKind, Event};
use crate::app::kit::governor::Governor;
use crate::app::kit::ids::new_id;
use crate::app::governance::invitations::{self, InvitationView};
use crate::app::kit::session::Bearer;
use crate::app::{ApiError, Ports};
use crate::access::facts::{CompanyStatus, ContactState, LinkStatus, UserStatus};
use crate::domain::login::{Email, Login};
use crate::app::kit::meta::ClientMeta;
use crate::store::{decode, decode_all, sql::flag, Outcome, Sql, Stmt};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

/// Every link gets a review date this long after its creation or its last review (DESIGN.md).
pub const REVIEW_PERIOD_SECONDS: i64 = 90 * 24 * 3600;
/// A link with more companies than this is a mistake, not a client.
const MAX_COMPANIES: usize = 50;
const MAX_NAME_LENGTH: usize = 100;




// ---------------------------------------------------------------------------------------------
// The wizard's input
// ---------------------------------------------------------------------------------------------

/// `{user: {id} | {login, email, first_name, last_name}, contact_id, company_ids, default_company_id}`.
#[derive(Debug, Deserialize)]
pub struct LinkInput {
    pub user: UserInput,
    pub contact_id: Uuid,
    #[serde(default)]
    pub company_ids: Vec<Uuid>,
    #[serde(default)]
    pub default_company_id: Option<Uuid>,
}

/// Either an existing user's id, or the fields of a new user (all four required then).
#[derive(Debug, Default, Deserialize)]
pub struct UserInput {
    #[serde(default)]
    pub id: Option<Uuid>,
    #[serde(default)]
    pub login: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewUser {
    pub login: Login,
    pub email: Email,
    pub first_name: String,
    pub last_name: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum UserChoice {
    Existing(Uuid),
    New(NewUser),
}

/// The wizard's input, parsed: company ids without repeats, in the order given.
#[derive(Debug, Clone, PartialEq)]
pub struct Wizard {
    pub user: UserChoice,
    pub contact_id: Uuid,
    pub company_ids: Vec<Uuid>,
    pub default_company_id: Option<Uuid>,
}

fn name_field(field: &str, value: Option<String>) -> Result<String, ApiError> {
    let value = value.map(|v| v.trim().to_owned()).unwrap_or_default();
    if value.is_empty() {
        return Err(ApiError::invalid(field, format!("{field} is required for a new user")));
    }
    if value.chars().count() > MAX_NAME_LENGTH {
        return Err(ApiError::invalid(field, format!("{field} must be at most {MAX_NAME_LENGTH} characters")));
    }
    Ok(value)
}

impl LinkInput {
    pub fn parse(self) -> Result<Wizard, ApiError> {
        let user = match self.user.id {
            Some(id) => UserChoice::Existing(id),
            None => {
                let raw_login = self.user.login.ok_or_else(|| ApiError::invalid("user.login", "Give user.id, or user.login, user.email, user.first_name and user.last_name for a new user"))?;
                let login = Login::parse(&raw_login).map_err(|e| ApiError::invalid("user.login", e.to_string()))?;
                let raw_email = self.user.email.ok_or_else(|| ApiError::invalid("user.email", "user.email is required for a new user"))?;
                let email = Email::parse(&raw_email).map_err(|e| ApiError::invalid("user.email", e.to_string()))?;
                UserChoice::New(NewUser {
                    login,
                    email,
                    first_name: name_field("user.first_name", self.user.first_name)?,
                    last_name: name_field("user.last_name", self.user.last_name)?,
                })
            }
        };
        let mut company_ids: Vec<Uuid> = Vec::new();
        for id in self.company_ids {
            if !company_ids.contains(&id) {
                company_ids.push(id);
            }
        }
        if company_ids.len() > MAX_COMPANIES {
            return Err(ApiError::invalid("company_ids", format!("A link holds at most {MAX_COMPANIES} companies")));
        }
        Ok(Wizard { user, contact_id: self.contact_id, company_ids, default_company_id: self.default_company_id })
    }
}

// ---------------------------------------------------------------------------------------------
// What the wizard decides on
// ---------------------------------------------------------------------------------------------

const SELECT_CONTACT: &str = "SELECT c.id, c.first_name, c.last_name, c.email, c.state, c.duplicate_of, \
     d.first_name AS duplicate_first_name, d.last_name AS duplicate_last_name, \
     (SELECT json_group_array(cc.company_id) FROM contact_companies cc WHERE cc.contact_id = c.id) AS company_ids \
     FROM contacts c LEFT JOIN contacts d ON d.id = c.duplicate_of WHERE c.id = ?1";
const SELECT_COMPANIES: &str = "SELECT co.id, co.name, co.status, \
     EXISTS (SELECT 1 FROM contact_companies cc WHERE cc.company_id = co.id AND cc.contact_id = ?2) AS related, \
     EXISTS (SELECT 1 FROM company_policies p WHERE p.company_id = co.id) AS has_policy \
     FROM companies co WHERE co.id IN (SELECT value FROM json_each(?1)) ORDER BY co.name, co.id";
const SELECT_USER: &str = "SELECT id, kind, status, login, email, first_name, last_name, password_hash IS NOT NULL AS has_password \
     FROM users WHERE id = ?1 OR login_key = ?2";
const SELECT_USER_LINKS: &str = "SELECT l.id, l.contact_id, l.status, c.first_name, c.last_name FROM links l \
     JOIN contacts c ON c.id = l.contact_id WHERE l.user_id = ?1 ORDER BY l.created_at, l.id";

#[derive(Debug, Clone, Deserialize)]
pub struct ContactRow {
    pub id: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub state: ContactState,
    pub duplicate_of: Option<String>,
    pub duplicate_first_name: Option<String>,
    pub duplicate_last_name: Option<String>,
    pub company_ids: Option<String>,
}

impl ContactRow {
    fn name(&self) -> String {
        full_name(&self.first_name, &self.last_name)
    }

    fn companies(&self) -> Result<Vec<String>, ApiError> {
        parse_ids(self.company_ids.as_deref())
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct CompanyRow {
    pub id: String,
    pub name: String,
    pub status: CompanyStatus,
    #[serde(with = "flag")]
    pub related: bool,
    #[serde(with = "flag")]
    pub has_policy: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct UserRow {
    pub id: String,
    pub kind: String,
    pub status: UserStatus,
    pub login: String,
    pub email: Option<String>,
    pub first_name: String,
    pub last_name: String,
    #[serde(with = "flag")]
    pub has_password: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct UserLinkRow {
    pub id: String,
    pub contact_id: String,
    pub status: LinkStatus,
    pub first_name: String,
    pub last_name: String,
}

/// Everything the assessment looks at, read in one batch.
#[derive(Debug, Clone)]
pub struct WizardFacts {
    pub contact: ContactRow,
    pub companies: Vec<CompanyRow>,
    /// The chosen user (existing), or whoever holds the new user's login already.
    pub user: Option<UserRow>,
    pub user_links: Vec<UserLinkRow>,
}

/// A problem that blocks the link, or a warning that does not. `code` is stable.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Note {
    pub code: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_id: Option<String>,
}

impl Note {
    fn new(code: &'static str, message: impl Into<String>) -> Note {
        Note { code, message: message.into(), company_id: None, contact_id: None, link_id: None }
    }

    fn company(mut self, id: &str) -> Note {
        self.company_id = Some(id.to_owned());
        self
    }

    fn contact(mut self, id: &str) -> Note {
        self.contact_id = Some(id.to_owned());
        self
    }

    fn link(mut self, id: &str) -> Note {
        self.link_id = Some(id.to_owned());
        self
    }
}

/// The problem codes (each blocks confirmation) and warning codes, for the console and the docs.
pub const PROBLEM_CODES: &[&str] = &[
    "contact_draft",
    "contact_duplicate",
    "contact_not_in_company",
    "company_archived",
    "no_companies",
    "default_company_missing",
    "default_company_not_in_companies",
    "login_taken",
    "user_is_employee",
    "user_blocked",
    "user_linked_to_other_contact",
    "link_exists",
];
pub const WARNING_CODES: &[&str] = &["previous_link_revoked", "company_without_policy", "invitation_needed"];

#[derive(Debug, Clone, Serialize)]
pub struct WizardUser {
    pub id: Option<String>,
    pub login: String,
    pub email: Option<String>,
    pub first_name: String,
    pub last_name: String,
    /// True when confirming creates this user.
    pub new: bool,
    pub has_password: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct WizardContact {
    pub id: String,
    pub name: String,
    pub email: String,
    pub state: ContactState,
    pub duplicate_of: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct WizardCompany {
    pub id: String,
    pub name: String,
    pub status: CompanyStatus,
    pub is_default: bool,
    pub related_to_contact: bool,
    pub has_policy: bool,
}

/// The review step's answer: the combination as it would be saved, and what stands in the way.
#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    pub ok: bool,
    pub user: WizardUser,
    pub contact: WizardContact,
    pub companies: Vec<WizardCompany>,
    pub default_company_id: Option<String>,
    pub problems: Vec<Note>,
    pub warnings: Vec<Note>,
}

fn full_name(first: &str, last: &str) -> String {
    format!("{first} {last}").trim().to_owned()
}

/// The wizard's rules, pure: the same function answers the review step and guards the confirm.
pub fn assess(wizard: &Wizard, facts: &WizardFacts) -> Preview {
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    let contact = &facts.contact;
    match contact.state {
        ContactState::Active => {}
        ContactState::Draft => problems.push(
            Note::new("contact_draft", format!("{} is a draft contact in the CRM: complete it there before linking.", contact.name())).contact(&contact.id),
        ),
        ContactState::Duplicate => {
            let of = contact.duplicate_of.clone().unwrap_or_default();
            let of_name = full_name(contact.duplicate_first_name.as_deref().unwrap_or(""), contact.duplicate_last_name.as_deref().unwrap_or(""));
            problems.push(
                Note::new("contact_duplicate", format!("{} is a duplicate of the contact {of_name} ({of}): link that contact instead.", contact.name()))
                    .contact(&of),
            );
        }
    }

    let default = wizard.default_company_id.or(match wizard.company_ids.as_slice() {
        [only] => Some(*only),
        _ => None,
    });
    if wizard.company_ids.is_empty() {
        problems.push(Note::new("no_companies", "Choose at least one company for the link."));
    } else if default.is_none() {
        problems.push(Note::new("default_company_missing", "Choose the default company the client starts from."));
    }
    if let Some(d) = default.filter(|d| !wizard.company_ids.is_empty() && !wizard.company_ids.contains(d)) {
        problems.push(Note::new("default_company_not_in_companies", "The default company must be one of the link's companies.").company(&d.to_string()));
    }

    let mut companies = Vec::new();
    for id in &wizard.company_ids {
        let Some(c) = facts.companies.iter().find(|c| c.id == id.to_string()) else { continue };
        if !c.related {
            problems.push(
                Note::new("contact_not_in_company", format!("{} is not a contact of {} in the CRM.", contact.name(), c.name)).company(&c.id),
            );
        }
        if c.status == CompanyStatus::Archived {
            problems.push(Note::new("company_archived", format!("{} is archived.", c.name)).company(&c.id));
        }
        if !c.has_policy {
            warnings.push(
                Note::new(
                    "company_without_policy",
                    format!(
                        "{} has no access policy yet, so the client would see nothing there. Apply the recommended minimum \
                         (create requests, read and send request chat, one pipeline) with PUT /api/admin/companies/{}/policy.",
                        c.name, c.id
                    ),
                )
                .company(&c.id),
            );
        }
        companies.push(WizardCompany {
            id: c.id.clone(),
            name: c.name.clone(),
            status: c.status,
            is_default: default == Some(*id),
            related_to_contact: c.related,
            has_policy: c.has_policy,
        });
    }

    let user = match &wizard.user {
        UserChoice::New(new) => {
            if let Some(holder) = &facts.user {
                problems.push(Note::new("login_taken", format!("The login {} belongs to another user ({}): choose that user or another login.", new.login, holder.login)));
            }
            warnings.push(Note::new("invitation_needed", "The new user has no password: issue an invitation after confirming."));
            WizardUser {
                id: None,
                login: new.login.to_string(),
                email: Some(new.email.to_string()),
                first_name: new.first_name.clone(),
                last_name: new.last_name.clone(),
                new: true,
                has_password: false,
            }
        }
        UserChoice::Existing(_) => {
            // The caller resolved the id: an unknown one never reaches the assessment.
            let u = facts.user.clone().unwrap_or_else(|| UserRow {
                id: String::new(),
                kind: String::new(),
                status: UserStatus::Active,
                login: String::new(),
                email: None,
                first_name: String::new(),
                last_name: String::new(),
                has_password: false,
            });
            if u.kind == "employee" {
                problems.push(Note::new("user_is_employee", format!("{} is an employee: employees are not linked to clients.", u.login)));
            }
            if u.status == UserStatus::Blocked {
                problems.push(Note::new("user_blocked", format!("{} is blocked: unblock the user first.", u.login)));
            }
            for l in facts.user_links.iter().filter(|l| l.status != LinkStatus::Revoked) {
                if l.contact_id == contact.id {
                    problems.push(Note::new("link_exists", format!("{} already has a {} link to {}.", u.login, status_word(l.status), contact.name())).link(&l.id));
                } else {
                    problems.push(
                        Note::new(
                            "user_linked_to_other_contact",
                            format!("{} is already linked to the contact {}: one person, one contact.", u.login, full_name(&l.first_name, &l.last_name)),
                        )
                        .link(&l.id)
                        .contact(&l.contact_id),
                    );
                }
            }
            for l in facts.user_links.iter().filter(|l| l.status == LinkStatus::Revoked && l.contact_id == contact.id) {
                warnings.push(
                    Note::new("previous_link_revoked", format!("{} had a link to {} that was revoked: confirming creates a new link.", u.login, contact.name()))
                        .link(&l.id),
                );
            }
            if !u.has_password {
                warnings.push(Note::new("invitation_needed", format!("{} has no password yet: issue an invitation after confirming.", u.login)));
            }
            WizardUser {
                id: Some(u.id),
                login: u.login,
                email: u.email,
                first_name: u.first_name,
                last_name: u.last_name,
                new: false,
                has_password: u.has_password,
            }
        }
    };

    Preview {
        ok: problems.is_empty(),
        user,
        contact: WizardContact {
            id: contact.id.clone(),
            name: contact.name(),
            email: contact.email.clone(),
            state: contact.state,
            duplicate_of: contact.duplicate_of.clone(),
        },
        companies,
        default_company_id: default.map(|d| d.to_string()),
        problems,
        warnings,
    }
}

fn status_word(s: LinkStatus) -> &'static str {
    match s {
        LinkStatus::Active => "active",
        LinkStatus::Disabled => "disabled",
        LinkStatus::Revoked => "revoked",
    }
}

/// Reads the facts and assesses them: 404 for a manager's company or contact outside scope, 400
/// naming the field for unknown ids.
async fn assess_wizard<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, wizard: &Wizard) -> Result<(Governor, Preview), ApiError> {
    let mut asked: Vec<Uuid> = wizard.company_ids.clone();
    if let Some(d) = wizard.default_company_id.filter(|d| !asked.contains(d)) {
        asked.push(d);
    }
    let (user_id, login_key) = match &wizard.user {
        UserChoice::Existing(id) => (Some(id.to_string()), None),
        UserChoice::New(new) => (None, Some(new.login.key())),
    };
    let contact = wizard.contact_id.to_string();
    let out = ports
        .db()
        .batch(vec![
            Governor::check_stmt(bearer, now),
            Stmt::new(SELECT_CONTACT).bind(contact.as_str()),
            Stmt::new(SELECT_COMPANIES).bind(json_ids(&asked)).bind(contact.as_str()),
            Stmt::new(SELECT_USER).bind(user_id.clone()).bind(login_key),
            Stmt::new(SELECT_USER_LINKS).bind(user_id.clone()),
        ])
        .await?;
    let gov = Governor::from_check(bearer, out.first())?;
    if !gov.sees_all(asked.iter().map(Uuid::to_string).collect::<Vec<_>>().iter().map(String::as_str)) {
        return Err(ApiError::NotFound);
    }
    let contact_row: ContactRow = match rows(&out, 1).into_iter().next() {
        Some(r) => decode(r)?,
        None => return Err(ApiError::invalid("contact_id", "No contact has this id")),
    };
    if !gov.admin && !contact_row.companies()?.iter().any(|c| gov.sees_company(c)) {
        return Err(ApiError::NotFound);
    }
    let companies: Vec<CompanyRow> = decode_all(rows(&out, 2))?;
    if let Some(missing) = wizard.company_ids.iter().find(|id| !companies.iter().any(|c| c.id == id.to_string())) {
        return Err(ApiError::invalid("company_ids", format!("No company has the id {missing}")));
    }
    if let Some(d) = wizard.default_company_id.filter(|d| !companies.iter().any(|c| c.id == d.to_string())) {
        return Err(ApiError::invalid("default_company_id", format!("No company has the id {d}")));
    }
    let user: Option<UserRow> = rows(&out, 3).into_iter().next().map(decode).transpose()?;
    if matches!(wizard.user, UserChoice::Existing(_)) && user.is_none() {
        return Err(ApiError::invalid("user.id", "No user has this id"));
    }
    let facts = WizardFacts { contact: contact_row, companies, user, user_links: decode_all(rows(&out, 4))? };
    Ok((gov, assess(wizard, &facts)))
}

/// `POST /api/admin/links/preview`: the review step; writes nothing.
pub async fn preview<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, wizard: &Wizard) -> Result<Preview, ApiError> {
    Ok(assess_wizard(ports, bearer, now, wizard).await?.1)
}

/// What confirming ended in: the new link, or the problems that refused it (409 `link_problems`).
#[derive(Debug)]
pub enum Confirmed {
    Created(Box<LinkDetail>),
    Refused(Vec<Note>),
}

// The guard: the facts the assessment passed on still hold, inside the write. ?14 contact, ?15
// companies (JSON), ?16 default company, ?17 user, ?18 1 for a new user, ?19 its login key, ?20 the
// acting session; ?2 is now and ?4 the acting employee (the event's own parameters).
const CREATE_GUARD: AuditGuard = audit_guard!(concat!(
    "EXISTS (SELECT 1 FROM contacts WHERE id = ?14 AND state = 'active') \
     AND json_array_length(?15) > 0 AND ?16 IN (SELECT value FROM json_each(?15)) \
     AND NOT EXISTS (SELECT 1 FROM json_each(?15) j WHERE NOT EXISTS (SELECT 1 FROM companies co \
       JOIN contact_companies cc ON cc.company_id = co.id AND cc.contact_id = ?14 WHERE co.id = j.value AND co.status = 'active')) \
     AND ((?18 = 1 AND NOT EXISTS (SELECT 1 FROM users WHERE login_key = ?19 OR id = ?17)) \
       OR (?18 = 0 AND EXISTS (SELECT 1 FROM users WHERE id = ?17 AND kind = 'external' AND status = 'active') \
         AND NOT EXISTS (SELECT 1 FROM links WHERE user_id = ?17 AND status <> 'revoked'))) AND ",
    employee_alive!(20, 2),
    " AND ",
    all_in_scope!(4, 15)
));
// A new user has no password: no usable password until an invitation is activated.
const INSERT_USER: &str = "INSERT INTO users (id, kind, status, login, login_key, email, first_name, last_name, created_at, updated_at) \
     SELECT ?1, 'external', 'active', ?2, ?3, ?4, ?5, ?6, ?7, ?7 WHERE EXISTS (SELECT 1 FROM audit_events WHERE id = ?8)";
const INSERT_LINK: &str = "INSERT INTO links (id, user_id, contact_id, default_company_id, status, policy_version, review_at, review_due, \
     created_by, created_at, updated_at) SELECT ?1, ?2, ?3, ?4, 'active', 1, ?5, 0, ?6, ?7, ?7 \
     WHERE EXISTS (SELECT 1 FROM audit_events WHERE id = ?8)";
const INSERT_LINK_COMPANIES: &str = "INSERT INTO link_companies (link_id, company_id, created_at) \
     SELECT ?1, j.value, ?2 FROM json_each(?3) j WHERE EXISTS (SELECT 1 FROM audit_events WHERE id = ?4)";

/// `POST /api/admin/links`: the same assessment as the preview, then the user (when new), the
/// link, its companies and the audit event in one guarded batch.
pub async fn confirm<P: Ports>(ports: &P, bearer: &Bearer, client: &ClientMeta, now: DateTime<Utc>, wizard: &Wizard) -> Result<Confirmed, ApiError> {
    let (gov, preview) = assess_wizard(ports, bearer, now, wizard).await?;
    if !preview.ok {
        return Ok(Confirmed::Refused(preview.problems));
    }
    let Some(default) = preview.default_company_id.clone() else {
        return Ok(Confirmed::Refused(preview.problems));
    };
    let t = now.timestamp();
    let link_id = new_id(ports, now)?;
    let event_id = new_id(ports, now)?;
    let companies = json_ids(&wizard.company_ids);
    let contact = wizard.contact_id.to_string();
    let (user_id, new_user) = match &wizard.user {
        UserChoice::Existing(id) => (id.to_string(), None),
        UserChoice::New(new) => (new_id(ports, now)?, Some(new)),
    };
    let event = Event::new("link.created", ActorKind::Employee, Some(gov.user_id()))
        .target("link", &link_id)
        .companies(wizard.company_ids.iter().map(Uuid::to_string).collect())
        .details(json!({
            "user_id": user_id, "user_created": new_user.is_some(), "contact_id": contact,
            "company_ids": wizard.company_ids, "default_company_id": default, "review_at": rfc3339(t + REVIEW_PERIOD_SECONDS),
        }));
    let guard = event.insert_if(&event_id, client, t, CREATE_GUARD);
    let guard = guard
        .bind(contact.as_str())
        .bind(companies.as_str())
        .bind(default.as_str())
        .bind(user_id.as_str())
        .bind(new_user.is_some())
        .bind(new_user.map(|n| n.login.key()))
        .bind(gov.principal.session_id.as_str());
    let mut stmts = vec![guard];
    if let Some(n) = new_user {
        stmts.push(
            Stmt::new(INSERT_USER)
                .bind(user_id.as_str())
                .bind(n.login.as_str())
                .bind(n.login.key())
                .bind(n.email.as_str())
                .bind(n.first_name.as_str())
                .bind(n.last_name.as_str())
                .bind(t)
                .bind(event_id.as_str()),
        );
    }
    stmts.push(
        Stmt::new(INSERT_LINK)
            .bind(link_id.as_str())
            .bind(user_id.as_str())
            .bind(contact.as_str())
            .bind(default.as_str())
            .bind(t + REVIEW_PERIOD_SECONDS)
            .bind(gov.user_id())
            .bind(t)
            .bind(event_id.as_str()),
    );
    stmts.push(Stmt::new(INSERT_LINK_COMPANIES).bind(link_id.as_str()).bind(t).bind(companies.as_str()).bind(event_id.as_str()));
    let first_read = stmts.len();
    stmts.extend(detail_stmts(&link_id, t));
    let out = match ports.db().batch(stmts).await {
        Ok(out) => out,
        // A concurrent confirmation won the UNIQUE index (one live link per user and contact, one
        // login per user): answer with the problems as they stand now.
        Err(e) if e.is_unique_violation() => return recheck(ports, bearer, now, wizard).await,
        Err(e) => return Err(e.into()),
    };
    if out.first().map_or(0, |o| o.changes) != 1 {
        return recheck(ports, bearer, now, wizard).await;
    }
    let detail = decode_detail(out.get(first_read..).unwrap_or_default())?.ok_or_else(|| ApiError::internal("new link not readable"))?;
    Ok(Confirmed::Created(Box::new(detail)))
}

/// After a lost race: the problems as they stand now, or a plain conflict when none shows (the
/// employee's rights or scope changed meanwhile).
async fn recheck<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, wizard: &Wizard) -> Result<Confirmed, ApiError> {
    let (_, preview) = assess_wizard(ports, bearer, now, wizard).await?;
    if preview.ok {
        return Err(ApiError::conflict("link_changed", "The data changed while the link was being saved: review and try again."));
    }
    Ok(Confirmed::Refused(preview.problems))
}

// ---------------------------------------------------------------------------------------------
// A link's detail
// ---------------------------------------------------------------------------------------------

const SELECT_DETAIL: &str = "SELECT l.id, l.status, l.default_company_id, l.policy_version, l.review_at, \
     (l.status <> 'revoked' AND l.review_at <= ?2) AS review_due, l.reviewed_at, l.created_by, l.created_at, l.updated_at, l.revoked_at, \
     u.id AS user_id, u.login, u.email AS user_email, u.first_name AS user_first_name, u.last_name AS user_last_name, \
     u.status AS user_status, u.password_hash IS NOT NULL AS has_password, \
     c.id AS contact_id, c.first_name AS contact_first_name, c.last_name AS contact_last_name, c.email AS contact_email, \
     c.state AS contact_state \
     FROM links l JOIN users u ON u.id = l.user_id JOIN contacts c ON c.id = l.contact_id WHERE l.id = ?1";
const SELECT_DETAIL_COMPANIES: &str = "SELECT co.id, co.name, co.status FROM link_companies lc JOIN companies co ON co.id = lc.company_id \
     WHERE lc.link_id = ?1 ORDER BY co.name, co.id";
const SELECT_DETAIL_CHANNELS: &str = "SELECT id, kind, company_id, status, external_label, created_at, revoked_at FROM channel_links \
     WHERE link_id = ?1 ORDER BY created_at, id";

/// The detail's statements (four), for any batch; decode with [`decode_detail`].
pub fn detail_stmts(link_id: &str, now: i64) -> Vec<Stmt> {
    vec![
        Stmt::new(SELECT_DETAIL).bind(link_id).bind(now),
        Stmt::new(SELECT_DETAIL_COMPANIES).bind(link_id),
        invitations::for_link_stmt(link_id, now),
        Stmt::new(SELECT_DETAIL_CHANNELS).bind(link_id),
    ]
}

const DETAIL_STMT_COUNT: usize = 4;

#[derive(Debug, Clone, Deserialize)]
struct DetailRow {
    id: String,
    status: LinkStatus,
    default_company_id: String,
    policy_version: i64,
    review_at: i64,
    #[serde(with = "flag")]
    review_due: bool,
    reviewed_at: Option<i64>,
    created_by: Option<String>,
    created_at: i64,
    updated_at: i64,
    revoked_at: Option<i64>,
    user_id: String,
    login: String,
    user_email: Option<String>,
    user_first_name: String,
    user_last_name: String,
    user_status: UserStatus,
    #[serde(with = "flag")]
    has_password: bool,
    contact_id: String,
    contact_first_name: String,
    contact_last_name: String,
    contact_email: String,
    contact_state: ContactState,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LinkCompany {
    pub id: String,
    pub name: String,
    pub status: CompanyStatus,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChannelView {
    pub id: String,
    pub kind: String,
    pub company_id: String,
    pub status: String,
    pub external_label: Option<String>,
    #[serde(skip_serializing)]
    pub created_at: i64,
    #[serde(skip_serializing)]
    pub revoked_at: Option<i64>,
}

/// `GET /api/admin/links/{id}` (also the answer of confirm and PATCH).
#[derive(Debug, Clone, Serialize)]
pub struct LinkDetail {
    pub id: String,
    pub status: LinkStatus,
    pub user: Value,
    pub contact: Value,
    pub companies: Vec<Value>,
    pub default_company_id: String,
    pub policy_version: i64,
    pub review_at: String,
    pub review_due: bool,
    pub reviewed_at: Option<String>,
    pub created_by: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub revoked_at: Option<String>,
    pub invitations: Vec<InvitationView>,
    pub channel_links: Vec<Value>,
    /// The raw pieces a change is decided on.
    #[serde(skip)]
    pub facts: DetailFacts,
}

#[derive(Debug, Clone, Default)]
pub struct DetailFacts {
    pub company_ids: Vec<String>,
    pub review_at: i64,
    pub reviewed_at: Option<i64>,
    pub contact_id: String,
}

/// The detail from the outcomes of [`detail_stmts`]; None when the link does not exist.
pub fn decode_detail(out: &[Outcome]) -> Result<Option<LinkDetail>, ApiError> {
    let Some(row) = rows(out, 0).into_iter().next() else {
        return Ok(None);
    };
    let l: DetailRow = decode(row)?;
    let companies: Vec<LinkCompany> = decode_all(rows(out, 1))?;
    let invitations = invitations::decode_views(rows(out, 2))?;
    let channels: Vec<ChannelView> = decode_all(rows(out, 3))?;
    let facts = DetailFacts {
        company_ids: companies.iter().map(|c| c.id.clone()).collect(),
        review_at: l.review_at,
        reviewed_at: l.reviewed_at,
        contact_id: l.contact_id.clone(),
    };
    Ok(Some(LinkDetail {
        companies: companies
            .iter()
            .map(|c| json!({"id": c.id, "name": c.name, "status": c.status, "is_default": c.id == l.default_company_id}))
            .collect(),
        user: json!({
            "id": l.user_id, "login": l.login, "email": l.user_email, "first_name": l.user_first_name,
            "last_name": l.user_last_name, "status": l.user_status, "has_password": l.has_password,
        }),
        contact: json!({
            "id": l.contact_id, "name": full_name(&l.contact_first_name, &l.contact_last_name), "first_name": l.contact_first_name,
            "last_name": l.contact_last_name, "email": l.contact_email, "state": l.contact_state,
        }),
        id: l.id,
        status: l.status,
        default_company_id: l.default_company_id,
        policy_version: l.policy_version,
        review_at: rfc3339(l.review_at),
        review_due: l.review_due,
        reviewed_at: l.reviewed_at.map(rfc3339),
        created_by: l.created_by,
        created_at: rfc3339(l.created_at),
        updated_at: rfc3339(l.updated_at),
        revoked_at: l.revoked_at.map(rfc3339),
        invitations,
        channel_links: channels
            .iter()
            .map(|c| {
                json!({"id": c.id, "kind": c.kind, "company_id": c.company_id, "status": c.status, "external_label": c.external_label,
                    "created_at": rfc3339(c.created_at), "revoked_at": c.revoked_at.map(rfc3339)})
            })
            .collect(),
        facts,
    }))
}

/// `GET /api/admin/links/{id}`: 404 when unknown or (managers) any of its companies is outside scope.
pub async fn get<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, link_id: &Uuid) -> Result<LinkDetail, ApiError> {
    let mut stmts = vec![Governor::check_stmt(bearer, now)];
    stmts.extend(detail_stmts(&link_id.to_string(), now.timestamp()));
    let out = ports.db().batch(stmts).await?;
    let gov = Governor::from_check(bearer, out.first())?;
    let detail = decode_detail(out.get(1..).unwrap_or_default())?.ok_or(ApiError::NotFound)?;
    if !gov.sees_all(detail.facts.company_ids.iter().map(String::as_str)) {
        return Err(ApiError::NotFound);
    }
    Ok(detail)
}

// ---------------------------------------------------------------------------------------------
// The list
// ---------------------------------------------------------------------------------------------

/// `GET /api/admin/links` filters, parsed by the handler.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub q: Option<String>,
    pub status: Option<LinkStatus>,
    pub company: Option<Uuid>,
    pub review_due: Option<bool>,
    pub limit: u32,
    pub after: Option<Uuid>,
}

// Newest first by id (UUIDv7 ids are time-ordered), so keyset pagination rides the primary key.
// ?1 now, ?2 status, ?3 company, ?4 review_due (0/1), ?5 LIKE pattern, ?6 the caller, ?7 cursor, ?8 limit.
const SELECT_LIST: &str = concat!(
    "SELECT l.id, l.status, l.default_company_id, l.review_at, (l.status <> 'revoked' AND l.review_at <= ?1) AS review_due, \
     l.created_at, u.id AS user_id, u.login, u.first_name AS user_first_name, u.last_name AS user_last_name, \
     c.id AS contact_id, c.first_name AS contact_first_name, c.last_name AS contact_last_name, \
     (SELECT json_group_array(json_object('id', co.id, 'name', co.name)) FROM link_companies lc \
       JOIN companies co ON co.id = lc.company_id WHERE lc.link_id = l.id) AS companies \
     FROM links l JOIN users u ON u.id = l.user_id JOIN contacts c ON c.id = l.contact_id \
     WHERE (?2 IS NULL OR l.status = ?2) \
     AND (?3 IS NULL OR EXISTS (SELECT 1 FROM link_companies fc WHERE fc.link_id = l.id AND fc.company_id = ?3)) \
     AND (?4 IS NULL OR (l.status <> 'revoked' AND l.review_at <= ?1) = ?4) \
     AND (?5 IS NULL OR u.login_key LIKE ?5 ESCAPE '\\' OR u.email LIKE ?5 ESCAPE '\\' \
       OR (u.first_name || ' ' || u.last_name) LIKE ?5 ESCAPE '\\' OR (c.first_name || ' ' || c.last_name) LIKE ?5 ESCAPE '\\' \
       OR EXISTS (SELECT 1 FROM link_companies qc JOIN companies qco ON qco.id = qc.company_id \
         WHERE qc.link_id = l.id AND qco.name LIKE ?5 ESCAPE '\\')) \
     AND ",
    link_in_scope!(6, "l.id"),
    " AND (?7 IS NULL OR l.id < ?7) ORDER BY l.id DESC LIMIT ?8"
);

#[derive(Debug, Deserialize)]
struct ListRow {
    id: String,
    status: LinkStatus,
    default_company_id: String,
    review_at: i64,
    #[serde(with = "flag")]
    review_due: bool,
    created_at: i64,
    user_id: String,
    login: String,
    user_first_name: String,
    user_last_name: String,
    contact_id: String,
    contact_first_name: String,
    contact_last_name: String,
    companies: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ListItem {
    pub id: String,
    pub status: LinkStatus,
    pub user: Value,
    pub contact: Value,
    pub companies: Vec<Value>,
    pub default_company_id: String,
    pub review_at: String,
    pub review_due: bool,
    pub created_at: String,
}

/// `GET /api/admin/links`: managers see only links whose companies are all in their scope.
pub async fn list<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, f: &ListFilter) -> Result<Page<ListItem>, ApiError> {
    let t = now.timestamp();
    let status = f.status.map(status_word);
    let query = Stmt::new(SELECT_LIST)
        .bind(t)
        .bind(status)
        .bind(f.company.map(|c| c.to_string()))
        .bind(f.review_due)
        .bind(like_pattern(f.q.as_deref()))
        .bind(bearer.claims.sub.as_str())
        .bind(f.after.map(|a| a.to_string()))
        .bind(f.limit + 1);
    let out = ports.db().batch(vec![Governor::check_stmt(bearer, now), query]).await?;
    Governor::from_check(bearer, out.first())?;
    let mut items = Vec::new();
    for r in decode_all::<ListRow>(rows(&out, 1))? {
        let mut companies: Vec<Value> = match r.companies.as_deref() {
            None => Vec::new(),
            Some(text) => serde_json::from_str(text).map_err(|e| ApiError::internal(format!("companies: {e}")))?,
        };
        companies.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
        items.push(ListItem {
            id: r.id,
            status: r.status,
            user: json!({"id": r.user_id, "login": r.login, "first_name": r.user_first_name, "last_name": r.user_last_name}),
            contact: json!({"id": r.contact_id, "name": full_name(&r.contact_first_name, &r.contact_last_name)}),
            companies,
            default_company_id: r.default_company_id,
            review_at: rfc3339(r.review_at),
            review_due: r.review_due,
            created_at: rfc3339(r.created_at),
        });
    }
    Ok(Page::of(items, f.limit, |i| encode_id_cursor(&i.id)))
}

// ---------------------------------------------------------------------------------------------
// Changing a link
// ---------------------------------------------------------------------------------------------

/// `PATCH /api/admin/links/{id}` body.
#[derive(Debug, Default, Deserialize)]
pub struct PatchInput {
    #[serde(default)]
    pub status: Option<LinkStatus>,
    #[serde(default)]
    pub default_company_id: Option<Uuid>,
    #[serde(default)]
    pub company_ids: Option<Vec<Uuid>>,
    #[serde(default)]
    pub review_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub reviewed: Option<bool>,
}

/// The link as a change sees it: before, and after.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinkState {
    pub status: LinkStatus,
    pub default_company_id: String,
    pub company_ids: Vec<String>,
    #[serde(serialize_with = "ser_time")]
    pub review_at: i64,
    #[serde(serialize_with = "ser_opt_time")]
    pub reviewed_at: Option<i64>,
}

fn ser_time<S: serde::Serializer>(t: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(*t))
}

fn ser_opt_time<S: serde::Serializer>(t: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&rfc3339(*t)),
        None => s.serialize_none(),
    }
}

/// What the companies asked for in a PATCH are (read in the same batch as the link).
#[derive(Debug, Clone, Deserialize)]
pub struct PatchCompanyRow {
    pub id: String,
    pub name: String,
    pub status: CompanyStatus,
    #[serde(with = "flag")]
    pub related: bool,
}

/// The decided change: the state after, and what it implies.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub after: LinkState,
    pub action: &'static str,
    /// The change can alter the effective policy: bump the link's policy version.
    pub bumps_policy: bool,
    pub companies_changed: bool,
}

/// The PATCH rules, pure. None when nothing would change.
pub fn plan_patch(before: &LinkState, input: &PatchInput, asked: &[PatchCompanyRow], now: i64) -> Result<Option<Plan>, ApiError> {
    if before.status == LinkStatus::Revoked {
        return Err(ApiError::conflict("link_revoked", "The link is revoked, which is final: create a new link instead."));
    }
    let nothing = input.status.is_none()
        && input.default_company_id.is_none()
        && input.company_ids.is_none()
        && input.review_at.is_none()
        && input.reviewed != Some(true);
    if nothing {
        return Err(ApiError::invalid("body", "Nothing to change: give status, default_company_id, company_ids, review_at or reviewed."));
    }
    let status = input.status.unwrap_or(before.status);
    let company_ids: Vec<String> = match &input.company_ids {
        None => before.company_ids.clone(),
        Some(ids) => {
            let mut list: Vec<String> = Vec::new();
            for id in ids.iter().map(Uuid::to_string) {
                if !list.contains(&id) {
                    list.push(id);
                }
            }
            if list.is_empty() {
                return Err(ApiError::invalid("company_ids", "A link needs at least one company."));
            }
            if list.len() > MAX_COMPANIES {
                return Err(ApiError::invalid("company_ids", format!("A link holds at most {MAX_COMPANIES} companies")));
            }
            for id in &list {
                let Some(c) = asked.iter().find(|c| &c.id == id) else {
                    return Err(ApiError::invalid("company_ids", format!("No company has the id {id}")));
                };
                if !c.related {
                    return Err(ApiError::invalid("company_ids", format!("{} is not one of the contact's companies in the CRM.", c.name)));
                }
                if c.status == CompanyStatus::Archived && !before.company_ids.contains(id) {
                    return Err(ApiError::invalid("company_ids", format!("{} is archived.", c.name)));
                }
            }
            list
        }
    };
    let default_company_id = input.default_company_id.map_or_else(|| before.default_company_id.clone(), |d| d.to_string());
    if !company_ids.contains(&default_company_id) {
        return Err(ApiError::invalid("default_company_id", "The default company must be one of the link's companies."));
    }
    let reviewed = input.reviewed == Some(true);
    let review_at = match (input.review_at, reviewed) {
        (Some(at), _) => at.timestamp(),
        (None, true) => now + REVIEW_PERIOD_SECONDS,
        (None, false) => before.review_at,
    };
    let reviewed_at = if reviewed { Some(now) } else { before.reviewed_at };
    let mut sorted_before = before.company_ids.clone();
    sorted_before.sort();
    let mut sorted_after = company_ids.clone();
    sorted_after.sort();
    let companies_changed = sorted_before != sorted_after;
    let after = LinkState { status, default_company_id, company_ids, review_at, reviewed_at };
    if after == *before {
        return Ok(None);
    }
    let bumps_policy = after.status != before.status || after.default_company_id != before.default_company_id || companies_changed;
    let action = match (before.status, after.status) {
        (_, LinkStatus::Revoked) => "link.revoked",
        (LinkStatus::Active, LinkStatus::Disabled) => "link.disabled",
        (LinkStatus::Disabled, LinkStatus::Active) => "link.enabled",
        _ if bumps_policy => "link.updated",
        _ if reviewed => "link.reviewed",
        _ => "link.updated",
    };
    Ok(Some(Plan { after, action, bumps_policy, companies_changed }))
}

const SELECT_PATCH_COMPANIES: &str = "SELECT co.id, co.name, co.status, \
     EXISTS (SELECT 1 FROM contact_companies cc JOIN links l ON l.contact_id = cc.contact_id WHERE l.id = ?2 AND cc.company_id = co.id) AS related \
     FROM companies co WHERE co.id IN (SELECT value FROM json_each(?1))";

// The guard: the link is as read (status, policy version, review dates), the new companies are
// still the contact's (an archived one only when already on the link), the employee is alive and
// every company before and after is in their scope. ?14 link, ?15 status before, ?16 policy
// version before, ?17 review_at before, ?18 reviewed_at before, ?19 companies after (JSON),
// ?20 companies before and after (JSON), ?21 the acting session.
const PATCH_GUARD: AuditGuard = audit_guard!(concat!(
    "EXISTS (SELECT 1 FROM links WHERE id = ?14 AND status = ?15 AND policy_version = ?16 AND review_at = ?17 AND reviewed_at IS ?18) \
     AND NOT EXISTS (SELECT 1 FROM json_each(?19) j WHERE NOT EXISTS (SELECT 1 FROM companies co \
       JOIN contact_companies cc ON cc.company_id = co.id JOIN links l ON l.contact_id = cc.contact_id AND l.id = ?14 \
       WHERE co.id = j.value AND (co.status = 'active' OR EXISTS (SELECT 1 FROM link_companies lc WHERE lc.link_id = ?14 AND lc.company_id = co.id)))) \
     AND ",
    employee_alive!(21, 2),
    " AND ",
    all_in_scope!(4, 20)
));
const UPDATE_LINK: &str = "UPDATE links SET status = ?2, default_company_id = ?3, review_at = ?4, review_due = ?5, reviewed_at = ?6, \
     policy_version = policy_version + ?7, revoked_at = CASE WHEN ?2 = 'revoked' THEN ?8 ELSE NULL END, updated_at = ?8 \
     WHERE id = ?1 AND EXISTS (SELECT 1 FROM audit_events WHERE id = ?9)";
const DROP_COMPANIES: &str = "DELETE FROM link_companies WHERE link_id = ?1 AND company_id NOT IN (SELECT value FROM json_each(?2)) \
     AND EXISTS (SELECT 1 FROM audit_events WHERE id = ?3)";
const ADD_COMPANIES: &str = "INSERT INTO link_companies (link_id, company_id, created_at) SELECT ?1, j.value, ?3 FROM json_each(?2) j \
     WHERE NOT EXISTS (SELECT 1 FROM link_companies WHERE link_id = ?1 AND company_id = j.value) \
     AND EXISTS (SELECT 1 FROM audit_events WHERE id = ?4)";
const REVOKE_SESSIONS: &str = "UPDATE sessions SET revoked_at = ?2, revoked_reason = ?3 WHERE link_id = ?1 AND revoked_at IS NULL \
     AND EXISTS (SELECT 1 FROM audit_events WHERE id = ?4)";
const REVOKE_CHANNELS: &str = "UPDATE channel_links SET status = 'revoked', revoked_at = ?2, revoked_reason = 'link_revoked', updated_at = ?2 \
     WHERE link_id = ?1 AND status <> 'revoked' AND EXISTS (SELECT 1 FROM audit_events WHERE id = ?3)";

/// `PATCH /api/admin/links/{id}`: status (active <-> disabled, revoked final), companies, default
/// company, review dates; audited with before and after, in one guarded batch.
pub async fn patch<P: Ports>(ports: &P, bearer: &Bearer, client: &ClientMeta, now: DateTime<Utc>, link_id: &Uuid, input: &PatchInput) -> Result<LinkDetail, ApiError> {
    let t = now.timestamp();
    let id = link_id.to_string();
    let asked: Vec<Uuid> = input.company_ids.clone().unwrap_or_default().into_iter().chain(input.default_company_id).collect();
    let mut stmts = vec![Governor::check_stmt(bearer, now)];
    stmts.extend(detail_stmts(&id, t));
    stmts.push(Stmt::new(SELECT_PATCH_COMPANIES).bind(json_ids(&asked)).bind(id.as_str()));
    let out = ports.db().batch(stmts).await?;
    let gov = Governor::from_check(bearer, out.first())?;
    let detail = decode_detail(out.get(1..1 + DETAIL_STMT_COUNT).unwrap_or_default())?.ok_or(ApiError::NotFound)?;
    let asked_rows: Vec<PatchCompanyRow> = decode_all(rows(&out, 1 + DETAIL_STMT_COUNT))?;
    let before = LinkState {
        status: detail.status,
        default_company_id: detail.default_company_id.clone(),
        company_ids: detail.facts.company_ids.clone(),
        review_at: detail.facts.review_at,
        reviewed_at: detail.facts.reviewed_at,
    };
    let asked_ids: Vec<String> = asked.iter().map(Uuid::to_string).collect();
    if !gov.sees_all(before.company_ids.iter().map(String::as_str)) || !gov.sees_all(asked_ids.iter().map(String::as_str)) {
        return Err(ApiError::NotFound);
    }
    let Some(plan) = plan_patch(&before, input, &asked_rows, t)? else {
        return Ok(detail);
    };
    let after = &plan.after;
    let mut touched = before.company_ids.clone();
    touched.extend(after.company_ids.iter().filter(|c| !before.company_ids.contains(c)).cloned());
    let event_id = new_id(ports, now)?;
    let event = Event::new(plan.action, ActorKind::Employee, Some(gov.user_id()))
        .target("link", &id)
        .companies(touched.clone())
        .details(json!({"before": before, "after": after, "policy_version_bumped": plan.bumps_policy}));
    let guard = event.insert_if(&event_id, client, t, PATCH_GUARD);
    let guard = guard
        .bind(id.as_str())
        .bind(status_word(before.status))
        .bind(detail.policy_version)
        .bind(before.review_at)
        .bind(before.reviewed_at)
        .bind(json_ids(&after.company_ids))
        .bind(json_ids(&touched))
        .bind(gov.principal.session_id.as_str());
    let mut writes = vec![
        guard,
        Stmt::new(UPDATE_LINK)
            .bind(id.as_str())
            .bind(status_word(after.status))
            .bind(after.default_company_id.as_str())
            .bind(after.review_at)
            .bind(after.status != LinkStatus::Revoked && after.review_at <= t)
            .bind(after.reviewed_at)
            .bind(i64::from(plan.bumps_policy))
            .bind(t)
            .bind(event_id.as_str()),
    ];
    if plan.companies_changed {
        let list = json_ids(&after.company_ids);
        writes.push(Stmt::new(DROP_COMPANIES).bind(id.as_str()).bind(list.as_str()).bind(event_id.as_str()));
        writes.push(Stmt::new(ADD_COMPANIES).bind(id.as_str()).bind(list.as_str()).bind(t).bind(event_id.as_str()));
    }
    let status_changed = after.status != before.status;
    if status_changed && after.status == LinkStatus::Revoked {
        writes.push(invitations::revoke_pending_stmt(&id, t, &event_id));
        writes.push(Stmt::new(REVOKE_CHANNELS).bind(id.as_str()).bind(t).bind(event_id.as_str()));
    }
    if status_changed && after.status != LinkStatus::Active {
        let reason = if after.status == LinkStatus::Revoked { "link_revoked" } else { "link_disabled" };
        writes.push(Stmt::new(REVOKE_SESSIONS).bind(id.as_str()).bind(t).bind(reason).bind(event_id.as_str()));
    }
    let first_read = writes.len();
    writes.extend(detail_stmts(&id, t));
    let out = ports.db().batch(writes).await?;
    if out.first().map_or(0, |o| o.changes) != 1 {
        return Err(ApiError::conflict("link_changed", "The link changed meanwhile: reload it and try again."));
    }
    decode_detail(out.get(first_read..).unwrap_or_default())?.ok_or(ApiError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nl() -> Uuid {
        Uuid::parse_str("0190a000-0000-7000-8000-000000000001").unwrap()
    }

    fn bh() -> Uuid {
        Uuid::parse_str("0190a000-0000-7000-8000-000000000002").unwrap()
    }

    fn contact(state: ContactState) -> ContactRow {
        ContactRow {
            id: "c1".into(),
            first_name: "Emily".into(),
            last_name: "Carter".into(),
            email: "emily@example.com".into(),
            state,
            duplicate_of: (state == ContactState::Duplicate).then(|| "c0".to_owned()),
            duplicate_first_name: Some("Emily".into()),
            duplicate_last_name: Some("Carter".into()),
            company_ids: None,
        }
    }

    fn company(id: Uuid, related: bool, status: CompanyStatus, has_policy: bool) -> CompanyRow {
        CompanyRow { id: id.to_string(), name: format!("co {id}"), status, related, has_policy }
    }

    fn new_user() -> UserChoice {
        UserChoice::New(NewUser {
            login: Login::parse("emily").unwrap(),
            email: Email::parse("emily@example.com").unwrap(),
            first_name: "Emily".into(),
            last_name: "Carter".into(),
        })
    }

    fn codes(notes: &[Note]) -> Vec<&'static str> {
        notes.iter().map(|n| n.code).collect()
    }

    #[test]
    fn a_clean_wizard_has_no_problems_and_a_single_company_is_the_default() {
        let w = Wizard { user: new_user(), contact_id: Uuid::nil(), company_ids: vec![nl()], default_company_id: None };
        let facts = WizardFacts { contact: contact(ContactState::Active), companies: vec![company(nl(), true, CompanyStatus::Active, true)], user: None, user_links: vec![] };
        let p = assess(&w, &facts);
        assert!(p.ok, "{:?}", p.problems);
        assert_eq!(p.default_company_id, Some(nl().to_string()));
        assert_eq!(codes(&p.warnings), vec!["invitation_needed"]);
    }

    #[test]
    fn every_blocking_rule_is_reported_together() {
        let w = Wizard { user: new_user(), contact_id: Uuid::nil(), company_ids: vec![nl(), bh()], default_company_id: None };
        let facts = WizardFacts {
            contact: contact(ContactState::Duplicate),
            companies: vec![company(nl(), false, CompanyStatus::Archived, false), company(bh(), true, CompanyStatus::Active, true)],
            user: Some(UserRow {
                id: "u".into(),
                kind: "external".into(),
                status: UserStatus::Active,
                login: "emily".into(),
                email: None,
                first_name: String::new(),
                last_name: String::new(),
                has_password: true,
            }),
            user_links: vec![],
        };
        let p = assess(&w, &facts);
        assert!(!p.ok);
        let c = codes(&p.problems);
        for expected in ["contact_duplicate", "default_company_missing", "contact_not_in_company", "company_archived", "login_taken"] {
            assert!(c.contains(&expected), "{expected} missing from {c:?}");
        }
        assert_eq!(p.problems.iter().find(|n| n.code == "contact_duplicate").and_then(|n| n.contact_id.clone()), Some("c0".into()));
        assert!(codes(&p.warnings).contains(&"company_without_policy"));
    }

    fn state(status: LinkStatus) -> LinkState {
        LinkState { status, default_company_id: nl().to_string(), company_ids: vec![nl().to_string()], review_at: 1000, reviewed_at: None }
    }

    #[test]
    fn revoked_is_final_and_the_default_must_stay_on_the_link() {
        let input = PatchInput { status: Some(LinkStatus::Active), ..PatchInput::default() };
        let err = plan_patch(&state(LinkStatus::Revoked), &input, &[], 10).unwrap_err();
        assert_eq!(err.code(), "link_revoked");
        let input = PatchInput { default_company_id: Some(bh()), ..PatchInput::default() };
        let err = plan_patch(&state(LinkStatus::Active), &input, &[], 10).unwrap_err();
        assert_eq!(err, ApiError::invalid("default_company_id", "The default company must be one of the link's companies."));
    }

    #[test]
    fn only_policy_relevant_changes_bump_the_version() {
        let reviewed = PatchInput { reviewed: Some(true), ..PatchInput::default() };
        let plan = plan_patch(&state(LinkStatus::Active), &reviewed, &[], 10).unwrap().unwrap();
        assert!(!plan.bumps_policy);
        assert_eq!((plan.after.review_at, plan.after.reviewed_at, plan.action), (10 + REVIEW_PERIOD_SECONDS, Some(10), "link.reviewed"));
        let disable = PatchInput { status: Some(LinkStatus::Disabled), ..PatchInput::default() };
        let plan = plan_patch(&state(LinkStatus::Active), &disable, &[], 10).unwrap().unwrap();
        assert!(plan.bumps_policy);
        assert_eq!(plan.action, "link.disabled");
        let same = PatchInput { status: Some(LinkStatus::Active), ..PatchInput::default() };
        assert_eq!(plan_patch(&state(LinkStatus::Active), &same, &[], 10).unwrap(), None);
    }
}
