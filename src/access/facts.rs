//! The facts the access engine decides on, as plain values the use cases fill from SQL rows.
//! Statuses deserialize from the database's text values, so a row struct can hold them directly.

use crate::domain::policy::{CompanyPolicy, ContactPolicy};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    Active,
    Blocked,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkStatus {
    Active,
    Disabled,
    Revoked,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactState {
    Active,
    Draft,
    Duplicate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompanyStatus {
    Active,
    Archived,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserFacts {
    pub id: Uuid,
    pub status: UserStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkRecord {
    pub id: Uuid,
    pub status: LinkStatus,
    pub default_company_id: Uuid,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactFacts {
    pub id: Uuid,
    pub state: ContactState,
}

/// One company of the link (a `link_companies` row joined with the company and its policy; a
/// company without a policy row gets `CompanyPolicy::default()`, which denies everything).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompanyFacts {
    pub id: Uuid,
    pub name: String,
    pub status: CompanyStatus,
    pub policy: CompanyPolicy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PipelineFacts {
    pub id: Uuid,
    pub archived: bool,
}

/// Everything about one link that access depends on. `companies` holds exactly the link's
/// companies: a company absent from it is "not on the link". `pipelines` must hold every pipeline
/// the policies name and any pipeline being decided on (loading all pipelines is simplest): a
/// pipeline missing from it is treated as gone, so forgetting to load it denies rather than allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkFacts {
    pub user: UserFacts,
    pub link: LinkRecord,
    pub contact: ContactFacts,
    pub companies: Vec<CompanyFacts>,
    pub contact_policy: ContactPolicy,
    pub pipelines: Vec<PipelineFacts>,
}

impl LinkFacts {
    pub fn company(&self, id: Uuid) -> Option<&CompanyFacts> {
        self.companies.iter().find(|c| c.id == id)
    }

    pub fn pipeline(&self, id: Uuid) -> Option<&PipelineFacts> {
        self.pipelines.iter().find(|p| p.id == id)
    }
}

/// A request as access sees it: whose it is and where it lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestFacts {
    pub id: Uuid,
    pub company_id: Uuid,
    pub pipeline_id: Uuid,
}

/// A document as access sees it. `published` is false for drafts and withdrawn documents;
/// `contact_id` None means the document is for every contact of the company.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentFacts {
    pub id: Uuid,
    pub company_id: Uuid,
    pub contact_id: Option<Uuid>,
    pub published: bool,
}
