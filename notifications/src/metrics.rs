//! The service's domain metrics (Prometheus names, base units):
//!
//! - `notifications_queue_depth` (gauge): jobs waiting to be sent, retries included;
//! - `notifications_jobs_created_total` (counter): jobs accepted by `POST /notifications`;
//! - `notifications_sent_total` (counter): jobs delivered (accepted by the SMTP server, or
//!   stored in mailbox mode);
//! - `notifications_failed_total{reason}` (counter): jobs given up, by `reason`: `permanent`
//!   (a 5xx answer), `attempts_exhausted` (`MAX_ATTEMPTS` temporary failures),
//!   `invalid_message` (could not be rendered);
//! - `notifications_retries_total` (counter): retries scheduled after a temporary failure;
//! - `smtp_send_duration_seconds` (histogram, the talk's "timer"): one SMTP send, connecting
//!   included, whatever its outcome;
//! - `notifications_sends_in_flight` (gauge): deliveries in progress (at most
//!   `SMTP_MAX_CONCURRENCY`).
//! - `notifications_jobs_deleted_total` (counter): finished jobs deleted after `RETENTION_DAYS`.
//! - `notifications_oldest_queued_age_seconds` (gauge): how long the oldest queued job has
//!   existed, 0 when none is queued;
//! - `smtp_sends_total{outcome}` (counter): SMTP sends by `outcome`: `accepted`,
//!   `temporary_failure` (a 4xx answer, a timeout, a lost connection), `permanent_failure` (5xx).

use service_kit::quota::Limit;
use std::time::Duration;

/// Why a job ended `failed`; the label values are fixed so the series stay bounded.
#[derive(Debug, Clone, Copy)]
pub enum FailureReason {
    Permanent,
    AttemptsExhausted,
    InvalidMessage,
}

impl FailureReason {
    fn label(self) -> &'static str {
        match self {
            Self::Permanent => "permanent",
            Self::AttemptsExhausted => "attempts_exhausted",
            Self::InvalidMessage => "invalid_message",
        }
    }
}

/// How one SMTP send ended (the `outcome` label of `smtp_sends_total`).
#[derive(Debug, Clone, Copy)]
pub enum SmtpOutcome {
    Accepted,
    TemporaryFailure,
    PermanentFailure,
}

impl SmtpOutcome {
    const ALL: [Self; 3] = [Self::Accepted, Self::TemporaryFailure, Self::PermanentFailure];

    fn label(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::TemporaryFailure => "temporary_failure",
            Self::PermanentFailure => "permanent_failure",
        }
    }
}

/// Registers descriptions, and registers the series with an increment of zero so they show from the start.
pub fn describe() {
    metrics::describe_gauge!("notifications_queue_depth", "Jobs waiting to be sent, retries included");
    metrics::describe_counter!("notifications_jobs_created_total", "Jobs accepted by POST /notifications");
    metrics::describe_counter!("notifications_sent_total", "Jobs delivered");
    metrics::describe_counter!("notifications_failed_total", "Jobs given up, by reason");
    metrics::describe_counter!("notifications_retries_total", "Retries scheduled after a temporary failure");
    metrics::describe_histogram!(
        "smtp_send_duration_seconds",
        metrics::Unit::Seconds,
        "Duration of one SMTP send, connecting included, whatever the outcome"
    );
    metrics::describe_gauge!("notifications_sends_in_flight", "Deliveries in progress");
    metrics::describe_counter!(
        "notifications_jobs_deleted_total",
        "Finished jobs deleted after RETENTION_DAYS, with their mailbox messages"
    );
    metrics::describe_gauge!(
        "notifications_oldest_queued_age_seconds",
        metrics::Unit::Seconds,
        "Age of the oldest queued job, or 0 when none is queued"
    );
    metrics::describe_counter!("smtp_sends_total", "SMTP sends by outcome");
    metrics::describe_counter!(
        "quota_refusals_total",
        "Jobs refused with 429 because a caller reached a quota (jobs or recipients per hour)"
    );
    for quota in ["jobs", "recipients"] {
        metrics::counter!("quota_refusals_total", "quota" => quota).increment(0);
    }
    for outcome in SmtpOutcome::ALL {
        metrics::counter!("smtp_sends_total", "outcome" => outcome.label()).increment(0);
    }
    let _registered = metrics::histogram!("smtp_send_duration_seconds");
    metrics::counter!("notifications_jobs_deleted_total").increment(0);
    metrics::counter!("notifications_jobs_created_total").increment(0);
    metrics::counter!("notifications_sent_total").increment(0);
    metrics::counter!("notifications_retries_total").increment(0);
    for reason in [FailureReason::Permanent, FailureReason::AttemptsExhausted, FailureReason::InvalidMessage]
    {
        metrics::counter!("notifications_failed_total", "reason" => reason.label()).increment(0);
    }
    metrics::gauge!("notifications_sends_in_flight").increment(0.0);
}

pub fn job_created() {
    metrics::counter!("notifications_jobs_created_total").increment(1);
}

pub fn sent() {
    metrics::counter!("notifications_sent_total").increment(1);
}

pub fn failed(reason: FailureReason) {
    metrics::counter!("notifications_failed_total", "reason" => reason.label()).increment(1);
}

pub fn retry_scheduled() {
    metrics::counter!("notifications_retries_total").increment(1);
}

pub fn queue_depth(depth: i64) {
    metrics::gauge!("notifications_queue_depth").set(depth as f64);
}

/// `oldest`: when the oldest queued job was created (epoch milliseconds), if any is queued.
pub fn oldest_queued(oldest: Option<i64>, now: i64) {
    let age = oldest.map_or(0, |created| (now - created).max(0));
    metrics::gauge!("notifications_oldest_queued_age_seconds").set(age as f64 / 1000.0);
}

pub fn smtp_send_finished(elapsed: Duration, outcome: SmtpOutcome) {
    metrics::histogram!("smtp_send_duration_seconds").record(elapsed.as_secs_f64());
    metrics::counter!("smtp_sends_total", "outcome" => outcome.label()).increment(1);
}

/// Counts one delivery in `notifications_sends_in_flight` while it lives.
#[derive(Debug)]
pub struct InFlight(());

impl InFlight {
    pub fn start() -> Self {
        metrics::gauge!("notifications_sends_in_flight").increment(1.0);
        Self(())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        metrics::gauge!("notifications_sends_in_flight").decrement(1.0);
    }
}

pub fn jobs_deleted(count: u64) {
    metrics::counter!("notifications_jobs_deleted_total").increment(count);
}

/// The `quota` label of a limit: `QUOTA_JOBS_PER_HOUR` counts jobs (requests),
/// `QUOTA_RECIPIENTS_PER_HOUR` their recipients (units).
pub fn quota_label(limit: Limit) -> &'static str {
    match limit {
        Limit::Requests => "jobs",
        Limit::Units => "recipients",
    }
}

/// A job refused by the quota `limit`.
pub fn quota_refused(limit: Limit) {
    metrics::counter!("quota_refusals_total", "quota" => quota_label(limit)).increment(1);
}
