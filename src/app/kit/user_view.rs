//! The signed-in user as the account and `me` show them: one SELECT and its view.

use crate::app::ApiError;
use crate::store::{decode, Stmt};
use serde::{Deserialize, Serialize};
#[derive(Debug, Serialize, Deserialize)]
pub struct UserView {
    pub id: String,
    pub kind: String,
    pub login: String,
    pub email: Option<String>,
    pub first_name: String,
    pub last_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(with = "crate::store::sql::flag")]
    pub mfa_enrolled: bool,
}

pub fn select_user(user_id: &str) -> Stmt {
    Stmt::new(SELECT_USER).bind(user_id)
}

pub fn user_view(row: Option<crate::store::Row>) -> Result<UserView, ApiError> {
    decode(row.ok_or(ApiError::Unauthenticated)?).map_err(ApiError::from)
}

const SELECT_USER: &str = "SELECT id, kind, login, email, first_name, last_name, role, totp_secret IS NOT NULL AS mfa_enrolled \
     FROM users WHERE id = ?1";
