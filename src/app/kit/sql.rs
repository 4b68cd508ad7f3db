//! The SQL fragments that access rules are made of, each written once: a session still alive, the
//! employee's role and company scope, the client still alive at its policy version, the guarded
//! audit insert. They are `macro_rules!` so that every statement stays one `&'static str` built at
//! compile time (`concat!`), with its positional `?N` parameters named at the call site.

/// A live session (not revoked, neither expiry passed) of an active user whose row is `gu`, and
/// `$cond` on that user: `?$s` the session id, `?$n` now in seconds.
macro_rules! live_session_where {
    ($s:literal, $n:literal, $cond:expr) => {
        concat!(
            "EXISTS (SELECT 1 FROM sessions gs JOIN users gu ON gu.id = gs.user_id WHERE gs.id = ?", $s,
            " AND gs.revoked_at IS NULL AND gs.idle_expires_at > ?", $n, " AND gs.absolute_expires_at > ?", $n,
            " AND gu.status = 'active'", $cond, ")"
        )
    };
}
pub(crate) use live_session_where;

/// The session `?$s` is alive and belongs to an active admin.
macro_rules! admin_alive {
    ($s:literal, $n:literal) => {
        $crate::app::kit::sql::live_session_where!($s, $n, " AND gu.role = 'admin'")
    };
}
pub(crate) use admin_alive;

/// The session `?$s` is alive and belongs to an active employee (admin or manager).
macro_rules! employee_alive {
    ($s:literal, $n:literal) => {
        $crate::app::kit::sql::live_session_where!($s, $n, " AND gu.role IN ('admin', 'manager')")
    };
}
pub(crate) use employee_alive;

/// The CRM's machine credential (`?$s` is NULL: it carries no session) or a live admin session.
macro_rules! crm_or_admin {
    ($s:literal, $n:literal) => {
        concat!("(?", $s, " IS NULL OR ", $crate::app::kit::sql::admin_alive!($s, $n), ")")
    };
}
pub(crate) use crm_or_admin;

/// The session `?$s` is alive and its employee governs every company of the JSON array `?$c`
/// (an admin governs all; a manager the companies assigned to them).
macro_rules! governs_all {
    ($s:literal, $n:literal, $c:literal) => {
        $crate::app::kit::sql::live_session_where!(
            $s,
            $n,
            concat!(
                " AND (gu.role = 'admin' OR (gu.role = 'manager' AND NOT EXISTS (SELECT 1 FROM json_each(?", $c,
                ") gj WHERE gj.value NOT IN (SELECT ge.company_id FROM employee_companies ge WHERE ge.user_id = gu.id))))"
            )
        )
    };
}
pub(crate) use governs_all;

/// The session `?$s` is alive and its employee governs at least one company of the JSON array `?$c`.
macro_rules! governs_any {
    ($s:literal, $n:literal, $c:literal) => {
        $crate::app::kit::sql::live_session_where!(
            $s,
            $n,
            concat!(
                " AND (gu.role = 'admin' OR (gu.role = 'manager' AND EXISTS (SELECT 1 FROM json_each(?", $c,
                ") gj JOIN employee_companies ge ON ge.company_id = gj.value AND ge.user_id = gu.id)))"
            )
        )
    };
}
pub(crate) use governs_any;

/// The session `?$s` is alive and its employee governs the user `?$t`: an admin governs everyone;
/// a manager governs an external user whose live (not revoked) links hold only the manager's companies.
macro_rules! governs_user {
    ($s:literal, $n:literal, $t:literal) => {
        $crate::app::kit::sql::live_session_where!(
            $s,
            $n,
            concat!(
                " AND (gu.role = 'admin' OR (gu.role = 'manager' \
                 AND EXISTS (SELECT 1 FROM users tu WHERE tu.id = ?", $t, " AND tu.kind = 'external') \
                 AND NOT EXISTS (SELECT 1 FROM links tl JOIN link_companies tlc ON tlc.link_id = tl.id WHERE tl.user_id = ?", $t,
                " AND tl.status <> 'revoked' AND tlc.company_id NOT IN (SELECT ec.company_id FROM employee_companies ec WHERE ec.user_id = gu.id))))"
            )
        )
    };
}
pub(crate) use governs_user;

