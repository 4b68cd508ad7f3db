//! Configuration, read once from the environment into a validated struct; secrets never print.

use crate::auth::keys::KeyRing;
use crate::channels::standard_webhooks::WebhookSecret;
use std::fmt;
use std::sync::Arc;

/// A secret value: its `Debug` and `Display` never show the contents.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself; call only where it is used (signing, comparing), never to log.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Everything the worker reads from its environment, validated once at startup.
#[derive(Debug, Clone)]
pub struct Config {
    /// Parsed from the JWT_SIGNING_KEYS secret: verify with any, sign with the first.
    pub signing_keys: Arc<KeyRing>,
    pub bootstrap_token: Option<Secret>,
    pub crm_sync_token: Option<Secret>,
    pub telegram_bot_token: Option<Secret>,
    pub telegram_webhook_secret: Option<Secret>,
    pub telegram_bot_username: Option<String>,
    pub telegram_api_base: String,
    /// Public origin for activation links; None means the request's own origin.
    pub portal_url: Option<String>,
    pub calls_url_template: String,
    /// JWT issuer and audience: fixed per deployment, checked on every token.
    pub token_issuer: String,
    pub token_audience: String,
    /// The name authenticator apps show next to the code.
    pub totp_issuer: String,
    /// Which requests get an access-log line (lines that say something went wrong are always written).
    pub access_log: AccessLog,
    /// Standard Webhooks push of CRM events; None: the pull feed only.
    pub crm_webhook: Option<CrmWebhook>,
    /// How long CRM events are kept for the feed, the push and replays (CRM_EVENTS_RETENTION_DAYS);
    /// also how long given-up pushes (`crm_push_failures`) are listed.
    pub crm_events_retention_days: i64,
    /// How long audit events are kept before the cron purges them (AUDIT_RETENTION_DAYS).
    pub audit_retention_days: i64,
    /// The sender of every email (EMAIL_FROM); None: email is off (so is it without the binding).
    pub email_from: Option<String>,
}

/// Where CRM events are pushed and the key they are signed with.
#[derive(Debug, Clone)]
pub struct CrmWebhook {
    pub url: String,
    pub secret: WebhookSecret,
}

/// The per-request access-log line, from the `ACCESS_LOG` var: `off` (the default), `on`, or the
/// fraction of requests to log (`0.01`). Off by default because the line is the largest fixed cost
/// of a request (README, Performance: the ablation table), and Workers Logs / `wrangler tail`
/// already record every invocation with its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessLog {
    per_million: u32,
}

impl AccessLog {
    pub const OFF: AccessLog = AccessLog { per_million: 0 };
    pub const ALL: AccessLog = AccessLog { per_million: 1_000_000 };

    fn parse(value: Option<&str>) -> Result<AccessLog, ConfigError> {
        let problem = || ConfigError { name: "ACCESS_LOG", problem: "must be `off`, `on` or a fraction of requests between 0 and 1 (e.g. 0.01)".into() };
        match value.map(str::to_ascii_lowercase).as_deref() {
            None | Some("off") => Ok(AccessLog::OFF),
            Some("on") => Ok(AccessLog::ALL),
            Some(text) => {
                let fraction: f64 = text.parse().map_err(|_| problem())?;
                if !(0.0..=1.0).contains(&fraction) {
                    return Err(problem());
                }
                Ok(AccessLog { per_million: (fraction * 1_000_000.0).round() as u32 })
            }
        }
    }

    /// Whether a request whose random draw is `draw` is logged (the draw comes from the request
    /// id's random bytes, so the sample costs no extra randomness).
    pub fn samples(self, draw: u32) -> bool {
        draw % 1_000_000 < self.per_million
    }
}

/// A configuration problem, naming the variable; it never carries a secret's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub name: &'static str,
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "configuration {}: {}", self.name, self.problem)
    }
}

impl std::error::Error for ConfigError {}

pub const DEFAULT_TELEGRAM_API_BASE: &str = "https://api.telegram.org";
pub const DEFAULT_CALLS_URL_TEMPLATE: &str = "https://meet.jit.si/extranet-{room}";

