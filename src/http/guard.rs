//! The route table's guards, enforced by the dispatcher before any handler runs: a route that needs
//! a credential never reaches its handler without a verified one, so a handler that forgets its
//! check cannot ship public. This is the no-I/O wall (signature, expiry, the caller's kind); the use
//! case's batch then checks the session, the user and the role afresh, in the same round trip as
//! its own reads, so a token never outlives what the database says.

use super::routes::Guard;
use super::transport::bearer;
use super::{ApiError, Req};
use crate::app::kit::governor::{is_crm_token, Caller};
use crate::app::kit::session::Bearer;
use crate::config::Config;
use chrono::{DateTime, Utc};

/// The verified caller for `guard`: None for public and webhook routes (a webhook checks its own
/// signature). 401 without a valid token; 403 `forbidden` for the wrong kind of caller or role.
pub fn verify(guard: Guard, config: &Config, req: &Req, now: DateTime<Utc>) -> Result<Option<Caller>, ApiError> {
    let token = || Bearer::from_token(config, bearer(req), now);
    let caller = match guard {
        Guard::Public | Guard::Webhook => return Ok(None),
        Guard::CrmOrAdmin if is_crm_token(config, bearer(req)) => return Ok(Some(Caller::Crm)),
        Guard::Session => token()?,
        Guard::Client => client(token()?)?,
        Guard::Employee | Guard::Admin | Guard::CrmOrAdmin => employee(token()?)?,
    };
    Ok(Some(Caller::Token(caller)))
}

fn client(bearer: Bearer) -> Result<Bearer, ApiError> {
    if bearer.claims.lid.is_none() {
        return Err(ApiError::Forbidden);
    }
    Ok(bearer)
}

/// An employee's token: it carries no link. Whether the employee still has a role, and whether it
/// is admin, is read afresh by the use case in its own batch (a promotion or demotion takes effect
/// on the next request, with the same token), so an `Admin` route refuses a manager there.
fn employee(bearer: Bearer) -> Result<Bearer, ApiError> {
    if bearer.claims.lid.is_some() {
        return Err(ApiError::Forbidden);
    }
    Ok(bearer)
}
