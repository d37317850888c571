//! Starting single service processes with a given environment, for layouts that
//! [`crate::TestSystem`] does not build: several replicas of one service on a shared database,
//! or one service facing a stand-in for another.

use std::path::Path;
use std::time::Duration;

use harness::binary;
use harness::process::{ServiceProcess, ServiceSpec};

/// How long a replica may take to become ready (debug builds on a busy machine).
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Starts the debug binary of `service` on a free port with `env` (plus `LOG_FORMAT=json`),
/// in `workdir`, and waits until it is ready. Call [`crate::build_services`] first.
pub async fn start(service: &str, workdir: &Path, env: &[(&str, String)]) -> ServiceProcess {
    let mut spec =
        ServiceSpec::new(service, binary(service, "debug"), workdir.to_path_buf()).env("PORT", "0");
    if let Ok(filter) = std::env::var("RUST_LOG") {
        spec = spec.env("RUST_LOG", filter);
    }
    for (key, value) in env {
        spec = spec.env(key, value.clone());
    }
    spec.ready_timeout = READY_TIMEOUT;
    ServiceProcess::start(spec).await.unwrap_or_else(|e| panic!("{service} did not start: {e:#}"))
}

/// The environment of a notifications replica: the shared token, the SMTP server, and retry
/// clocks shortened as in [`crate::TestSystem`].
pub fn notifications_env(database_url: &str, token: &str, smtp_url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("DATABASE_URL", database_url.to_string()),
        ("API_TOKENS", token.to_string()),
        ("SMTP_URL", smtp_url.to_string()),
        ("ADMIN_USER", "operator".into()),
        ("ADMIN_PASSWORD", harness::generate_token()),
        ("RETRY_MIN_MS", "100".into()),
        ("RETRY_MAX_MS", "2000".into()),
        ("POLL_INTERVAL_MS", "500".into()),
    ]
}

/// The environment of a calendar replica following `feed` and sending to `notifications`.
pub fn calendar_env(
    database_url: &str,
    feed: &str,
    notifications: Option<(&str, &str)>,
) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("DATABASE_URL", database_url.to_string()),
        ("CONTACTS_FEED", feed.to_string()),
        ("FEED_RETRY_MAX_MS", "2000".into()),
        ("OUTBOX_RETRY_MIN_MS", "100".into()),
        ("OUTBOX_RETRY_MAX_MS", "2000".into()),
        ("BREAKER_OPEN_MS", "2000".into()),
    ];
    if let Some((url, token)) = notifications {
        env.push(("NOTIFICATION_SERVICE", url.to_string()));
        env.push(("NOTIFICATION_TOKEN", token.to_string()));
    }
    env
}

/// The sum of a counter over every series of `name` (all label values) in an exposition.
pub fn counter_sum(exposition: &str, name: &str) -> f64 {
    exposition
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|line| {
            let (series, number) = line.rsplit_once(' ')?;
            let series_name = series.split('{').next()?;
            (series_name == name).then(|| number.parse::<f64>().ok()).flatten()
        })
        .fold(0.0, |sum, n| sum + n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counter_is_summed_over_its_labels_only() {
        let text =
            "# TYPE x_total counter\nx_total{type=\"a\"} 2\nx_total{type=\"b\"} 3\nx_total_other 9\ny 1\n";
        assert_eq!(counter_sum(text, "x_total"), 5.0);
        assert_eq!(counter_sum(text, "z"), 0.0);
    }
}
