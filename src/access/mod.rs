//! Effective policy, object visibility and the Decision-with-reasons that gates and diagnostics share. No I/O.
//!
//! Facts in (`facts`), decisions out: `effective_policy` per (link, company), `decide` per (action,
//! object), `visible_scope` for list filters. The policy rules live only in `effective`'s checks.
pub mod chain;
pub mod decision;
pub mod effective;
pub mod facts;
pub mod visibility;

pub use chain::{Level, Outcome, Step};
pub use decision::{decide, verdict, Action, Decision, Object, Refused, Verdict};
pub use effective::{effective_policy, Denial, Effective, FieldDenial, ALLOWED_PIPELINES};
pub use facts::{
    CompanyFacts, CompanyStatus, ContactFacts, ContactState, DocumentFacts, LinkFacts, LinkRecord,
    LinkStatus, PipelineFacts, RequestFacts, UserFacts, UserStatus,
};
pub use visibility::{visible_scope, CompanyScope, VisibleScope};
