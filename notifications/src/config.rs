//! notifications' settings: the shared ones plus its own, all from the environment.
//!
//! Secrets (the SMTP password; the shared API tokens and operator password of
//! `service_kit::auth`) never appear in `Debug` output. The credentials are the shared ones
//! (`API_TOKENS`, `ADMIN_USER`, `ADMIN_PASSWORD`); the old `NOTIFICATION_TOKENS` is refused with
//! a message naming its successor, so a service that was protected never starts open.
//!
//! The worker's settings end as calendar's do (`MAX_ATTEMPTS`, `RETRY_MIN_MS`, `RETRY_MAX_MS`,
//! `POLL_INTERVAL_MS`); calendar puts the worker's name in front (`OUTBOX_MAX_ATTEMPTS`,
//! `FEED_RETRY_MIN_MS`) because it has two workers that retry, notifications has one queue.

use std::time::Duration;

use crate::domain::AddressRules;
use lettre::Tokio1Executor;
use lettre::message::Mailbox;
use lettre::transport::smtp::AsyncSmtpTransport;
use serde::Deserialize;
use service_kit::auth::AuthSettings;
use service_kit::backoff::Backoff;
use service_kit::config::{CommonSettings, ConfigError, Secret, ServiceSettings, millis, redact_url};

/// Default port, as in the original notifications app.
pub const DEFAULT_PORT: u16 = 3003;
/// Default sender (`MAIL_FROM`).
pub const DEFAULT_MAIL_FROM: &str = "Notifications <notifications@localhost>";
/// Days a finished job is kept (`RETENTION_DAYS`).
pub const DEFAULT_RETENTION_DAYS: u32 = 30;

/// Where the mail goes.
#[derive(Clone)]
pub enum Delivery {
    /// `SMTP_URL` is set: send through that server.
    Smtp { url: Secret },
    /// No `SMTP_URL`: render every message and keep it in the database, readable in the browser.
    Mailbox,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Smtp { url } => write!(f, "Smtp({})", redact_url(url.expose())),
            Self::Mailbox => f.write_str("Mailbox"),
        }
    }
}

/// How the worker sends and retries.
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    pub delivery: Delivery,
    /// `MAIL_FROM`: the `From` header and envelope sender; its domain ends every `Message-ID`.
    pub mail_from: Mailbox,
    /// `SMTP_TIMEOUT_MS`: upper bound for one send, connecting included (default 30 s).
    pub smtp_timeout: Duration,
    /// `SMTP_MAX_CONCURRENCY`: sends in flight at once, the bulkhead (default 4).
    pub max_concurrency: usize,
    /// `MAX_ATTEMPTS`: attempts before a temporarily failing job is given up (default 8).
    pub max_attempts: u32,
    /// `RETRY_MIN_MS` / `RETRY_MAX_MS`: the retry schedule; retry `n` waits between
    /// `min·2ⁿ⁻¹` and twice that, at most `max` (default 1 s to 10 min).
    pub retry: Backoff,
    /// `SEND_LEASE_MS`: how long a claimed job belongs to its worker without a word from it; the
    /// worker renews the lease every third of it while it sends, so a job still `sending` after
    /// that (its process died) is claimed again (default 6 s, at least 1 s).
    pub send_lease: Duration,
    /// `POLL_INTERVAL_MS`: how often an idle worker looks for due jobs it was not told about
    /// (jobs from other replicas, retries coming due), default 5 s.
    pub poll_interval: Duration,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub common: CommonSettings,
    pub delivery: DeliverySettings,
    /// `RETENTION_DAYS`: how long a finished (`sent` or `failed`) job and its mailbox message are
    /// kept after they last changed; `None` (`0`) keeps them forever (default 30 days).
    pub retention: Option<Duration>,
    /// `QUOTA_JOBS_PER_HOUR`: jobs one API caller may queue in any hour (default 1000).
    pub quota_jobs_per_hour: u32,
    /// `QUOTA_RECIPIENTS_PER_HOUR`: recipients of one API caller's jobs in any hour (default 5000).
    pub quota_recipients_per_hour: u32,
    /// `SMTP_UTF8` and `RECIPIENT_DOMAINS`: which recipient addresses jobs may name.
    pub addresses: AddressRules,
    /// Run the background workers (delivery, retention); tests switch them off to drive them by hand.
    pub run_worker: bool,
    /// Old variable names still read this release, with what to use instead (logged at start).
    pub deprecated: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub struct Env {
    /// Renamed `API_TOKENS` (shared by all services): refused, never ignored.
    notification_tokens: Option<Secret>,
    mail_from: Option<String>,
    smtp_url: Option<String>,
    smtp_timeout_ms: Option<u64>,
    smtp_max_concurrency: Option<usize>,
    max_attempts: Option<u32>,
    retry_min_ms: Option<u64>,
    /// Replaced by `RETRY_MIN_MS` (half of it): read for one more release.
    retry_base_ms: Option<u64>,
    retry_max_ms: Option<u64>,
    send_lease_ms: Option<u64>,
    poll_interval_ms: Option<u64>,
    retention_days: Option<u32>,
    quota_jobs_per_hour: Option<u32>,
    quota_recipients_per_hour: Option<u32>,
    smtp_utf8: Option<bool>,
    recipient_domains: Option<String>,
}

