//! What a pipeline declares and requests are checked against: its stages and its request fields.

use crate::store::sql::flag;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    Text,
    Number,
    Date,
    Choice,
}

/// A request field a pipeline declares; requests are validated against these on create.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestField {
    pub key: String,
    pub label: String,
    #[serde(rename = "type")]
    pub kind: FieldType,
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choices: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stage {
    pub id: String,
    pub name: String,
    #[serde(with = "flag")]
    pub is_final: bool,
}
