//! The outbox dispatcher: claims due notification jobs and sends them through a circuit breaker.
//!
//! - Closed: jobs are sent; each outcome is recorded in the breaker's sliding time window.
//! - Open (too large a share of failures in the window, with enough calls): calls fail fast, the
//!   claimed rows go back untried (no attempt counted) and come due when a probe may run.
//! - Half-open: one probe goes through; success closes the circuit, failure opens it again.
//!
//! A temporary failure schedules the row's next attempt with exponential backoff and jitter,
//! stored in the row; after `OUTBOX_MAX_ATTEMPTS` attempts, or a permanent refusal, the row is
//! marked failed with the reason. The outbox id is the Idempotency-Key, so a resend after a
//! crash never produces a second e-mail.

use std::sync::Arc;
use std::time::Duration;

use service_kit::db::now_millis;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tower::{Service, ServiceExt};
use tower_resilience_circuitbreaker::{
    CircuitBreaker, CircuitBreakerError, CircuitBreakerLayer, CircuitState, DefaultClassifier,
    SlidingWindowType,
};

use super::notifications::{NotificationsClient, Settled, Temporary};
use crate::config::NotificationSettings;
use crate::metrics::{
    CIRCUIT_BREAKER_STATE, NOTIFICATIONS_DISPATCHED, OUTBOX_OLDEST_PENDING_AGE, OUTBOX_PENDING,
};
use crate::store::{Job, Store};

/// The `target` label of `circuit_breaker_state`.
pub const TARGET: &str = "notifications";

type Breaker = CircuitBreaker<NotificationsClient, DefaultClassifier>;

/// Drains the outbox. Cheap to clone (shared breaker state).
#[derive(Clone)]
pub struct Dispatcher {
    store: Store,
    settings: NotificationSettings,
    breaker: Option<Breaker>,
    wake: Arc<Notify>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher").field("enabled", &self.breaker.is_some()).finish()
    }
}

impl Dispatcher {
    /// `wake` is notified by the API when it writes new rows.
    pub fn new(
        store: Store,
        settings: NotificationSettings,
        client: reqwest::Client,
        wake: Arc<Notify>,
    ) -> anyhow::Result<Self> {
        let breaker = match &settings.service {
            None => None,
            Some(service) => {
                let client =
                    NotificationsClient::new(client, service, settings.token.clone(), settings.timeout)?;
                let b = &settings.breaker;
                let layer = CircuitBreakerLayer::builder()
                    .name(TARGET)
                    .failure_rate_threshold(b.failure_rate)
                    .sliding_window_type(SlidingWindowType::TimeBased)
                    .sliding_window_duration(b.window)
                    .minimum_number_of_calls(b.min_calls)
                    .wait_duration_in_open(b.open_for)
                    .permitted_calls_in_half_open(1)
                    .on_state_transition(|from, to| {
                        tracing::warn!(target_service = TARGET, ?from, ?to, "circuit breaker changed state");
                        set_state_gauge(to);
                    })
                    .build()
                    .map_err(|e| anyhow::anyhow!("circuit breaker configuration: {e}"))?;
                set_state_gauge(CircuitState::Closed);
                Some(layer.layer_fn(client))
            }
        };
        Ok(Self { store, settings, breaker, wake })
    }

    pub fn enabled(&self) -> bool {
        self.breaker.is_some()
    }

    /// The breaker's state (`None` when notifications are off).
    pub fn breaker_state(&self) -> Option<CircuitState> {
        self.breaker.as_ref().map(Breaker::state_sync)
    }

    /// One round: claims the due rows and settles each. Returns how many rows were sent or
    /// settled (0 when nothing was due, delivery is off, or the circuit is open).
    pub async fn step(&self, shutdown: &CancellationToken) -> anyhow::Result<usize> {
        let result = self.deliver_due(shutdown).await;
        self.update_pending_gauge().await;
        result
    }

