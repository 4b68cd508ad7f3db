//! Client links: the wizard (preview and confirm share one assessment, so the review step shows
//! exactly what confirming would refuse), the list with search and filters, a link's detail, and
//! changes to a link (status, companies, default company, review dates).
//!
//! Writes follow one pattern: the batch's first statement is the audit event, inserted only when
//! the state the decision was made on still holds (and the employee is still alive and in scope);
//! every later statement requires that event's fresh id to exist. The event id is the batch's
//! nonce, so a lost race writes nothing, and an event exists exactly when its change committed.

mod create;
mod detail;
pub mod invitations;
mod list;
mod patch;
#[cfg(test)]
mod tests;
mod wizard;

pub use create::*;
pub use detail::*;
pub use list::*;
pub use patch::*;
pub use wizard::*;

/// Every link gets a review date this long after its creation or its last review (DESIGN.md).
pub const REVIEW_PERIOD_SECONDS: i64 = 90 * 24 * 3600;
/// A link with more companies than this is a mistake, not a client.
const MAX_COMPANIES: usize = 50;
const MAX_NAME_LENGTH: usize = 100;
