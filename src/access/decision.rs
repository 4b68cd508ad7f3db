//! The one decision function: may this link do this to that object, and why. Every gate and the
//! diagnostics route call `decide`, so what diagnostics explains is what the gates enforce.

use crate::access::chain::{Level, Step};
use crate::access::effective::Evaluation;
use crate::access::facts::{DocumentFacts, LinkFacts, RequestFacts};
use crate::domain::policy::Permission;
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;
use uuid::Uuid;

/// What the caller wants to do. `View` reads any object; the others need a permission (and
/// `CreateRequest` an allowed pipeline) on top of seeing the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    View,
    CreateRequest,
    ReadRequestChat,
    SendRequestChat,
    GeneralChat,
    Calls,
    Telegram,
    Widget,
    ActOnDocument,
}

impl Action {
    pub const ALL: [Action; 9] = [
        Action::View,
        Action::CreateRequest,
        Action::ReadRequestChat,
        Action::SendRequestChat,
        Action::GeneralChat,
        Action::Calls,
        Action::Telegram,
        Action::Widget,
        Action::ActOnDocument,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::View => "view",
            Action::CreateRequest => "create_request",
            Action::ReadRequestChat => "read_request_chat",
            Action::SendRequestChat => "send_request_chat",
            Action::GeneralChat => "general_chat",
            Action::Calls => "calls",
            Action::Telegram => "telegram",
            Action::Widget => "widget",
            Action::ActOnDocument => "act_on_document",
        }
    }

    /// Parses the diagnostics `action=` value; permission names are accepted too, so
    /// `create_requests` means `create_request`.
    pub fn parse(name: &str) -> Option<Action> {
        if let Some(action) = Action::ALL.into_iter().find(|a| a.as_str() == name) {
            return Some(action);
        }
        match Permission::parse(name)? {
            Permission::CreateRequests => Some(Action::CreateRequest),
            other => Action::ALL.into_iter().find(|a| a.permission() == Some(other)),
        }
    }

    /// The permission the action needs, beyond seeing the object.
    pub fn permission(self) -> Option<Permission> {
        match self {
            Action::View | Action::ActOnDocument => None,
            Action::CreateRequest => Some(Permission::CreateRequests),
            Action::ReadRequestChat => Some(Permission::ReadRequestChat),
            Action::SendRequestChat => Some(Permission::SendRequestChat),
            Action::GeneralChat => Some(Permission::GeneralChat),
            Action::Calls => Some(Permission::Calls),
            Action::Telegram => Some(Permission::Telegram),
            Action::Widget => Some(Permission::Widget),
        }
    }

    /// Whether the action makes sense on that kind of object (diagnostics can answer 400 for a
    /// pair that does not; `decide` refuses such a pair as not visible).
    pub fn applies_to(self, object: &Object) -> bool {
        match self {
            Action::View => true,
            Action::CreateRequest => matches!(object, Object::Pipeline { .. }),
            Action::ReadRequestChat | Action::SendRequestChat => matches!(object, Object::Request(_)),
            Action::Calls => matches!(object, Object::Company(_) | Object::Request(_)),
            Action::GeneralChat | Action::Telegram | Action::Widget => {
                matches!(object, Object::Company(_))
            }
            Action::ActOnDocument => matches!(object, Object::Document(_)),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the action is on. Every object belongs to one company, which is where the policy applies:
/// the general chat, calls and channels are on a company; creating a request is on a pipeline at
/// a company.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Object {
    Company(Uuid),
    Request(RequestFacts),
    Document(DocumentFacts),
    Pipeline { company_id: Uuid, pipeline_id: Uuid },
}

impl Object {
    pub fn company_id(&self) -> Uuid {
        match self {
            Object::Company(id) => *id,
            Object::Request(r) => r.company_id,
            Object::Document(d) => d.company_id,
            Object::Pipeline { company_id, .. } => *company_id,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Object::Company(_) => "company",
            Object::Request(_) => "request",
            Object::Document(_) => "document",
            Object::Pipeline { .. } => "pipeline",
        }
    }

    fn subject(&self) -> String {
        match self {
            Object::Company(id) => format!("company {id}"),
            Object::Request(r) => format!("request {}", r.id),
            Object::Document(d) => format!("document {}", d.id),
            Object::Pipeline { pipeline_id, .. } => format!("pipeline {pipeline_id}"),
        }
    }
}

/// What a policy refused: a permission, or the pipeline of a new request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refused {
    Permission(Permission),
    Pipeline,
}

