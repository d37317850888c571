//! calendar's settings: the shared ones plus its own, all from the environment.

use std::time::Duration;

use serde::Deserialize;
use service_kit::backoff::Backoff;
use service_kit::config::{CommonSettings, ConfigError, Secret, ServiceSettings, millis, parse_base_url};
use url::Url;

/// Default port, as in the original calendar app.
pub const DEFAULT_PORT: u16 = 3002;

/// The server caps long polls at 30 s; asking for more gains nothing.
const MAX_LONG_POLL_SECS: u64 = 30;

/// How calendar follows the contacts feed.
#[derive(Debug, Clone)]
pub struct FeedSettings {
    /// `CONTACTS_FEED`: the subscription document (default `http://localhost:3000/feed`).
    pub url: Url,
    /// `FEED_POLL_INTERVAL_MS`: pause between polls when the server does not hold requests
    /// (default 5000).
    pub poll_interval: Duration,
    /// `FEED_LONG_POLL_SECS`: how long to ask the server to hold a request (`Prefer: wait=N`);
    /// 0 turns long polling off (default 25, at most 30).
    pub long_poll_secs: u64,
    /// `FEED_TIMEOUT_MS`: upper bound for one fetch, on top of the long-poll wait (default 10000).
    pub fetch_timeout: Duration,
    /// `FEED_MAX_BYTES`: largest document accepted (default 4 MiB).
    pub max_bytes: usize,
    /// `FEED_MAX_PAGES`: most archive pages walked back in one catch-up (default 10000).
    pub max_pages: usize,
    /// `FEED_RETRY_MIN_MS` / `FEED_RETRY_MAX_MS`: backoff after an error (default 500 ms to 60 s).
    pub retry: Backoff,
    /// `CONTACTS_ALLOWED_ORIGINS`: origins besides `CONTACTS_FEED`'s that links may be fetched
    /// from (comma-separated `scheme://host[:port]`; default none).
    pub allowed_origins: Vec<url::Origin>,
    /// `CONTACT_MAX_BYTES`: largest contact document accepted (default 64 KiB).
    pub contact_max_bytes: usize,
    /// `FEED_WALK_MEMORY_BYTES`: how much of the walked pages' entries a catch-up keeps in
    /// memory (default 8 MiB); older pages are fetched again when their turn comes.
    pub walk_memory_bytes: usize,
    /// `FEED_ENTRY_MAX_ATTEMPTS`: attempts at applying one entry before it is parked (default 5).
    pub entry_max_attempts: u32,
    /// `CONTACTS_TOKEN` (or the file `CONTACTS_TOKEN_FILE`): bearer token sent to contacts with
    /// every fetch (one of contacts' `API_TOKENS`); unset sends none, for a contacts that runs
    /// open on loopback.
    pub token: Option<Secret>,
}

/// Where and how invitations are delivered.
#[derive(Debug, Clone)]
pub struct NotificationSettings {
    /// `NOTIFICATION_SERVICE`: base URL of notifications; unset turns delivery off (rows are
    /// still written to the outbox, so a later configuration delivers them).
    pub service: Option<Url>,
    /// `NOTIFICATION_TOKEN` (or the file `NOTIFICATION_TOKEN_FILE`): bearer token, required when
    /// `NOTIFICATION_SERVICE` is set.
    pub token: Secret,
    /// `NOTIFICATION_TIMEOUT_MS`: per-call timeout (default 5000).
    pub timeout: Duration,
    /// `OUTBOX_POLL_INTERVAL_MS`: how often the dispatcher looks for due rows (default 1000);
    /// new rows wake it at once.
    pub poll_interval: Duration,
    /// `OUTBOX_BATCH_SIZE`: rows claimed per step (default 20).
    pub batch_size: u32,
    /// `OUTBOX_MAX_ATTEMPTS`: attempts before a row is marked failed (default 12).
    pub max_attempts: u32,
    /// `OUTBOX_RETRY_MIN_MS` / `OUTBOX_RETRY_MAX_MS`: retry backoff (default 1 s to 10 min).
    pub retry: Backoff,
    pub breaker: BreakerSettings,
    /// `QUOTA_INVITATIONS_PER_HOUR`: addresses one organizer (an event's owner) may invite in any
    /// hour, across all their events (default 500); more get `429` with `Retry-After`.
    pub invitations_per_hour: u32,
}

