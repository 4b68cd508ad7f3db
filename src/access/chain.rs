//! The explanation vocabulary: a decision is a chain of steps, each a (level, subject, outcome,
//! reason), in the order user -> link -> contact -> company -> company policy -> contact policy ->
//! effective -> object.

use serde::{Deserialize, Serialize};

/// Where along the chain a check sits. The declaration order is the chain order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    User,
    Link,
    Contact,
    Company,
    CompanyPolicy,
    ContactPolicy,
    Effective,
    Object,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::User => "user",
            Level::Link => "link",
            Level::Contact => "contact",
            Level::Company => "company",
            Level::CompanyPolicy => "company_policy",
            Level::ContactPolicy => "contact_policy",
            Level::Effective => "effective",
            Level::Object => "object",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Pass,
    Fail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub level: Level,
    /// What was checked at that level: "user <id>", "company Northern Light", "calls", "pipeline <id>".
    pub subject: String,
    pub outcome: Outcome,
    pub reason: String,
}

impl Step {
    pub fn pass(level: Level, subject: impl Into<String>, reason: impl Into<String>) -> Step {
        Step { level, subject: subject.into(), outcome: Outcome::Pass, reason: reason.into() }
    }

    pub fn fail(level: Level, subject: impl Into<String>, reason: impl Into<String>) -> Step {
        Step { level, subject: subject.into(), outcome: Outcome::Fail, reason: reason.into() }
    }

    pub fn passed(&self) -> bool {
        self.outcome == Outcome::Pass
    }
}

/// A few checks that together decide one thing (the scope of a link, one permission, one
/// pipeline). It passes when every step passes; its first failing step is why it did not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub steps: Vec<Step>,
}

impl Check {
    pub fn passed(&self) -> bool {
        self.steps.iter().all(Step::passed)
    }

    pub fn first_failure(&self) -> Option<&Step> {
        self.steps.iter().find(|s| !s.passed())
    }
}
