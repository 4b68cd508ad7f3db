//! The effective policy of a link at one company, and the checks it is made of. These checks are
//! the only place the policy rules live: `effective_policy` folds them into a grant, and `decide`
//! copies their steps into its chain, so an explanation is the enforcement itself.

use crate::access::chain::{Check, Level, Step};
use crate::access::facts::{CompanyFacts, CompanyStatus, ContactState, LinkFacts, LinkStatus, UserStatus};
use crate::domain::policy::{CompanyPolicy, Permission, Rule};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Why something was denied: the level that denied it and a sentence for a human.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Denial {
    pub level: Level,
    pub reason: String,
}

/// A denied policy field: a permission name, or `allowed_pipelines` (with `pipeline_id` when one
/// listed pipeline was dropped, without it when no pipeline is allowed at all).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldDenial {
    pub field: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_id: Option<Uuid>,
    pub level: Level,
    pub reason: String,
}

pub const ALLOWED_PIPELINES: &str = "allowed_pipelines";

/// What a link may do at one company. `policy` has the company policy's shape (and is flattened
/// into the same JSON field names), holding the resulting grant; `denials` gives the level and
/// reason of every denied field. Serializable both ways, so it can be cached by policy version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Effective {
    pub company_id: Uuid,
    /// Set when the link has nothing at all at this company (inactive link, blocked user,
    /// inactive contact, archived company, or a company not on the link).
    pub denied_as_a_whole: Option<Denial>,
    #[serde(flatten)]
    pub policy: CompanyPolicy,
    pub denials: Vec<FieldDenial>,
}

impl Effective {
    pub fn allows(&self, permission: Permission) -> bool {
        self.policy.allows(permission)
    }

    pub fn allows_pipeline(&self, pipeline: Uuid) -> bool {
        self.policy.allows_pipeline(pipeline)
    }

    pub fn is_denied_as_a_whole(&self) -> bool {
        self.denied_as_a_whole.is_some()
    }

    /// Why a permission is denied; None when it is allowed.
    pub fn denial(&self, permission: Permission) -> Option<&FieldDenial> {
        self.denials.iter().find(|d| d.field == permission.as_str())
    }

    /// Why a pipeline is not allowed; None when it is allowed or no policy names it (a pipeline
    /// no policy names is simply not on the list).
    pub fn pipeline_denial(&self, pipeline: Uuid) -> Option<&FieldDenial> {
        self.denials.iter().find(|d| d.field == ALLOWED_PIPELINES && d.pipeline_id == Some(pipeline))
    }
}

/// The effective policy of the link at `company_id`: each permission is allowed when the company
/// policy allows it and the contact policy does not deny it (send_request_chat also needs
/// read_request_chat); the pipelines are the company's, intersected with the contact's list when
/// it has one, minus archived or unknown pipelines.
pub fn effective_policy(facts: &LinkFacts, company_id: Uuid) -> Effective {
    let evaluation = Evaluation::new(facts, company_id);
    let Some(scoped) = evaluation.in_scope() else {
        let denial = evaluation.scope().first_failure().map_or_else(
            || Denial { level: Level::Company, reason: "the company is not on the link".to_owned() },
            |step| Denial { level: step.level, reason: step.reason.clone() },
        );
        return denied_as_a_whole(company_id, denial);
    };

    let mut policy = CompanyPolicy::default();
    let mut denials = Vec::new();
    for permission in Permission::ALL {
        let check = scoped.permission(permission);
        match check.first_failure() {
            None => policy.set(permission, true),
            Some(step) => denials.push(FieldDenial {
                field: permission.as_str().to_owned(),
                pipeline_id: None,
                level: step.level,
                reason: step.reason.clone(),
            }),
        }
    }
    for pipeline in scoped.named_pipelines() {
        let check = scoped.pipeline(pipeline);
        match check.first_failure() {
            None => policy.allowed_pipelines.push(pipeline),
            Some(step) => denials.push(FieldDenial {
                field: ALLOWED_PIPELINES.to_owned(),
                pipeline_id: Some(pipeline),
                level: step.level,
                reason: step.reason.clone(),
            }),
        }
    }
    if scoped.company.policy.allowed_pipelines.is_empty() {
        denials.push(FieldDenial {
            field: ALLOWED_PIPELINES.to_owned(),
            pipeline_id: None,
            level: Level::CompanyPolicy,
            reason: format!("the policy of {} allows no pipeline", scoped.company_label()),
        });
    }
    Effective { company_id, denied_as_a_whole: None, policy, denials }
}

