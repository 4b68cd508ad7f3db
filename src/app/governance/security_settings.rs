//! `GET/PUT /api/admin/security`: admins read and change the security settings. A change bumps the
//! settings version and every link's policy version (sessions are shaped by the settings), and is
//! audited with before and after.

use crate::app::kit::error::Conflict;
use crate::app::kit::sql::{admin_alive};
use crate::app::kit::audit::{self, ActorKind, Event};
use crate::app::kit::ids::new_id;
use crate::app::kit::session::{Bearer, Principal, Role};
use crate::app::kit::settings::{select_settings, settings_from};
use crate::app::{ApiError, Ports};
use crate::domain::settings::SecuritySettings;
use crate::app::kit::meta::ClientMeta;
use crate::store::{Sql, Stmt};
use chrono::{DateTime, Utc};
use serde_json::json;


const UPDATE_SETTINGS: &str = concat!(
    "UPDATE security_settings SET version = version + 1, min_length = ?1, require_lower = ?2, require_upper = ?3, \
     require_digit = ?4, require_special = ?5, max_failed_attempts = ?6, lockout_minutes = ?7, access_ttl_seconds = ?8, \
     refresh_ttl_seconds = ?9, session_max_age_seconds = ?10, invitation_ttl_hours = ?11, mfa_required_for_clients = ?12, \
     mfa_required_for_employees = ?13, updated_by = ?14, updated_at = ?15 WHERE id = 1 AND ?16 = version AND ",
    admin_alive!(17, 15)
);
const BUMP_ALL_LINKS: &str = "UPDATE links SET policy_version = policy_version + 1 \
     WHERE EXISTS (SELECT 1 FROM security_settings WHERE id = 1 AND version = ?1 + 1 AND updated_at = ?2 AND updated_by = ?3)";

pub fn require_admin(p: &Principal) -> Result<(), ApiError> {
    if p.role == Some(Role::Admin) {
        Ok(())
    } else {
        Err(ApiError::Forbidden)
    }
}

pub async fn get<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>) -> Result<SecuritySettings, ApiError> {
    let out = ports.db().batch(vec![bearer.check_stmt(now), select_settings()]).await?;
    require_admin(&bearer.full_principal(out.first())?)?;
    Ok(settings_from(out.get(1).and_then(|o| o.rows.first().cloned()))?.0)
}

pub async fn put<P: Ports>(ports: &P, bearer: &Bearer, client: &ClientMeta, now: DateTime<Utc>, next: SecuritySettings) -> Result<SecuritySettings, ApiError> {
    let out = ports.db().batch(vec![bearer.check_stmt(now), select_settings()]).await?;
    let me = bearer.full_principal(out.first())?;
    require_admin(&me)?;
    next.validate().map_err(|e| ApiError::invalid(e.field, e.message))?;
    let (before, version) = settings_from(out.get(1).and_then(|o| o.rows.first().cloned()))?;
    let t = now.timestamp();
    let p = &next.password;
    let s = &next.sessions;
    let update = Stmt::new(UPDATE_SETTINGS)
        .bind(p.min_length)
        .bind(p.require_lower)
        .bind(p.require_upper)
        .bind(p.require_digit)
        .bind(p.require_special)
        .bind(next.lockout.max_failed_attempts)
        .bind(next.lockout.lockout_minutes)
        .bind(s.access_ttl_seconds)
        .bind(s.refresh_ttl_seconds)
        .bind(s.session_max_age_seconds)
        .bind(s.invitation_ttl_hours)
        .bind(next.mfa.required_for_clients)
        .bind(next.mfa.required_for_employees)
        .bind(me.user_id.as_str())
        .bind(t)
        .bind(version)
        .bind(me.session_id.as_str());
    let event = Event::new("security_settings.updated", ActorKind::Employee, Some(&me.user_id))
        .target("security_settings", "1")
        .details(json!({"before": before, "after": next}));
    let event_id = new_id(ports, now)?;
    let out = ports
        .db()
        .batch(vec![update, Stmt::new(BUMP_ALL_LINKS).bind(version).bind(t).bind(me.user_id.as_str()),
            event.insert_if(&event_id, client, t, audit::SETTINGS_VERSION).bind(version).bind(me.user_id.as_str())])
        .await?;
    if out.first().map_or(0, |o| o.changes) != 1 {
        // Either another admin changed the settings first, or this session lost its rights.
        return Err(ApiError::conflict(Conflict::SettingsChanged));
    }
    Ok(next)
}
