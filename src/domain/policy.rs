//! Permissions and the two policy levels: the company policy (the perimeter) and the contact policy
//! (which can only narrow it). The JSON shapes are API.md's governance policy routes.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// One thing a client may be allowed to do at a company. The snake_case names are stable: they
/// are the policy fields, the `permission` of a 403 `policy_denied`, and the database columns.
/// The field of a policy that holds `permission`: company and contact policies name their fields
/// alike, so one match serves both, borrowed as asked (`&` or `&mut`).
macro_rules! permission_field {
    ($policy:expr, $permission:expr, $($borrow:tt)+) => {
        match $permission {
            Permission::CreateRequests => $($borrow)+ $policy.create_requests,
            Permission::ReadRequestChat => $($borrow)+ $policy.read_request_chat,
            Permission::SendRequestChat => $($borrow)+ $policy.send_request_chat,
            Permission::GeneralChat => $($borrow)+ $policy.general_chat,
            Permission::Calls => $($borrow)+ $policy.calls,
            Permission::Telegram => $($borrow)+ $policy.telegram,
            Permission::Widget => $($borrow)+ $policy.widget,
        }
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    CreateRequests,
    ReadRequestChat,
    SendRequestChat,
    GeneralChat,
    Calls,
    Telegram,
    Widget,
}

impl Permission {
    /// Every permission, in the order the API lists the fields.
    pub const ALL: [Permission; 7] = [
        Permission::CreateRequests,
        Permission::ReadRequestChat,
        Permission::SendRequestChat,
        Permission::GeneralChat,
        Permission::Calls,
        Permission::Telegram,
        Permission::Widget,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::CreateRequests => "create_requests",
            Permission::ReadRequestChat => "read_request_chat",
            Permission::SendRequestChat => "send_request_chat",
            Permission::GeneralChat => "general_chat",
            Permission::Calls => "calls",
            Permission::Telegram => "telegram",
            Permission::Widget => "widget",
        }
    }

    pub fn parse(name: &str) -> Option<Permission> {
        Permission::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of the permissions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownPermission(pub String);

impl FromStr for Permission {
    type Err = UnknownPermission;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Permission::parse(s).ok_or_else(|| UnknownPermission(s.to_owned()))
    }
}

/// A company's policy: the most any contact of the company may do there. The default denies
/// everything and allows no pipeline, because a new company must be granted access explicitly.
/// A field missing from a PUT body therefore stays denied.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CompanyPolicy {
    pub create_requests: bool,
    pub read_request_chat: bool,
    pub send_request_chat: bool,
    pub general_chat: bool,
    pub calls: bool,
    pub telegram: bool,
    pub widget: bool,
    pub allowed_pipelines: Vec<Uuid>,
}

impl CompanyPolicy {
    /// The preset the governance console offers (never applied silently): create requests and
    /// read and send their chat, in one pipeline.
    pub fn recommended_minimum(pipeline: Uuid) -> CompanyPolicy {
        CompanyPolicy {
            create_requests: true,
            read_request_chat: true,
            send_request_chat: true,
            allowed_pipelines: vec![pipeline],
            ..CompanyPolicy::default()
        }
    }

    pub fn allows(&self, permission: Permission) -> bool {
        *self.field(permission)
    }

    pub fn set(&mut self, permission: Permission, allowed: bool) {
        *self.field_mut(permission) = allowed;
    }

    pub fn allows_pipeline(&self, pipeline: Uuid) -> bool {
        self.allowed_pipelines.contains(&pipeline)
    }

    fn field(&self, permission: Permission) -> &bool {
        permission_field!(self, permission, &)
    }

    fn field_mut(&mut self, permission: Permission) -> &mut bool {
        permission_field!(self, permission, &mut)
    }
}

/// A contact policy field. `Allow` exists so an employee can state intent, but it never widens
/// the company policy: only `Deny` changes the outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    #[default]
    Inherit,
    Allow,
    Deny,
}

impl Rule {
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Inherit => "inherit",
            Rule::Allow => "allow",
            Rule::Deny => "deny",
        }
    }

    pub fn parse(name: &str) -> Option<Rule> {
        [Rule::Inherit, Rule::Allow, Rule::Deny].into_iter().find(|r| r.as_str() == name)
    }
}

/// A contact's policy, applied on each company of the contact's link. The default inherits
/// everything, which is also what a contact without a policy row gets.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ContactPolicy {
    pub create_requests: Rule,
    pub read_request_chat: Rule,
    pub send_request_chat: Rule,
    pub general_chat: Rule,
    pub calls: Rule,
    pub telegram: Rule,
    pub widget: Rule,
    /// `None` (JSON null) inherits the company's pipelines; a list intersects them.
    pub allowed_pipelines: Option<Vec<Uuid>>,
}

impl ContactPolicy {
    pub fn rule(&self, permission: Permission) -> Rule {
        *self.field(permission)
    }

    pub fn set_rule(&mut self, permission: Permission, rule: Rule) {
        *self.field_mut(permission) = rule;
    }

    fn field(&self, permission: Permission) -> &Rule {
        permission_field!(self, permission, &)
    }

    fn field_mut(&mut self, permission: Permission) -> &mut Rule {
        permission_field!(self, permission, &mut)
    }
}