/// The session `?$s` is alive and its employee governs every company that the live (not revoked)
/// links of contact `?$c` hold: a contact's policy applies on all of them, so a manager may change it
/// only when none belongs to another manager's companies (an admin governs all).
macro_rules! governs_contact_links {
    ($s:literal, $n:literal, $c:literal) => {
        $crate::app::kit::sql::live_session_where!(
            $s,
            $n,
            concat!(
                " AND (gu.role = 'admin' OR (gu.role = 'manager' AND NOT EXISTS (SELECT 1 FROM links cl \
                 JOIN link_companies clc ON clc.link_id = cl.id WHERE cl.contact_id = ?", $c, " AND cl.status <> 'revoked' \
                 AND clc.company_id NOT IN (SELECT ge.company_id FROM employee_companies ge WHERE ge.user_id = gu.id))))"
            )
        )
    };
}
pub(crate) use governs_contact_links;

/// The user `?$u` is an active admin.
macro_rules! is_admin {
    ($u:literal) => {
        concat!("EXISTS (SELECT 1 FROM users su WHERE su.id = ?", $u, " AND su.role = 'admin' AND su.status = 'active')")
    };
}
pub(crate) use is_admin;

/// The company `$company` (a column or a `?N`) is in the scope of employee `?$u`: an admin's scope is
/// every company, a manager's the companies assigned to them.
macro_rules! company_in_scope {
    ($u:literal, $company:expr) => {
        concat!(
            "(", $crate::app::kit::sql::is_admin!($u), " OR ", $company,
            " IN (SELECT sec.company_id FROM employee_companies sec WHERE sec.user_id = ?", $u, "))"
        )
    };
}
pub(crate) use company_in_scope;

/// Every company of the JSON array `?$c` is in the scope of employee `?$u`.
macro_rules! all_in_scope {
    ($u:literal, $c:literal) => {
        concat!(
            "(", $crate::app::kit::sql::is_admin!($u), " OR NOT EXISTS (SELECT 1 FROM json_each(?", $c,
            ") sj WHERE sj.value NOT IN (SELECT sec.company_id FROM employee_companies sec WHERE sec.user_id = ?", $u, ")))"
        )
    };
}
pub(crate) use all_in_scope;

/// Every company of link `$link` (a column or a `?N`) is in the scope of employee `?$u`.
macro_rules! link_in_scope {
    ($u:literal, $link:expr) => {
        concat!(
            "(", $crate::app::kit::sql::is_admin!($u), " OR NOT EXISTS (SELECT 1 FROM link_companies slc WHERE slc.link_id = ", $link,
            " AND slc.company_id NOT IN (SELECT sec.company_id FROM employee_companies sec WHERE sec.user_id = ?", $u, ")))"
        )
    };
}
pub(crate) use link_in_scope;

/// The client's session `?$s` is alive, its user active, and its link active at policy version
/// `?$v` (the version the access token was minted at: a changed policy makes the token stale).
macro_rules! client_alive {
    ($s:literal, $v:literal, $n:literal) => {
        concat!(
            "EXISTS (SELECT 1 FROM sessions gs JOIN users gu ON gu.id = gs.user_id JOIN links gl ON gl.id = gs.link_id \
             WHERE gs.id = ?", $s, " AND gs.revoked_at IS NULL AND gs.idle_expires_at > ?", $n,
            " AND gs.absolute_expires_at > ?", $n, " AND gu.status = 'active' AND gl.status = 'active' AND gl.policy_version = ?",
            $v, ")"
        )
    };
}
pub(crate) use client_alive;
