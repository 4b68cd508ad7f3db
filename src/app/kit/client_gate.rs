//! The gate every client route passes: the session check and the link's facts travel in the use
//! case's own batch (one round trip), then `access::decide` (the same function diagnostics call)
//! says allow, 404 (not visible) or 403 (`policy_denied` naming the permission).

use crate::app::kit::audit::{ActorKind, Event};
use uuid::Uuid;
use crate::app::kit::link_facts::{decode_facts, facts_stmts, LinkRow, FACTS_STMT_COUNT};
use crate::app::kit::session::{Bearer, Principal};
use crate::app::ApiError;
use crate::access::decision::{decide, Action, Object, Verdict};
use crate::access::facts::LinkFacts;
use crate::access::visibility::VisibleScope;
use crate::store::{Outcome, Stmt};
use chrono::{DateTime, Utc};

/// How many statements [`gate_stmts`] puts first in a batch.
pub const GATE_STMT_COUNT: usize = 1 + FACTS_STMT_COUNT;

/// The check and the facts, to go first in the caller's batch; the caller's own statements
/// follow and their outcomes start at index [`GATE_STMT_COUNT`].
pub fn gate_stmts(bearer: &Bearer, now: DateTime<Utc>) -> Vec<Stmt> {
    let mut stmts = vec![bearer.check_stmt(now)];
    stmts.extend(facts_stmts(bearer.claims.lid.as_deref().unwrap_or("")));
    stmts
}

/// A signed-in client with a live link, and what access decides on.
pub struct Client {
    pub principal: Principal,
    pub link: LinkRow,
    pub facts: LinkFacts,
}

impl Client {
    /// Reads the gate's outcomes. Employees have no client portal: 403.
    pub fn from_outcomes(bearer: &Bearer, outcomes: &[Outcome]) -> Result<Client, ApiError> {
        let principal = bearer.full_principal(outcomes.first())?;
        if principal.employee {
            return Err(ApiError::Forbidden);
        }
        let (link, facts) = decode_facts(outcomes.get(1..GATE_STMT_COUNT).unwrap_or_default())?.ok_or(ApiError::Unauthenticated)?;
        Ok(Client { principal, link, facts })
    }

    /// Allow, or the error the API answers: 404 for anything not visible, 403 naming the
    /// permission for an action refused on something visible.
    pub fn check(&self, action: Action, object: &Object) -> Result<(), ApiError> {
        verdict_to_result(decide(&self.facts, action, object).verdict)
    }

    pub fn user_id(&self) -> &str {
        &self.principal.user_id
    }

    pub fn link_id(&self) -> String {
        self.link.id.to_string()
    }

    /// An audit event of this client's own action, with the link it acted through (the console's
    /// audit filters by link) and the companies it concerns.
    pub fn event(&self, action: &'static str, company: Uuid, details: serde_json::Value) -> Event {
        client_event(&self.principal.user_id, Some(&self.link_id()), action, company, details)
    }
}

/// [`Client::event`] from what a caller knows before its batch (the token's user and link).
pub fn client_event(user_id: &str, link_id: Option<&str>, action: &'static str, company: Uuid, details: serde_json::Value) -> Event {
    let mut details = details;
    if let serde_json::Value::Object(map) = &mut details {
        map.insert("link_id".into(), serde_json::json!(link_id));
    }
    Event::new(action, ActorKind::External, Some(user_id)).companies(vec![company.to_string()]).details(details)
}

pub fn verdict_to_result(verdict: Verdict) -> Result<(), ApiError> {
    match verdict {
        Verdict::Allow => Ok(()),
        Verdict::NotVisible => Err(ApiError::NotFound),
        Verdict::PolicyDenied(refused) => Err(ApiError::PolicyDenied { permission: refused.as_str().to_owned() }),
    }
}

/// The visible scope the access token carries (lists filter by it in SQL, in the same batch as the
/// session check, whose policy-version comparison guarantees it is current).
pub fn token_scope(bearer: &Bearer) -> Result<VisibleScope, ApiError> {
    let vis = bearer.claims.vis.clone().ok_or(ApiError::Forbidden)?;
    serde_json::from_value(vis).map_err(|_| ApiError::Unauthenticated)
}

/// The gate's outcome for a client: the client, or the error the API answers.
pub fn client_of(bearer: &Bearer, out: &[Outcome]) -> Result<Client, ApiError> {
    Client::from_outcomes(bearer, out)
}

/// The visible scope the token carries, or an empty one when it carries none (an employee's
/// token): the session check in the same batch then answers for the caller, so a dead session
/// still hears 401 and an employee 403.
pub fn scope_or_empty(bearer: &Bearer) -> VisibleScope {
    token_scope(bearer).unwrap_or(VisibleScope { contact_id: Uuid::nil(), companies: Vec::new() })
}

/// The company a client route works on: `?company=`, else the link's default company.
pub fn company_or_default(client: &Client, company: Option<Uuid>) -> Uuid {
    company.unwrap_or(client.link.default_company_id)
}
