//! What a link can see: the visibility of one object (for `decide`) and the visible set as list
//! filters (for the list endpoints' SQL). Both come from the same effective-policy checks.

use crate::access::chain::{Check, Level, Step};
use crate::access::effective::{effective_policy, Scoped};
use crate::access::facts::{DocumentFacts, LinkFacts, RequestFacts};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

impl Scoped<'_> {
    /// A request is visible when its pipeline is allowed at its company (the company itself was
    /// checked by the whole-link checks).
    pub(crate) fn request(&self, request: &RequestFacts) -> Check {
        let mut check = self.pipeline(request.pipeline_id);
        let subject = format!("request {}", request.id);
        let pipeline = request.pipeline_id;
        let company = self.company_label();
        check.steps.push(if check.passed() {
            Step::pass(
                Level::Object,
                subject,
                format!("the request is in pipeline {pipeline}, allowed at {company}"),
            )
        } else {
            Step::fail(
                Level::Object,
                subject,
                format!("the request is in pipeline {pipeline}, which is not allowed at {company}"),
            )
        });
        check
    }

    /// A document is visible when published, and addressed to no contact or to this one.
    pub(crate) fn document(&self, document: &DocumentFacts) -> Check {
        let subject = format!("document {}", document.id);
        let published = if document.published {
            Step::pass(Level::Object, &subject, "the document is published")
        } else {
            Step::fail(Level::Object, &subject, "the document is not published (a draft, or withdrawn)")
        };
        let addressee = match document.contact_id {
            None => Step::pass(
                Level::Object,
                &subject,
                format!("the document is for every contact of {}", self.company_label()),
            ),
            Some(contact) if contact == self.facts.contact.id => {
                Step::pass(Level::Object, &subject, "the document is addressed to this contact")
            }
            Some(_) => Step::fail(Level::Object, &subject, "the document is addressed to another contact"),
        };
        Check { steps: vec![published, addressee] }
    }
}

/// One visible company and the pipelines allowed there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompanyScope {
    pub company_id: Uuid,
    pub pipeline_ids: Vec<Uuid>,
}

/// Everything a link can see, as list filters. Requests: company in `companies` and pipeline in
/// that company's `pipeline_ids`. Documents: company in `companies`, published, and `contact_id`
/// NULL or this contact. Empty when the link is denied as a whole. Small enough for a token claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisibleScope {
    pub contact_id: Uuid,
    pub companies: Vec<CompanyScope>,
}

pub fn visible_scope(facts: &LinkFacts) -> VisibleScope {
    let mut companies: Vec<CompanyScope> = Vec::new();
    for company in &facts.companies {
        if companies.iter().any(|c| c.company_id == company.id) {
            continue;
        }
        let effective = effective_policy(facts, company.id);
        if !effective.is_denied_as_a_whole() {
            companies.push(CompanyScope {
                company_id: company.id,
                pipeline_ids: effective.policy.allowed_pipelines,
            });
        }
    }
    VisibleScope { contact_id: facts.contact.id, companies }
}

impl VisibleScope {
    pub fn company(&self, company_id: Uuid) -> Option<&CompanyScope> {
        self.companies.iter().find(|c| c.company_id == company_id)
    }

    pub fn company_ids(&self) -> Vec<Uuid> {
        self.companies.iter().map(|c| c.company_id).collect()
    }

    /// The pipelines visible at a company; empty for a company that is not visible.
    pub fn pipeline_ids(&self, company_id: Uuid) -> &[Uuid] {
        self.company(company_id).map_or(&[], |c| c.pipeline_ids.as_slice())
    }

    /// Whether a request with this company and pipeline is visible (the list filter, in Rust).
    pub fn shows_request(&self, company_id: Uuid, pipeline_id: Uuid) -> bool {
        self.pipeline_ids(company_id).contains(&pipeline_id)
    }

    /// Whether a document is visible (the list filter, in Rust).
    pub fn shows_document(&self, document: &DocumentFacts) -> bool {
        self.company(document.company_id).is_some()
            && document.published
            && document.contact_id.is_none_or(|c| c == self.contact_id)
    }

    /// `["<company id>", ...]`, one parameter for `company_id IN (SELECT value FROM json_each(?N))`.
    pub fn company_ids_json(&self) -> String {
        json_ids(self.companies.iter().map(|c| c.company_id))
    }

    /// `["<pipeline id>", ...]` for one company (`[]` when it is not visible), one parameter for
    /// `pipeline_id IN (SELECT value FROM json_each(?N))`.
    pub fn pipeline_ids_json(&self, company_id: Uuid) -> String {
        json_ids(self.pipeline_ids(company_id).iter().copied())
    }

    /// `[["<company id>", "<pipeline id>"], ...]` for a list across companies: `EXISTS (SELECT 1
    /// FROM json_each(?N) AS v WHERE v.value ->> 0 = r.company_id AND v.value ->> 1 = r.pipeline_id)`.
    pub fn request_pairs_json(&self) -> String {
        let pairs: Vec<String> = self
            .companies
            .iter()
            .flat_map(|c| c.pipeline_ids.iter().map(move |p| format!("[\"{}\",\"{}\"]", c.company_id, p)))
            .collect();
        format!("[{}]", pairs.join(","))
    }
}

/// UUIDs print as lowercase hex and hyphens only, so no escaping is needed; this also matches the
/// lowercase text form the database stores.
fn json_ids(ids: impl Iterator<Item = Uuid>) -> String {
    let quoted: Vec<String> = ids.map(|id| format!("\"{id}\"")).collect();
    format!("[{}]", quoted.join(","))
}