/// Default `QUOTA_JOBS_PER_HOUR`: far above a demo's, far below a spammer's.
pub const DEFAULT_QUOTA_JOBS_PER_HOUR: u32 = 1000;
/// Default `QUOTA_RECIPIENTS_PER_HOUR`.
pub const DEFAULT_QUOTA_RECIPIENTS_PER_HOUR: u32 = 5000;

fn quota(var: &str, raw: Option<u32>, default: u32) -> Result<u32, ConfigError> {
    match raw {
        Some(0) => Err(ConfigError::invalid(var, "a positive number", "0")),
        Some(n) => Ok(n),
        None => Ok(default),
    }
}

/// `RECIPIENT_DOMAINS`: comma-separated domain names, kept lower case and in IDNA ASCII (the
/// form recipients are compared in); unset or empty allows every domain.
fn recipient_domains(raw: Option<&str>) -> Result<Option<Vec<String>>, ConfigError> {
    let Some(raw) = raw.filter(|r| !r.trim().is_empty()) else { return Ok(None) };
    let mut domains = Vec::new();
    for name in raw.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        match service_kit::email::domain(&format!("x@{name}")) {
            Some(domain) if !name.contains('@') => domains.push(domain),
            _ => {
                return Err(ConfigError::invalid(
                    "RECIPIENT_DOMAINS",
                    "domain names like example.org,example.com",
                    name,
                ));
            }
        }
    }
    Ok(Some(domains))
}

impl ServiceSettings for Settings {
    const SERVICE: &'static str = "notifications";
    const DEFAULT_PORT: u16 = DEFAULT_PORT;
    type Env = Env;

    fn common(&self) -> &CommonSettings {
        &self.common
    }

