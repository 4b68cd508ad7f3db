//! Times as the API writes them: RFC 3339 in UTC, whole seconds.

use chrono::{SecondsFormat, TimeZone, Utc};

/// `1700000000` -> `"2023-11-14T22:13:20Z"`; a time out of range reads as empty.
pub fn rfc3339(unix: i64) -> String {
    Utc.timestamp_opt(unix, 0).single().map(|d| d.to_rfc3339_opts(SecondsFormat::Secs, true)).unwrap_or_default()
}
