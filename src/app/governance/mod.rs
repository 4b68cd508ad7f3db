//! What employees do: links and invitations, policies, diagnostics, offboarding, the CRM's directory,
//! users and employees, branding, security settings, the audit, channel links, and the team's work on
//! requests and documents. Every write is guarded by the employee's scope inside its SQL.

pub mod admin_sessions;
pub mod audit_query;
pub mod branding;
pub mod channel_admin;
pub mod crm;
pub mod crm_links;
pub mod diagnostics;
pub mod link_policy;
pub mod links;
pub mod offboarding;
pub mod policies;
pub mod security_settings;
pub mod team_documents;
pub mod team_requests;
pub mod users_admin;