/// The circuit breaker in front of notifications.
#[derive(Debug, Clone)]
pub struct BreakerSettings {
    /// `BREAKER_FAILURE_RATE`: share of failed calls in the window that opens it (default 0.5).
    pub failure_rate: f64,
    /// `BREAKER_MIN_CALLS`: calls in the window before the rate counts (default 5).
    pub min_calls: usize,
    /// `BREAKER_WINDOW_MS`: the sliding window (default 10000). Short, so that a streak of
    /// failures opens the breaker within seconds instead of waiting for older successes to age out.
    pub window: Duration,
    /// `BREAKER_OPEN_MS`: how long it stays open before letting a probe through (default 30000).
    pub open_for: Duration,
}

/// Default `QUOTA_INVITATIONS_PER_HOUR`: far above a team's meetings, far below a spammer's.
pub const DEFAULT_QUOTA_INVITATIONS_PER_HOUR: u32 = 500;

#[derive(Debug, Clone)]
pub struct Settings {
    pub common: CommonSettings,
    pub feed: FeedSettings,
    pub notifications: NotificationSettings,
}

#[derive(Debug, Deserialize)]
pub struct Env {
    contacts_feed: Option<String>,
    feed_poll_interval_ms: Option<u64>,
    feed_long_poll_secs: Option<u64>,
    feed_timeout_ms: Option<u64>,
    feed_max_bytes: Option<usize>,
    feed_max_pages: Option<usize>,
    feed_retry_min_ms: Option<u64>,
    feed_retry_max_ms: Option<u64>,
    contacts_allowed_origins: Option<String>,
    contact_max_bytes: Option<usize>,
    feed_walk_memory_bytes: Option<usize>,
    feed_entry_max_attempts: Option<u32>,
    contacts_token: Option<Secret>,
    contacts_token_file: Option<String>,
    notification_service: Option<String>,
    notification_token: Option<Secret>,
    notification_token_file: Option<String>,
    notification_timeout_ms: Option<u64>,
    outbox_poll_interval_ms: Option<u64>,
    outbox_batch_size: Option<u32>,
    outbox_max_attempts: Option<u32>,
    outbox_retry_min_ms: Option<u64>,
    outbox_retry_max_ms: Option<u64>,
    breaker_failure_rate: Option<f64>,
    breaker_min_calls: Option<usize>,
    breaker_window_ms: Option<u64>,
    breaker_open_ms: Option<u64>,
    quota_invitations_per_hour: Option<u32>,
}

impl ServiceSettings for Settings {
    const SERVICE: &'static str = "calendar";
    const DEFAULT_PORT: u16 = DEFAULT_PORT;
    type Env = Env;

    fn common(&self) -> &CommonSettings {
        &self.common
    }