    fn resolve(common: CommonSettings, env: Env) -> Result<Self, ConfigError> {
        if env.notification_tokens.is_some_and(|t| !t.is_empty()) {
            return Err(ConfigError::new(
                "NOTIFICATION_TOKENS was renamed API_TOKENS (the same comma-separated tokens): set API_TOKENS instead",
            ));
        }
        let mail_from_raw =
            env.mail_from.filter(|s| !s.is_empty()).unwrap_or_else(|| DEFAULT_MAIL_FROM.into());
        let mail_from: Mailbox = mail_from_raw.parse().map_err(|_| {
            ConfigError::invalid("MAIL_FROM", "an address like \"Name <name@example.org>\"", &mail_from_raw)
        })?;
        let delivery = match env.smtp_url.filter(|s| !s.is_empty()) {
            None => Delivery::Mailbox,
            Some(url) => {
                if AsyncSmtpTransport::<Tokio1Executor>::from_url(&url).is_err() {
                    return Err(ConfigError::invalid(
                        "SMTP_URL",
                        "smtp://[user:password@]host[:port][?tls=required|opportunistic] or smtps://...",
                        &redact_url(&url),
                    ));
                }
                Delivery::Smtp { url: Secret::new(url) }
            }
        };
        let max_concurrency = env.smtp_max_concurrency.unwrap_or(4);
        if !(1..=256).contains(&max_concurrency) {
            return Err(ConfigError::invalid(
                "SMTP_MAX_CONCURRENCY",
                "a number from 1 to 256",
                &max_concurrency.to_string(),
            ));
        }
        let max_attempts = env.max_attempts.unwrap_or(8);
        if !(1..=100).contains(&max_attempts) {
            return Err(ConfigError::invalid(
                "MAX_ATTEMPTS",
                "a number from 1 to 100",
                &max_attempts.to_string(),
            ));
        }
        let smtp_timeout = millis("SMTP_TIMEOUT_MS", env.smtp_timeout_ms, 30_000)?;
        let mut deprecated = Vec::new();
        // RETRY_BASE_MS named the full delay of the first retry, which waited half to all of it;
        // RETRY_MIN_MS names the lower end, so the old value halves into the new one.
        let retry_min_ms = match (env.retry_min_ms, env.retry_base_ms) {
            (Some(min), _) => Some(min),
            (None, Some(base)) => {
                deprecated.push(format!(
                    "RETRY_BASE_MS is deprecated: set RETRY_MIN_MS={} (half of it) instead",
                    base / 2
                ));
                Some((base / 2).max(1))
            }
            (None, None) => None,
        };
        let retry_min = millis("RETRY_MIN_MS", retry_min_ms, 1_000)?;
        let retry_max = millis("RETRY_MAX_MS", env.retry_max_ms, 600_000)?;
        if retry_max < retry_min {
            return Err(ConfigError::new("RETRY_MAX_MS: must not be below RETRY_MIN_MS"));
        }
        let send_lease = millis("SEND_LEASE_MS", env.send_lease_ms, 6_000)?;
        if send_lease < Duration::from_secs(1) {
            return Err(ConfigError::new(
                "SEND_LEASE_MS: must be at least 1000 (it is renewed every third of it)",
            ));
        }
        let poll_interval = millis("POLL_INTERVAL_MS", env.poll_interval_ms, 5_000)?;
        let retention = match env.retention_days.unwrap_or(DEFAULT_RETENTION_DAYS) {
            0 => None,
            days @ 1..=36_500 => Some(Duration::from_secs(u64::from(days) * 86_400)),
            days => {
                return Err(ConfigError::invalid(
                    "RETENTION_DAYS",
                    "a number of days from 0 (keep forever) to 36500",
                    &days.to_string(),
                ));
            }
        };
        let quota_jobs_per_hour =
            quota("QUOTA_JOBS_PER_HOUR", env.quota_jobs_per_hour, DEFAULT_QUOTA_JOBS_PER_HOUR)?;
        let quota_recipients_per_hour = quota(
            "QUOTA_RECIPIENTS_PER_HOUR",
            env.quota_recipients_per_hour,
            DEFAULT_QUOTA_RECIPIENTS_PER_HOUR,
        )?;
        let addresses = AddressRules {
            smtputf8: env.smtp_utf8.unwrap_or(false),
            domains: recipient_domains(env.recipient_domains.as_deref())?,
        };
        Ok(Self {
            common,
            addresses,
            delivery: DeliverySettings {
                delivery,
                mail_from,
                smtp_timeout,
                max_concurrency,
                max_attempts,
                retry: Backoff::new(retry_min, retry_max),
                send_lease,
                poll_interval,
            },
            retention,
            quota_jobs_per_hour,
            quota_recipients_per_hour,
            run_worker: true,
            deprecated,
        })
    }
}