fn denied_as_a_whole(company_id: Uuid, denial: Denial) -> Effective {
    let field = |name: &str, pipeline_id| FieldDenial {
        field: name.to_owned(),
        pipeline_id,
        level: denial.level,
        reason: denial.reason.clone(),
    };
    let mut denials: Vec<FieldDenial> = Permission::ALL.iter().map(|p| field(p.as_str(), None)).collect();
    denials.push(field(ALLOWED_PIPELINES, None));
    Effective { company_id, denied_as_a_whole: Some(denial), policy: CompanyPolicy::default(), denials }
}

/// The checks for one (link, company). Shared by `effective_policy`, `decide` and the visibility
/// helpers; nothing else evaluates a policy rule.
pub(crate) struct Evaluation<'a> {
    facts: &'a LinkFacts,
    company: Option<&'a CompanyFacts>,
    scope: Check,
}

impl<'a> Evaluation<'a> {
    pub(crate) fn new(facts: &'a LinkFacts, company_id: Uuid) -> Evaluation<'a> {
        let company = facts.company(company_id);
        let scope = Check { steps: scope_steps(facts, company_id, company) };
        Evaluation { facts, company, scope }
    }

    /// The whole-link checks: user, link, contact and company (always all four, so diagnostics
    /// shows every reason at once).
    pub(crate) fn scope(&self) -> &Check {
        &self.scope
    }

    /// The policy checks, available only when the whole-link checks pass: a company that is not
    /// on the link has no policy to consult.
    pub(crate) fn in_scope(&self) -> Option<Scoped<'a>> {
        match self.company {
            Some(company) if self.scope.passed() => Some(Scoped { facts: self.facts, company }),
            _ => None,
        }
    }
}

fn scope_steps(facts: &LinkFacts, company_id: Uuid, company: Option<&CompanyFacts>) -> Vec<Step> {
    let user = format!("user {}", facts.user.id);
    let user_step = match facts.user.status {
        UserStatus::Active => Step::pass(Level::User, user, "the user is active"),
        UserStatus::Blocked => Step::fail(Level::User, user, "the user is blocked"),
    };
    let link = format!("link {}", facts.link.id);
    let link_step = match facts.link.status {
        LinkStatus::Active => Step::pass(Level::Link, link, "the link is active"),
        LinkStatus::Disabled => Step::fail(Level::Link, link, "the link is disabled"),
        LinkStatus::Revoked => Step::fail(Level::Link, link, "the link is revoked"),
    };
    let contact = format!("contact {}", facts.contact.id);
    let contact_step = match facts.contact.state {
        ContactState::Active => Step::pass(Level::Contact, contact, "the contact is active"),
        ContactState::Draft => Step::fail(Level::Contact, contact, "the contact is a draft in the CRM"),
        ContactState::Duplicate => {
            Step::fail(Level::Contact, contact, "the contact is marked as a duplicate in the CRM")
        }
    };
    let company_step = match company {
        None => Step::fail(
            Level::Company,
            format!("company {company_id}"),
            format!("company {company_id} is not on the link"),
        ),
        Some(c) => match c.status {
            CompanyStatus::Archived => {
                Step::fail(Level::Company, label(c), format!("{} is archived", label(c)))
            }
            CompanyStatus::Active => {
                Step::pass(Level::Company, label(c), format!("{} is on the link and active", label(c)))
            }
        },
    };
    vec![user_step, link_step, contact_step, company_step]
}

fn label(company: &CompanyFacts) -> String {
    format!("company {}", company.name)
}

/// A (link, company) whose whole-link checks passed: the permission and pipeline checks.
pub(crate) struct Scoped<'a> {
    pub(crate) facts: &'a LinkFacts,
    pub(crate) company: &'a CompanyFacts,
}