    fn resolve(common: CommonSettings, env: Env) -> Result<Self, ConfigError> {
        let raw_feed = env.contacts_feed.filter(|s| !s.is_empty());
        let url =
            parse_absolute_url("CONTACTS_FEED", raw_feed.as_deref().unwrap_or("http://localhost:3000/feed"))?;
        let long_poll_secs = env.feed_long_poll_secs.unwrap_or(25);
        if long_poll_secs > MAX_LONG_POLL_SECS {
            return Err(ConfigError::invalid(
                "FEED_LONG_POLL_SECS",
                "a number from 0 to 30",
                &long_poll_secs.to_string(),
            ));
        }
        let feed = FeedSettings {
            url,
            poll_interval: millis("FEED_POLL_INTERVAL_MS", env.feed_poll_interval_ms, 5000)?,
            long_poll_secs,
            fetch_timeout: millis("FEED_TIMEOUT_MS", env.feed_timeout_ms, 10_000)?,
            max_bytes: positive("FEED_MAX_BYTES", env.feed_max_bytes, 4 * 1024 * 1024)?,
            max_pages: positive("FEED_MAX_PAGES", env.feed_max_pages, 10_000)?,
            retry: backoff(
                ("FEED_RETRY_MIN_MS", env.feed_retry_min_ms, 500),
                ("FEED_RETRY_MAX_MS", env.feed_retry_max_ms, 60_000),
            )?,
            allowed_origins: parse_origins(
                "CONTACTS_ALLOWED_ORIGINS",
                env.contacts_allowed_origins.as_deref().unwrap_or(""),
            )?,
            contact_max_bytes: positive("CONTACT_MAX_BYTES", env.contact_max_bytes, 64 * 1024)?,
            walk_memory_bytes: positive(
                "FEED_WALK_MEMORY_BYTES",
                env.feed_walk_memory_bytes,
                8 * 1024 * 1024,
            )?,
            entry_max_attempts: positive("FEED_ENTRY_MAX_ATTEMPTS", env.feed_entry_max_attempts, 5)?,
            token: match Secret::from_value_or_file(
                "CONTACTS_TOKEN",
                env.contacts_token,
                env.contacts_token_file.as_deref(),
            )? {
                Some(t) if !t.expose().bytes().all(|b| b.is_ascii_graphic()) => {
                    return Err(ConfigError::new(
                        "CONTACTS_TOKEN: must be visible ASCII characters without spaces",
                    ));
                }
                token => token,
            },
        };

        let service = match env.notification_service.filter(|s| !s.is_empty()) {
            None => None,
            Some(raw) => Some(parse_base_url("NOTIFICATION_SERVICE", &raw)?),
        };
        let token = Secret::from_value_or_file(
            "NOTIFICATION_TOKEN",
            env.notification_token,
            env.notification_token_file.as_deref(),
        )?
        .unwrap_or_default();
        if service.is_some() && token.is_empty() {
            return Err(ConfigError::new("NOTIFICATION_TOKEN: required when NOTIFICATION_SERVICE is set"));
        }
        let failure_rate = env.breaker_failure_rate.unwrap_or(0.5);
        if !(failure_rate > 0.0 && failure_rate <= 1.0) {
            return Err(ConfigError::invalid(
                "BREAKER_FAILURE_RATE",
                "a share above 0 and at most 1",
                &failure_rate.to_string(),
            ));
        }
        let notifications = NotificationSettings {
            service,
            token,
            timeout: millis("NOTIFICATION_TIMEOUT_MS", env.notification_timeout_ms, 5000)?,
            poll_interval: millis("OUTBOX_POLL_INTERVAL_MS", env.outbox_poll_interval_ms, 1000)?,
            batch_size: positive("OUTBOX_BATCH_SIZE", env.outbox_batch_size, 20)?,
            max_attempts: positive("OUTBOX_MAX_ATTEMPTS", env.outbox_max_attempts, 12)?,
            retry: backoff(
                ("OUTBOX_RETRY_MIN_MS", env.outbox_retry_min_ms, 1000),
                ("OUTBOX_RETRY_MAX_MS", env.outbox_retry_max_ms, 600_000),
            )?,
            breaker: BreakerSettings {
                failure_rate,
                min_calls: positive("BREAKER_MIN_CALLS", env.breaker_min_calls, 5)?,
                window: millis("BREAKER_WINDOW_MS", env.breaker_window_ms, 10_000)?,
                open_for: millis("BREAKER_OPEN_MS", env.breaker_open_ms, 30_000)?,
            },
            invitations_per_hour: positive(
                "QUOTA_INVITATIONS_PER_HOUR",
                env.quota_invitations_per_hour,
                DEFAULT_QUOTA_INVITATIONS_PER_HOUR,
            )?,
        };
        Ok(Self { common, feed, notifications })
    }
}

impl Settings {
    /// Settings for a test instance: a free port, the given database and feed, fast retries,
    /// notifications off.
    pub fn for_tests(database_url: &str, feed_url: Url) -> Self {
        Self {
            common: CommonSettings::for_tests("calendar", database_url),
            feed: FeedSettings {
                url: feed_url,
                poll_interval: Duration::from_millis(50),
                long_poll_secs: 5,
                fetch_timeout: Duration::from_secs(2),
                max_bytes: 1024 * 1024,
                max_pages: 1000,
                retry: Backoff::new(Duration::from_millis(20), Duration::from_millis(200)),
                allowed_origins: Vec::new(),
                contact_max_bytes: 64 * 1024,
                walk_memory_bytes: 8 * 1024 * 1024,
                entry_max_attempts: 3,
                token: None,
            },
            notifications: NotificationSettings {
                service: None,
                token: Secret::default(),
                timeout: Duration::from_secs(1),
                poll_interval: Duration::from_millis(50),
                batch_size: 20,
                max_attempts: 12,
                retry: Backoff::new(Duration::from_millis(20), Duration::from_millis(200)),
                breaker: BreakerSettings {
                    failure_rate: 0.5,
                    min_calls: 3,
                    window: Duration::from_secs(30),
                    open_for: Duration::from_millis(300),
                },
                invitations_per_hour: DEFAULT_QUOTA_INVITATIONS_PER_HOUR,
            },
        }
    }
}

fn parse_absolute_url(var: &str, raw: &str) -> Result<Url, ConfigError> {
    match Url::parse(raw) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Ok(url),
        _ => Err(ConfigError::invalid(var, "an absolute http(s) URL", raw)),
    }
}