impl Config {
    /// Builds the config from a lookup of secrets and vars (Worker `Env` in production, a map in
    /// tests). Empty values count as missing.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let secret = |name: &str| get(name).map(Secret::new);
        let raw_keys = secret("JWT_SIGNING_KEYS").ok_or(ConfigError {
            name: "JWT_SIGNING_KEYS",
            problem: "missing: set it as a Worker secret (locally in .dev.vars, `make .dev.vars`)".into(),
        })?;
        let signing_keys = KeyRing::parse(raw_keys.expose())
            .map_err(|e| ConfigError { name: "JWT_SIGNING_KEYS", problem: format!("{e} (format: <kid>:<base64url 32-byte seed>, current first)") })?;
        let telegram_api_base = get("TELEGRAM_API_BASE").unwrap_or_else(|| DEFAULT_TELEGRAM_API_BASE.into());
        check_url("TELEGRAM_API_BASE", &telegram_api_base)?;
        let portal_url = get("PORTAL_URL").map(|u| u.trim_end_matches('/').to_owned());
        if let Some(url) = &portal_url {
            check_url("PORTAL_URL", url)?;
        }
        let calls_url_template = get("CALLS_URL_TEMPLATE").unwrap_or_else(|| DEFAULT_CALLS_URL_TEMPLATE.into());
        if !calls_url_template.contains("{room}") {
            return Err(ConfigError { name: "CALLS_URL_TEMPLATE", problem: "must contain {room}".into() });
        }
        check_url("CALLS_URL_TEMPLATE", &calls_url_template)?;
        Ok(Config {
            signing_keys: Arc::new(signing_keys),
            bootstrap_token: bootstrap_token(secret("BOOTSTRAP_TOKEN"))?,
            crm_sync_token: secret("CRM_SYNC_TOKEN"),
            telegram_bot_token: secret("TELEGRAM_BOT_TOKEN"),
            telegram_webhook_secret: secret("TELEGRAM_WEBHOOK_SECRET"),
            telegram_bot_username: get("TELEGRAM_BOT_USERNAME"),
            telegram_api_base,
            portal_url,
            calls_url_template,
            token_issuer: get("TOKEN_ISSUER").unwrap_or_else(|| "extranet".into()),
            token_audience: get("TOKEN_AUDIENCE").unwrap_or_else(|| "extranet-portal".into()),
            totp_issuer: get("TOTP_ISSUER").unwrap_or_else(|| "Extranet".into()),
            access_log: AccessLog::parse(get("ACCESS_LOG").as_deref())?,
            crm_webhook: crm_webhook(get("CRM_WEBHOOK_URL"), get("CRM_WEBHOOK_SECRET"))?,
            crm_events_retention_days: retention_days(get("CRM_EVENTS_RETENTION_DAYS").as_deref())?,
            audit_retention_days: audit_retention_days(get("AUDIT_RETENTION_DAYS").as_deref())?,
            email_from: email_from(get("EMAIL_FROM"))?,
        })
    }
}

impl Config {
    /// The issuer name shown in authenticator apps.
    pub fn token_issuer_label(&self) -> String {
        self.totp_issuer.clone()
    }
}

/// The bootstrap secret is compared by anyone who can reach the route until the first admin
/// exists, so it must be long enough that guessing it (even unthrottled) is hopeless.
pub const MIN_BOOTSTRAP_TOKEN_BYTES: usize = 32;

fn bootstrap_token(token: Option<Secret>) -> Result<Option<Secret>, ConfigError> {
    match token {
        Some(t) if t.expose().len() < MIN_BOOTSTRAP_TOKEN_BYTES => Err(ConfigError {
            name: "BOOTSTRAP_TOKEN",
            problem: format!("must be at least {MIN_BOOTSTRAP_TOKEN_BYTES} bytes (e.g. 32 random bytes, base64url: `openssl rand -base64 32`)"),
        }),
        other => Ok(other),
    }
}

