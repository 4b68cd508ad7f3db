//! The link wizard's rules: its input parsed into types, the facts it decides on, and `assess`,
//! pure, which answers the review step and guards the confirm alike; `preview` loads and assesses.

use crate::app::kit::governor::LIVE_LINK_COMPANIES;
use super::*;
use crate::app::kit::rows::{json_ids, parse_ids, rows};
use crate::app::kit::governor::Governor;
use crate::app::kit::session::Bearer;
use crate::app::{ApiError, Ports};
use crate::access::facts::{CompanyStatus, ContactState, LinkStatus, UserStatus};
use crate::domain::login::{Email, Login};
use crate::store::{decode, decode_all, sql::flag, Sql, Stmt};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;


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

pub(super) fn name_field(field: &str, value: Option<String>) -> Result<String, ApiError> {
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

pub(super) const SELECT_CONTACT: &str = "SELECT c.id, c.first_name, c.last_name, c.email, c.state, c.duplicate_of, \
     d.first_name AS duplicate_first_name, d.last_name AS duplicate_last_name, \
     (SELECT json_group_array(cc.company_id) FROM contact_companies cc WHERE cc.contact_id = c.id) AS company_ids \
     FROM contacts c LEFT JOIN contacts d ON d.id = c.duplicate_of WHERE c.id = ?1";
pub(super) const SELECT_COMPANIES: &str = "SELECT co.id, co.name, co.status, \
     EXISTS (SELECT 1 FROM contact_companies cc WHERE cc.company_id = co.id AND cc.contact_id = ?2) AS related, \
     EXISTS (SELECT 1 FROM company_policies p WHERE p.company_id = co.id) AS has_policy \
     FROM companies co WHERE co.id IN (SELECT value FROM json_each(?1)) ORDER BY co.name, co.id";
pub(super) const SELECT_USER: &str = "SELECT id, kind, status, login, email, first_name, last_name, password_hash IS NOT NULL AS has_password \
     FROM users WHERE id = ?1 OR login_key = ?2";
pub(super) const SELECT_USER_LINKS: &str = "SELECT l.id, l.contact_id, l.status, c.first_name, c.last_name FROM links l \
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

pub(super) fn full_name(first: &str, last: &str) -> String {
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

pub(super) fn status_word(s: LinkStatus) -> &'static str {
    match s {
        LinkStatus::Active => "active",
        LinkStatus::Disabled => "disabled",
        LinkStatus::Revoked => "revoked",
    }
}

/// Reads the facts and assesses them: 404 for a manager's company or contact outside scope, 400
/// naming the field for unknown ids.
pub(super) async fn assess_wizard<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, wizard: &Wizard) -> Result<(Governor, Preview), ApiError> {
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
            Stmt::new(LIVE_LINK_COMPANIES).bind(user_id.clone()),
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
    if let UserChoice::Existing(_) = wizard.user {
        let Some(found) = &user else {
            return Err(ApiError::invalid("user.id", "No user has this id"));
        };
        // The review step shows the user's login, email and links: only to whoever governs them.
        let live: Vec<String> = rows(&out, 5).into_iter().filter_map(|r| r.get("company_id").and_then(|v| v.as_str()).map(str::to_owned)).collect();
        if !gov.governs_user(&found.kind, &live) {
            return Err(ApiError::NotFound);
        }
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