/// A comma-separated list of origins (`https://contacts.example.org`, `http://10.0.0.5:3000`):
/// a scheme, a host and an optional port, nothing else.
fn parse_origins(var: &str, raw: &str) -> Result<Vec<url::Origin>, ConfigError> {
    let expected = "comma-separated http(s) origins such as https://contacts.example.org";
    let mut origins = Vec::new();
    for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let url = Url::parse(item).map_err(|_| ConfigError::invalid(var, expected, item))?;
        let bare = url.path() == "/" && url.query().is_none() && url.fragment().is_none();
        if !matches!(url.scheme(), "http" | "https")
            || url.host().is_none()
            || !bare
            || !url.username().is_empty()
        {
            return Err(ConfigError::invalid(var, expected, item));
        }
        origins.push(url.origin());
    }
    Ok(origins)
}

fn positive<T>(var: &str, raw: Option<T>, default: T) -> Result<T, ConfigError>
where
    T: Copy + PartialEq + Default + std::fmt::Display,
{
    match raw {
        Some(v) if v == T::default() => Err(ConfigError::invalid(var, "a positive number", "0")),
        Some(v) => Ok(v),
        None => Ok(default),
    }
}

/// A retry schedule from its `..._MIN_MS` and `..._MAX_MS` variables (name, value, default).
fn backoff(min: (&str, Option<u64>, u64), max: (&str, Option<u64>, u64)) -> Result<Backoff, ConfigError> {
    let (min_var, max_var) = (min.0, max.0);
    let (min, max) = (millis(min.0, min.1, min.2)?, millis(max.0, max.1, max.2)?);
    if max < min {
        return Err(ConfigError::invalid(
            max_var,
            &format!("at least {min_var}"),
            &max.as_millis().to_string(),
        ));
    }
    Ok(Backoff::new(min, max))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_work_with_no_variables_set() {
        let s = Settings::from_vars(vars(&[])).unwrap();
        assert_eq!(s.common.port, 3002);
        assert_eq!(s.feed.url.as_str(), "http://localhost:3000/feed");
        assert_eq!(s.feed.long_poll_secs, 25);
        assert!(s.notifications.service.is_none());
    }

    #[test]
    fn allowed_origins_are_read_as_origins() {
        let s = Settings::from_vars(vars(&[(
            "CONTACTS_ALLOWED_ORIGINS",
            " https://contacts.example.org , http://10.0.0.5:3000/ ",
        )]))
        .unwrap();
        let origins: Vec<String> = s.feed.allowed_origins.iter().map(|o| o.ascii_serialization()).collect();
        assert_eq!(origins, ["https://contacts.example.org", "http://10.0.0.5:3000"]);
        assert!(Settings::from_vars(vars(&[])).unwrap().feed.allowed_origins.is_empty());
    }

    #[test]
    fn a_notification_service_needs_a_token() {
        let err =
            Settings::from_vars(vars(&[("NOTIFICATION_SERVICE", "http://localhost:3003")])).unwrap_err();
        assert!(err.to_string().starts_with("NOTIFICATION_TOKEN"), "{err}");
        let s = Settings::from_vars(vars(&[
            ("NOTIFICATION_SERVICE", "http://localhost:3003"),
            ("NOTIFICATION_TOKEN", "secret"),
        ]))
        .unwrap();
        assert_eq!(s.notifications.service.as_ref().unwrap().as_str(), "http://localhost:3003/");
        assert!(!format!("{s:?}").contains("secret"), "the token stays out of logs");
    }

    #[test]
    fn malformed_values_name_their_variable() {
        for (var, value) in [
            ("CONTACTS_FEED", "not a url"),
            ("FEED_LONG_POLL_SECS", "31"),
            ("FEED_POLL_INTERVAL_MS", "0"),
            ("BREAKER_FAILURE_RATE", "1.5"),
            ("BREAKER_MIN_CALLS", "many"),
            ("OUTBOX_RETRY_MAX_MS", "1"),
            ("CONTACTS_ALLOWED_ORIGINS", "https://ok.example.org, ftp://files.example.org"),
            ("CONTACTS_ALLOWED_ORIGINS", "https://contacts.example.org/feed"),
            ("CONTACTS_ALLOWED_ORIGINS", "not an origin"),
            ("FEED_WALK_MEMORY_BYTES", "0"),
            ("FEED_ENTRY_MAX_ATTEMPTS", "0"),
            ("CONTACT_MAX_BYTES", "lots"),
        ] {
            let err = Settings::from_vars(vars(&[(var, value)])).unwrap_err();
            assert!(err.to_string().contains(var), "{var}: {err}");
        }
    }
}