fn crm_webhook(url: Option<String>, secret: Option<String>) -> Result<Option<CrmWebhook>, ConfigError> {
    let Some(url) = url else { return Ok(None) };
    check_url("CRM_WEBHOOK_URL", &url)?;
    // The pushes carry client actions and personal data: never in clear text over the network.
    // Plain http is only for a receiver on this machine (the e2e tests' local fake CRM).
    if !url.starts_with("https://") && !is_loopback_http(&url) {
        return Err(ConfigError { name: "CRM_WEBHOOK_URL", problem: "must be an https:// URL (http:// only for 127.0.0.1 or localhost)".into() });
    }
    let raw = secret.ok_or(ConfigError { name: "CRM_WEBHOOK_SECRET", problem: "missing: CRM_WEBHOOK_URL is set, so the pushes must be signed".into() })?;
    let secret = WebhookSecret::parse(&raw).map_err(|problem| ConfigError { name: "CRM_WEBHOOK_SECRET", problem: problem.into() })?;
    Ok(Some(CrmWebhook { url, secret }))
}

pub const DEFAULT_CRM_EVENTS_RETENTION_DAYS: i64 = 30;

fn retention_days(value: Option<&str>) -> Result<i64, ConfigError> {
    match value {
        None => Ok(DEFAULT_CRM_EVENTS_RETENTION_DAYS),
        Some(text) => match text.parse::<i64>() {
            Ok(days) if (1..=3650).contains(&days) => Ok(days),
            _ => Err(ConfigError { name: "CRM_EVENTS_RETENTION_DAYS", problem: "must be a whole number of days from 1 to 3650".into() }),
        },
    }
}

pub const DEFAULT_AUDIT_RETENTION_DAYS: i64 = 400;

/// Audit events are evidence (who did what, from where), kept 400 days by default: a year and a
/// month, so a yearly access review still sees the whole year. Not under 30 days, so a mistyped
/// value cannot wipe the recent trail.
fn audit_retention_days(value: Option<&str>) -> Result<i64, ConfigError> {
    match value {
        None => Ok(DEFAULT_AUDIT_RETENTION_DAYS),
        Some(text) => match text.parse::<i64>() {
            Ok(days) if (30..=3650).contains(&days) => Ok(days),
            _ => Err(ConfigError { name: "AUDIT_RETENTION_DAYS", problem: "must be a whole number of days from 30 to 3650".into() }),
        },
    }
}

/// `http://127.0.0.1[:port]/...` or `http://localhost[:port]/...` (the host exactly, so
/// `http://localhost.evil.example` does not pass).
fn is_loopback_http(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else { return false };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return false;
    }
    let host = authority.rsplit_once(':').filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit())).map_or(authority, |(host, _)| host);
    matches!(host.to_ascii_lowercase().as_str(), "127.0.0.1" | "localhost")
}

fn email_from(value: Option<String>) -> Result<Option<String>, ConfigError> {
    let Some(address) = value else { return Ok(None) };
    match address.split_once('@') {
        Some((local, domain)) if !local.is_empty() && domain.contains('.') && !address.contains(char::is_whitespace) => Ok(Some(address)),
        _ => Err(ConfigError { name: "EMAIL_FROM", problem: "must be an email address on a domain onboarded to Email Service".into() }),
    }
}