    async fn deliver_due(&self, shutdown: &CancellationToken) -> anyhow::Result<usize> {
        let Some(breaker) = &self.breaker else { return Ok(0) };
        let lease = self.settings.timeout * 2 + Duration::from_secs(5);
        let lease_until = now_millis() + millis(lease);
        let jobs = self.store.claim_due(lease_until, self.settings.batch_size).await?;
        let mut settled = 0;
        let mut jobs = jobs.into_iter();
        while let Some(job) = jobs.next() {
            if shutdown.is_cancelled() {
                self.release(std::iter::once(job).chain(jobs), now_millis()).await?;
                break;
            }
            let mut call = breaker.clone();
            let result = match call.ready().await {
                Ok(ready) => ready.call(job.clone()).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(Settled::Delivered { job: job_id }) => {
                    self.store.mark_sent(job.id, job.attempts + 1, job_id).await?;
                    metrics::counter!(NOTIFICATIONS_DISPATCHED, "outcome" => "sent").increment(1);
                    tracing::info!(job = %job.id, request_id = job.request_id.as_deref().unwrap_or(""), "invitation delivered");
                    settled += 1;
                }
                Ok(Settled::Rejected(reason)) => {
                    self.store.mark_failed(job.id, job.attempts + 1, &reason).await?;
                    metrics::counter!(NOTIFICATIONS_DISPATCHED, "outcome" => "rejected").increment(1);
                    tracing::error!(job = %job.id, reason, "notifications refused the invitation; marked failed");
                    settled += 1;
                }
                Err(CircuitBreakerError::OpenCircuit) => {
                    let count = 1 + jobs.len();
                    metrics::counter!(NOTIFICATIONS_DISPATCHED, "outcome" => "short_circuited")
                        .increment(count as u64);
                    tracing::debug!(count, "circuit open; invitations stay pending");
                    let at = now_millis() + millis(self.settings.breaker.open_for);
                    self.release(std::iter::once(job).chain(jobs), at).await?;
                    break;
                }
                Err(CircuitBreakerError::Inner(temporary)) => {
                    self.retry_later(&job, temporary).await?;
                }
            }
        }
        Ok(settled)
    }

    async fn retry_later(&self, job: &Job, temporary: Temporary) -> anyhow::Result<()> {
        let attempts = job.attempts + 1;
        if attempts >= i64::from(self.settings.max_attempts) {
            let reason = format!("gave up after {attempts} attempts: {}", temporary.reason);
            self.store.mark_failed(job.id, attempts, &reason).await?;
            metrics::counter!(NOTIFICATIONS_DISPATCHED, "outcome" => "failed").increment(1);
            tracing::error!(job = %job.id, reason, "invitation not delivered; marked failed");
            return Ok(());
        }
        let attempt = u32::try_from(attempts).unwrap_or(u32::MAX);
        let delay =
            self.settings.retry.delay_for_attempt(attempt).max(temporary.retry_after.unwrap_or_default());
        self.store.retry_at(job.id, attempts, now_millis() + millis(delay), &temporary.reason).await?;
        metrics::counter!(NOTIFICATIONS_DISPATCHED, "outcome" => "retry").increment(1);
        tracing::warn!(job = %job.id, attempts, retry_in_ms = millis(delay), reason = temporary.reason, "delivery failed; will retry");
        Ok(())
    }

    async fn release(&self, jobs: impl Iterator<Item = Job>, at: i64) -> anyhow::Result<()> {
        for job in jobs {
            self.store.release(job.id, at).await?;
        }
        Ok(())
    }

    async fn update_pending_gauge(&self) {
        match self.store.pending_count().await {
            Ok(n) => metrics::gauge!(OUTBOX_PENDING).set(n as f64),
            Err(e) => tracing::warn!(error = %e, "cannot count pending invitations"),
        }
        match self.store.oldest_pending_created_at().await {
            Ok(oldest) => {
                let age = oldest.map_or(0, |created| (now_millis() - created).max(0));
                metrics::gauge!(OUTBOX_OLDEST_PENDING_AGE).set(age as f64 / 1000.0);
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the oldest pending invitation"),
        }
    }

    /// Runs until `shutdown` fires, waking on new rows or every `OUTBOX_POLL_INTERVAL_MS`.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        if !self.enabled() {
            tracing::warn!(
                "NOTIFICATION_SERVICE is not set: notifications are off; invitations stay in the outbox"
            );
        }
        let mut error_delays = self.settings.retry.delays();
        while !shutdown.is_cancelled() {
            let pause = match self.step(&shutdown).await {
                Ok(n) if n > 0 => {
                    error_delays = self.settings.retry.delays();
                    continue;
                }
                Ok(_) => self.settings.poll_interval,
                Err(e) => {
                    tracing::error!(error = format!("{e:#}"), "outbox dispatch failed");
                    error_delays.next().unwrap_or(self.settings.retry.max)
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(pause) => {}
            }
        }
        Ok(())
    }
}

fn set_state_gauge(state: CircuitState) {
    metrics::gauge!(CIRCUIT_BREAKER_STATE, "target" => TARGET).set(f64::from(state as u8));
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2)
}