impl Settings {
    /// Settings for a test instance on a free port with the given database: mailbox mode, one
    /// token (`test-token`), operator `admin`/`test-password`, short retry delays.
    pub fn for_tests(database_url: &str) -> Self {
        let mut common = CommonSettings::for_tests("notifications", database_url);
        common.auth = AuthSettings::with_credentials(&["test-token"], "admin", Some("test-password"));
        Self {
            common,
            delivery: DeliverySettings {
                delivery: Delivery::Mailbox,
                mail_from: DEFAULT_MAIL_FROM.parse().expect("a valid default sender"),
                smtp_timeout: Duration::from_secs(5),
                max_concurrency: 4,
                max_attempts: 5,
                retry: Backoff::new(Duration::from_millis(10), Duration::from_millis(200)),
                send_lease: Duration::from_secs(30),
                poll_interval: Duration::from_millis(200),
            },
            retention: Some(Duration::from_secs(u64::from(DEFAULT_RETENTION_DAYS) * 86_400)),
            quota_jobs_per_hour: DEFAULT_QUOTA_JOBS_PER_HOUR,
            quota_recipients_per_hour: DEFAULT_QUOTA_RECIPIENTS_PER_HOUR,
            addresses: AddressRules::default(),
            run_worker: true,
            deprecated: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_give_mailbox_mode_open_on_loopback() {
        let s = Settings::from_vars(vars(&[])).unwrap();
        assert_eq!(s.common.port, 3003);
        assert!(matches!(s.delivery.delivery, Delivery::Mailbox));
        assert!(s.common.auth.anonymous);
        assert_eq!(s.delivery.mail_from.email.domain(), "localhost");
        assert_eq!(s.retention, Some(Duration::from_secs(30 * 86_400)));
    }

    #[test]
    fn recipient_domains_and_smtputf8_are_read_and_checked() {
        let s = Settings::from_vars(vars(&[])).unwrap();
        assert_eq!(s.addresses, AddressRules::default());
        let s = Settings::from_vars(vars(&[
            ("RECIPIENT_DOMAINS", " Example.ORG, b\u{fc}cher.example ,"),
            ("SMTP_UTF8", "true"),
        ]))
        .unwrap();
        assert_eq!(
            s.addresses.domains,
            Some(vec!["example.org".to_owned(), "xn--bcher-kva.example".to_owned()])
        );
        assert!(s.addresses.smtputf8);
        for bad in ["a@example.org", "exa mple.org", "[::1]"] {
            let err = Settings::from_vars(vars(&[("RECIPIENT_DOMAINS", bad)])).unwrap_err();
            assert!(err.to_string().contains("RECIPIENT_DOMAINS"), "{bad}: {err}");
        }
    }

    #[test]
    fn retention_is_in_days_and_zero_keeps_jobs_forever() {
        let s = Settings::from_vars(vars(&[("RETENTION_DAYS", "7")])).unwrap();
        assert_eq!(s.retention, Some(Duration::from_secs(7 * 86_400)));
        assert_eq!(Settings::from_vars(vars(&[("RETENTION_DAYS", "0")])).unwrap().retention, None);
    }

    #[test]
    fn tokens_are_split_on_commas_and_hidden_from_debug() {
        let s =
            Settings::from_vars(vars(&[("API_TOKENS", "alpha-1-0123456789, beta-2-0123456789,,")])).unwrap();
        assert_eq!(
            s.common.auth.tokens,
            vec![Secret::new("alpha-1-0123456789"), Secret::new("beta-2-0123456789")]
        );
        assert!(!format!("{s:?}").contains("alpha-1"));
    }

    #[test]
    fn the_old_token_variable_is_refused_with_its_new_name() {
        let err = Settings::from_vars(vars(&[("NOTIFICATION_TOKENS", "alpha-1-0123456789")])).unwrap_err();
        assert!(err.to_string().starts_with("NOTIFICATION_TOKENS was renamed API_TOKENS"), "{err}");
        assert!(!err.to_string().contains("alpha-1"), "{err}");
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (var, value) in [
            ("SMTP_URL", "http://mail.example.org"),
            ("MAIL_FROM", "not an address"),
            ("SMTP_MAX_CONCURRENCY", "0"),
            ("MAX_ATTEMPTS", "0"),
            ("SMTP_TIMEOUT_MS", "soon"),
            ("API_TOKENS", "with space"),
            ("RETENTION_DAYS", "36501"),
            ("RETENTION_DAYS", "-1"),
        ] {
            let err = Settings::from_vars(vars(&[(var, value)])).unwrap_err();
            assert!(err.to_string().contains(var), "{var}: {err}");
        }
    }

    #[test]
    fn the_smtp_password_is_not_echoed() {
        let err = Settings::from_vars(vars(&[("SMTP_URL", "ftp://u:hunter2@mail.example.org")])).unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        let s = Settings::from_vars(vars(&[("SMTP_URL", "smtp://u:hunter2@mail.example.org:2525")])).unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn the_old_retry_variable_still_works_and_is_reported() {
        let s = Settings::from_vars(vars(&[("RETRY_BASE_MS", "2000")])).unwrap();
        assert_eq!(s.delivery.retry.min, Duration::from_millis(1000));
        assert!(s.deprecated.iter().any(|d| d.contains("RETRY_MIN_MS=1000")), "{:?}", s.deprecated);
        let s = Settings::from_vars(vars(&[("RETRY_BASE_MS", "2000"), ("RETRY_MIN_MS", "50")])).unwrap();
        assert_eq!(s.delivery.retry.min, Duration::from_millis(50), "the new name wins");
        assert!(Settings::from_vars(vars(&[])).unwrap().deprecated.is_empty());
    }

    #[test]
    fn the_lease_is_at_least_a_second_and_is_renewed_rather_than_outlasting_a_send() {
        let err = Settings::from_vars(vars(&[("SEND_LEASE_MS", "999")])).unwrap_err();
        assert!(err.to_string().contains("SEND_LEASE_MS"), "{err}");
        let s =
            Settings::from_vars(vars(&[("SMTP_TIMEOUT_MS", "60000"), ("SEND_LEASE_MS", "1000")])).unwrap();
        assert_eq!(s.delivery.send_lease, Duration::from_secs(1));
        assert_eq!(Settings::from_vars(vars(&[])).unwrap().delivery.send_lease, Duration::from_secs(6));
    }
}