fn check_url(name: &'static str, value: &str) -> Result<(), ConfigError> {
    if value.starts_with("https://") || value.starts_with("http://") {
        Ok(())
    } else {
        Err(ConfigError { name, problem: "must be an http(s) URL".into() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn missing_signing_keys_is_a_named_error() {
        let err = Config::from_lookup(lookup(&[])).unwrap_err();
        assert_eq!(err.name, "JWT_SIGNING_KEYS");
    }

    #[test]
    fn secrets_never_print() {
        let keys = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
        let cfg = Config::from_lookup(lookup(&[("JWT_SIGNING_KEYS", keys), ("CRM_SYNC_TOKEN", "crm-very-secret")])).unwrap();
        let shown = format!("{cfg:?}");
        assert!(!shown.contains("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8") && !shown.contains("crm-very-secret"), "{shown}");
    }

    #[test]
    fn malformed_signing_keys_are_a_startup_error_naming_the_secret() {
        let err = Config::from_lookup(lookup(&[("JWT_SIGNING_KEYS", "k1:not-a-seed")])).unwrap_err();
        assert_eq!(err.name, "JWT_SIGNING_KEYS");
        assert!(!err.problem.contains("not-a-seed"), "{}", err.problem);
    }

    #[test]
    fn bad_urls_are_refused_with_the_name() {
        let err = Config::from_lookup(lookup(&[("JWT_SIGNING_KEYS", "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"), ("CALLS_URL_TEMPLATE", "https://x/")])).unwrap_err();
        assert_eq!(err.name, "CALLS_URL_TEMPLATE");
        let err = Config::from_lookup(lookup(&[("JWT_SIGNING_KEYS", "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"), ("PORTAL_URL", "portal.example")])).unwrap_err();
        assert_eq!(err.name, "PORTAL_URL");
    }

    #[test]
    fn access_log_is_off_by_default_and_takes_on_off_or_a_fraction() {
        let keys = ("JWT_SIGNING_KEYS", "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8");
        let with = |value: &str| Config::from_lookup(lookup(&[keys, ("ACCESS_LOG", value)]));
        let default = Config::from_lookup(lookup(&[keys])).unwrap().access_log;
        assert!(!(0..1000).any(|draw| default.samples(draw)), "off by default");
        let on = with("on").unwrap().access_log;
        assert!((0..1000).all(|draw| on.samples(draw * 7919)));
        let tenth = with("0.1").unwrap().access_log;
        let logged = (0..1_000_000u32).step_by(7).filter(|&draw| tenth.samples(draw)).count();
        assert!((14_000..14_600).contains(&logged), "about a tenth of 142,858 draws, got {logged}");
        assert!(!with("OFF").unwrap().access_log.samples(0));
        for bad in ["yes", "1.5", "-0.1", "NaN"] {
            assert_eq!(with(bad).unwrap_err().name, "ACCESS_LOG", "{bad}");
        }
    }

    #[test]
    fn the_crm_webhook_needs_a_whsec_secret_and_never_prints_it() {
        let keys = ("JWT_SIGNING_KEYS", "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8");
        let url = ("CRM_WEBHOOK_URL", "https://crm.example/hooks/extranet");
        assert!(Config::from_lookup(lookup(&[keys])).unwrap().crm_webhook.is_none(), "off without a URL");
        assert_eq!(Config::from_lookup(lookup(&[keys, url])).unwrap_err().name, "CRM_WEBHOOK_SECRET");
        let err = Config::from_lookup(lookup(&[keys, url, ("CRM_WEBHOOK_SECRET", "plain-secret")])).unwrap_err();
        assert_eq!(err.name, "CRM_WEBHOOK_SECRET");
        assert!(!err.problem.contains("plain-secret"));
        let cfg = Config::from_lookup(lookup(&[keys, url, ("CRM_WEBHOOK_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")])).unwrap();
        assert_eq!(cfg.crm_webhook.as_ref().map(|w| w.url.as_str()), Some("https://crm.example/hooks/extranet"));
        assert!(!format!("{cfg:?}").contains("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
        assert_eq!(Config::from_lookup(lookup(&[keys, ("CRM_WEBHOOK_URL", "crm.example")])).unwrap_err().name, "CRM_WEBHOOK_URL");
    }

    #[test]
    fn retention_and_sender_are_checked_with_their_names() {
        let keys = ("JWT_SIGNING_KEYS", "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8");
        let cfg = Config::from_lookup(lookup(&[keys])).unwrap();
        assert_eq!((cfg.crm_events_retention_days, cfg.email_from), (30, None));
        assert_eq!(Config::from_lookup(lookup(&[keys, ("CRM_EVENTS_RETENTION_DAYS", "0")])).unwrap_err().name, "CRM_EVENTS_RETENTION_DAYS");
        assert_eq!(Config::from_lookup(lookup(&[keys, ("EMAIL_FROM", "portal")])).unwrap_err().name, "EMAIL_FROM");
        let cfg = Config::from_lookup(lookup(&[keys, ("EMAIL_FROM", "portal@mail.example.com"), ("CRM_EVENTS_RETENTION_DAYS", "90")])).unwrap();
        assert_eq!((cfg.crm_events_retention_days, cfg.email_from.as_deref()), (90, Some("portal@mail.example.com")));
    }
}