impl Refused {
    /// The `permission` of the 403 `policy_denied` body.
    pub fn as_str(self) -> &'static str {
        match self {
            Refused::Permission(p) => p.as_str(),
            Refused::Pipeline => "pipeline",
        }
    }
}

/// Allow; NotVisible answers 404 exactly as if the object did not exist; PolicyDenied answers 403
/// `policy_denied` naming what was refused, and only ever on an object the caller can see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    Allow,
    NotVisible,
    PolicyDenied(Refused),
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::NotVisible => "not_visible",
            Verdict::PolicyDenied(_) => "policy_denied",
        }
    }

    pub fn refused(self) -> Option<Refused> {
        match self {
            Verdict::PolicyDenied(refused) => Some(refused),
            _ => None,
        }
    }
}

/// A verdict and the chain of checks behind it, in chain order. Serializes as
/// `{"verdict": "allow" | "not_visible" | "policy_denied", "permission": null | "<name>",
/// "chain": [{level, subject, outcome, reason}]}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub verdict: Verdict,
    pub chain: Vec<Step>,
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        self.verdict == Verdict::Allow
    }
}

impl Serialize for Decision {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Shape<'a> {
            verdict: &'static str,
            permission: Option<&'static str>,
            chain: &'a [Step],
        }
        Shape {
            verdict: self.verdict.as_str(),
            permission: self.verdict.refused().map(Refused::as_str),
            chain: &self.chain,
        }
        .serialize(serializer)
    }
}

/// Decides `action` on `object` for the link. First whether the object is visible at all (the
/// whole-link checks, then the object's own rules), then whether the policy allows the action.
/// Deny wins: any failed check refuses, and visibility failures take precedence (404 over 403).
pub fn decide(facts: &LinkFacts, action: Action, object: &Object) -> Decision {
    let evaluation = Evaluation::new(facts, object.company_id());
    let mut chain = evaluation.scope().steps.clone();
    if !action.applies_to(object) {
        chain.push(Step::fail(
            Level::Object,
            object.subject(),
            format!("the action {action} does not apply to a {}", object.kind()),
        ));
        return finish(chain, Verdict::NotVisible);
    }
    let Some(scoped) = evaluation.in_scope() else {
        return finish(chain, Verdict::NotVisible);
    };

    let visibility = match object {
        Object::Company(_) => None,
        Object::Request(request) => Some(scoped.request(request)),
        Object::Document(document) => Some(scoped.document(document)),
        // A pipeline one may not create in is refused with 403 (`pipeline`), not hidden.
        Object::Pipeline { .. } if action == Action::CreateRequest => None,
        Object::Pipeline { pipeline_id, .. } => Some(scoped.pipeline(*pipeline_id)),
    };
    if let Some(check) = visibility {
        let visible = check.passed();
        chain.extend(check.steps);
        if !visible {
            return finish(chain, Verdict::NotVisible);
        }
    }

    let mut refused = None;
    if let Some(permission) = action.permission() {
        let check = scoped.permission(permission);
        if !check.passed() {
            refused = Some(Refused::Permission(permission));
        }
        chain.extend(check.steps);
    }
    if let (Action::CreateRequest, Object::Pipeline { pipeline_id, .. }) = (action, object) {
        let check = scoped.pipeline(*pipeline_id);
        if !check.passed() && refused.is_none() {
            refused = Some(Refused::Pipeline);
        }
        chain.extend(check.steps);
    }
    finish(chain, refused.map_or(Verdict::Allow, Verdict::PolicyDenied))
}

/// Only the verdict, for a gate that has no use for the explanation.
pub fn verdict(facts: &LinkFacts, action: Action, object: &Object) -> Verdict {
    decide(facts, action, object).verdict
}

fn finish(mut chain: Vec<Step>, verdict: Verdict) -> Decision {
    // Stable: checks at the same level keep the order they were made in.
    chain.sort_by_key(|step| step.level);
    Decision { verdict, chain }
}