impl Scoped<'_> {
    pub(crate) fn company_label(&self) -> String {
        label(self.company)
    }

    /// company policy -> contact policy -> effective. An allow under a company deny passes at the
    /// contact level (it denies nothing) but the company step fails, and says why.
    pub(crate) fn permission(&self, permission: Permission) -> Check {
        let name = permission.as_str();
        let company = self.company_label();
        let company_allows = self.company.policy.allows(permission);
        let rule = self.facts.contact_policy.rule(permission);

        let company_step = match (company_allows, rule) {
            (true, _) => {
                Step::pass(Level::CompanyPolicy, name, format!("the policy of {company} allows {name}"))
            }
            (false, Rule::Allow) => Step::fail(
                Level::CompanyPolicy,
                name,
                format!("the policy of {company} denies {name}; the contact policy's allow cannot widen it"),
            ),
            (false, _) => {
                Step::fail(Level::CompanyPolicy, name, format!("the policy of {company} denies {name}"))
            }
        };
        let contact_step = match (rule, company_allows) {
            (Rule::Deny, _) => {
                Step::fail(Level::ContactPolicy, name, format!("the contact policy denies {name}"))
            }
            (Rule::Allow, true) => {
                Step::pass(Level::ContactPolicy, name, format!("the contact policy allows {name}"))
            }
            (Rule::Allow, false) => Step::pass(
                Level::ContactPolicy,
                name,
                format!("the contact policy allows {name}, but an allow never widens the company policy"),
            ),
            (Rule::Inherit, _) => Step::pass(
                Level::ContactPolicy,
                name,
                format!("the contact policy inherits {name} from the company policy"),
            ),
        };
        let effective_step = if !company_allows {
            Step::fail(Level::Effective, name, format!("{name} is denied by the policy of {company}"))
        } else if rule == Rule::Deny {
            Step::fail(Level::Effective, name, format!("{name} is denied by the contact policy"))
        } else {
            self.dependency_step(permission)
        };
        Check { steps: vec![company_step, contact_step, effective_step] }
    }

    /// Sending in a request chat one cannot read makes no sense, so send needs read.
    fn dependency_step(&self, permission: Permission) -> Step {
        let name = permission.as_str();
        if permission == Permission::SendRequestChat {
            let read = self.permission(Permission::ReadRequestChat);
            if let Some(failure) = read.first_failure() {
                return Step::fail(
                    Level::Effective,
                    name,
                    format!(
                        "send_request_chat requires read_request_chat, which is denied: {}",
                        failure.reason
                    ),
                );
            }
        }
        Step::pass(Level::Effective, name, format!("{name} is allowed at {}", self.company_label()))
    }

    /// The pipelines either policy names, company's first, each once.
    pub(crate) fn named_pipelines(&self) -> Vec<Uuid> {
        let contact = self.facts.contact_policy.allowed_pipelines.iter().flatten();
        let mut named: Vec<Uuid> = Vec::new();
        for id in self.company.policy.allowed_pipelines.iter().chain(contact) {
            if !named.contains(id) {
                named.push(*id);
            }
        }
        named
    }

    /// company policy -> contact policy -> effective -> object (the pipeline still exists and is
    /// not archived).
    pub(crate) fn pipeline(&self, pipeline: Uuid) -> Check {
        let subject = format!("pipeline {pipeline}");
        let company = self.company_label();
        let contact_list = self.facts.contact_policy.allowed_pipelines.as_ref();
        let contact_lists = contact_list.map(|list| list.contains(&pipeline));
        let company_lists = self.company.policy.allows_pipeline(pipeline);

        let company_step = match (company_lists, contact_lists) {
            (true, _) => Step::pass(
                Level::CompanyPolicy,
                &subject,
                format!("the policy of {company} allows pipeline {pipeline}"),
            ),
            (false, Some(true)) => Step::fail(
                Level::CompanyPolicy,
                &subject,
                format!(
                    "the policy of {company} does not allow pipeline {pipeline}; the contact policy cannot widen it"
                ),
            ),
            (false, _) => Step::fail(
                Level::CompanyPolicy,
                &subject,
                format!("the policy of {company} does not allow pipeline {pipeline}"),
            ),
        };
        let contact_step = match contact_lists {
            None => Step::pass(
                Level::ContactPolicy,
                &subject,
                "the contact policy inherits the company's pipelines",
            ),
            Some(true) => Step::pass(
                Level::ContactPolicy,
                &subject,
                format!("the contact policy allows pipeline {pipeline}"),
            ),
            Some(false) => Step::fail(
                Level::ContactPolicy,
                &subject,
                format!("the contact policy does not allow pipeline {pipeline}"),
            ),
        };
        let object_step = match self.facts.pipeline(pipeline) {
            None => Step::fail(Level::Object, &subject, format!("pipeline {pipeline} does not exist")),
            Some(p) if p.archived => {
                Step::fail(Level::Object, &subject, format!("pipeline {pipeline} is archived"))
            }
            Some(_) => {
                Step::pass(Level::Object, &subject, format!("pipeline {pipeline} exists and is not archived"))
            }
        };
        let allowed = company_step.passed() && contact_step.passed() && object_step.passed();
        let effective_step = if allowed {
            Step::pass(Level::Effective, &subject, format!("pipeline {pipeline} is allowed at {company}"))
        } else {
            Step::fail(Level::Effective, &subject, format!("pipeline {pipeline} is not allowed at {company}"))
        };
        // The object step comes before the effective one, so the first failure is the cause.
        Check { steps: vec![company_step, contact_step, object_step, effective_step] }
    }
}
