//! The delivery worker: claims due jobs, sends them with bounded concurrency, and records the
//! outcome (sent, retry later, failed).
//!
//! [`DeliveryWorker::run`] is the background loop. It claims only as many jobs as it has free send
//! slots, so a claimed job starts sending at once and its lease only has to cover one send. It
//! sleeps until a job is posted (an in-process wake-up), the earliest retry or lease expiry
//! comes due, or the poll interval passes (jobs posted to another replica), whichever is first;
//! it never spins. On shutdown it stops claiming and waits for the sends in flight.
//!
//! [`DeliveryWorker::step`] does one round by hand, for tests.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use service_kit::db::now_millis;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::{Delivery, DeliverySettings};
use crate::domain::Job;
use crate::mail;
use crate::metrics;
use crate::store::Store;
use crate::workers::listener::NewJobListener;
use crate::workers::transport::{Outcome, SmtpSender};

/// A job claimed by this worker, with the lease token that proves it.
#[derive(Debug)]
pub struct Claimed {
    pub job: Job,
    token: String,
}

/// What one delivery did to its job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    Sent,
    RetryScheduled,
    Failed,
    /// The lease had expired and the job was claimed again elsewhere; nothing was recorded.
    LeaseLost,
}

/// Counts from one [`DeliveryWorker::step`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchReport {
    pub claimed: usize,
    pub sent: usize,
    pub retries: usize,
    pub failed: usize,
}

/// The delivery worker. Clones share one worker (its send slots, its wake-up).
#[derive(Debug, Clone)]
pub struct DeliveryWorker {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    settings: DeliverySettings,
    smtp: Option<SmtpSender>,
    /// The bulkhead: one permit per send in flight.
    permits: Arc<Semaphore>,
    wake: Arc<Notify>,
    /// PostgreSQL only: whether the listener for jobs stored by other replicas is connected.
    listening: Arc<AtomicBool>,
    depth_reported: Mutex<Option<Instant>>,
}

impl DeliveryWorker {
    /// Builds the worker; `wake` is notified whenever this process stores a job (and, on
    /// PostgreSQL, by [`DeliveryWorker::listener`] when another replica does).
    pub fn new(store: Store, settings: DeliverySettings, wake: Arc<Notify>) -> anyhow::Result<Self> {
        let smtp = match &settings.delivery {
            Delivery::Smtp { url } => {
                Some(SmtpSender::new(url, settings.smtp_timeout, settings.max_concurrency)?)
            }
            Delivery::Mailbox => None,
        };
        let permits = Arc::new(Semaphore::new(settings.max_concurrency));
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                settings,
                smtp,
                permits,
                wake,
                listening: Arc::new(AtomicBool::new(false)),
                depth_reported: Mutex::new(None),
            }),
        })
    }

    /// Whether the worker is listening for jobs stored by other replicas (PostgreSQL).
    pub fn is_listening(&self) -> bool {
        self.inner.listening.load(Ordering::SeqCst)
    }

    /// What the PostgreSQL listener does when a replica stores a job: wake this worker.
    pub fn listener(&self) -> NewJobListener {
        NewJobListener { wake: self.inner.wake.clone(), listening: self.inner.listening.clone() }
    }

    /// Claims up to `limit` due jobs for this worker (see [`Store::claim`]).
    pub async fn claim(&self, limit: usize) -> Result<Vec<Claimed>, sqlx::Error> {
        let token = uuid::Uuid::new_v4().to_string();
        let now = now_millis();
        let lease_until = now + self.inner.settings.send_lease.as_millis() as i64;
        let claimed = self.inner.store.claim(&token, now, lease_until, limit as i64).await?;
        for job in &claimed {
            if job.attempts > 1 {
                tracing::info!(job = %job.id, attempt = job.attempts, "claimed job for another attempt");
            }
        }
        Ok(claimed.into_iter().map(|job| Claimed { job, token: token.clone() }).collect())
    }

    /// One round: claims as many due jobs as there are send slots, delivers them concurrently
    /// and waits for all of them.
    pub async fn step(&self) -> anyhow::Result<BatchReport> {
        let claimed = self.claim(self.inner.settings.max_concurrency).await?;
        let mut report = BatchReport { claimed: claimed.len(), ..BatchReport::default() };
        let mut sends = JoinSet::new();
        for job in claimed {
            let permit = self.inner.permits.clone().acquire_owned().await?;
            let worker = self.clone();
            sends.spawn(async move { worker.deliver(job, permit).await });
        }
        while let Some(joined) = sends.join_next().await {
            match joined? {
                Ok(Finished::Sent) => report.sent += 1,
                Ok(Finished::RetryScheduled) => report.retries += 1,
                Ok(Finished::Failed) => report.failed += 1,
                Ok(Finished::LeaseLost) => {}
                Err(e) => {
                    tracing::error!(error = %e, "recording a delivery failed; the job is retried after its lease")
                }
            }
        }
        self.report_queue_depth(true).await;
        Ok(report)
    }

    /// Renders and sends one claimed job and records the outcome. `permit` is its bulkhead slot.
    pub async fn deliver(
        &self,
        claimed: Claimed,
        permit: OwnedSemaphorePermit,
    ) -> Result<Finished, sqlx::Error> {
        let Claimed { job, token } = claimed;
        let settings = &self.inner.settings;
        let _in_flight = metrics::InFlight::start();
        let rendered = match mail::render(&job, &settings.mail_from) {
            Ok(rendered) => rendered,
            Err(e) => {
                drop(permit);
                let reason = format!("cannot render the message: {e}");
                return self.fail(&job, &token, &reason, metrics::FailureReason::InvalidMessage).await;
            }
        };
        let outcome = match &self.inner.smtp {
            Some(smtp) => {
                let started = Instant::now();
                let outcome = self.renewing_the_lease(&job, &token, smtp.send(&rendered)).await;
                let label = match &outcome {
                    Outcome::Accepted => metrics::SmtpOutcome::Accepted,
                    Outcome::Temporary(_) => metrics::SmtpOutcome::TemporaryFailure,
                    Outcome::Permanent(_) => metrics::SmtpOutcome::PermanentFailure,
                };
                metrics::smtp_send_finished(started.elapsed(), label);
                outcome
            }
            None => {
                let raw = String::from_utf8_lossy(&rendered.raw);
                let stored = self.inner.store.deliver_to_mailbox(job.id, &token, &raw, now_millis()).await?;
                drop(permit);
                return Ok(self.sent(&job, stored, "stored in the mailbox"));
            }
        };
        drop(permit);
        let now = now_millis();
        match outcome {
            Outcome::Accepted => {
                let recorded = self.inner.store.mark_sent(job.id, &token, now).await?;
                Ok(self.sent(&job, recorded, "accepted by the SMTP server"))
            }
            Outcome::Permanent(reason) => {
                self.fail(&job, &token, &reason, metrics::FailureReason::Permanent).await
            }
            Outcome::Temporary(reason) if job.attempts >= i64::from(settings.max_attempts) => {
                let reason = format!("gave up after {} attempts; last error: {reason}", job.attempts);
                self.fail(&job, &token, &reason, metrics::FailureReason::AttemptsExhausted).await
            }
            Outcome::Temporary(reason) => {
                let delay = settings.retry.delay_for_attempt(u32::try_from(job.attempts).unwrap_or(u32::MAX));
                let at = now + delay.as_millis() as i64;
                if !self.inner.store.schedule_retry(job.id, &token, at, &reason, now).await? {
                    return Ok(lease_lost(&job));
                }
                metrics::retry_scheduled();
                tracing::warn!(job = %job.id, attempt = job.attempts, retry_in_ms = delay.as_millis() as u64,
                    error = %reason, "temporary delivery failure; will retry");
                Ok(Finished::RetryScheduled)
            }
        }
    }

    /// Runs `send`, renewing the job's lease every third of `SEND_LEASE_MS` until it is done, so
    /// that a live worker keeps its job however long the send takes and a dead one's job is free
    /// again within one lease.
    async fn renewing_the_lease<T>(&self, job: &Job, token: &str, send: impl Future<Output = T>) -> T {
        let lease = self.inner.settings.send_lease;
        let every = lease / 3;
        let mut renew = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut send = std::pin::pin!(send);
        loop {
            tokio::select! {
                out = &mut send => return out,
                _ = renew.tick() => {
                    let until = now_millis() + lease.as_millis() as i64;
                    match self.inner.store.renew_lease(job.id, token, until).await {
                        Ok(true) => {}
                        Ok(false) => tracing::warn!(job = %job.id, "the lease was lost during the send"),
                        Err(e) => tracing::warn!(job = %job.id, error = %e, "cannot renew the lease"),
                    }
                }
            }
        }
    }

    fn sent(&self, job: &Job, recorded: bool, how: &str) -> Finished {
        if !recorded {
            return lease_lost(job);
        }
        metrics::sent();
        tracing::info!(job = %job.id, attempt = job.attempts, message_id = %job.message_id, "notification {how}");
        Finished::Sent
    }

    async fn fail(
        &self,
        job: &Job,
        token: &str,
        reason: &str,
        label: metrics::FailureReason,
    ) -> Result<Finished, sqlx::Error> {
        if !self.inner.store.mark_failed(job.id, token, reason, now_millis()).await? {
            return Ok(lease_lost(job));
        }
        metrics::failed(label);
        tracing::warn!(job = %job.id, attempt = job.attempts, error = %reason, "notification failed");
        Ok(Finished::Failed)
    }

    /// Sets `notifications_queue_depth` from the database, at most once a second unless `force`.
    async fn report_queue_depth(&self, force: bool) {
        {
            let mut last = self.inner.depth_reported.lock().unwrap_or_else(|e| e.into_inner());
            if !force && last.is_some_and(|t| t.elapsed() < Duration::from_secs(1)) {
                return;
            }
            *last = Some(Instant::now());
        }
        match self.inner.store.queue_depth().await {
            Ok(depth) => metrics::queue_depth(depth),
            Err(e) => tracing::warn!(error = %e, "cannot count queued jobs"),
        }
        match self.inner.store.oldest_queued_created_at().await {
            Ok(oldest) => metrics::oldest_queued(oldest, now_millis()),
            Err(e) => tracing::warn!(error = %e, "cannot read the oldest queued job"),
        }
    }

    /// The background loop; returns after `shutdown` once the sends in flight are finished.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let settings = &self.inner.settings;
        tracing::info!(
            mode = if self.inner.smtp.is_some() { "smtp" } else { "mailbox" },
            max_concurrency = settings.max_concurrency,
            "delivery worker started"
        );
        let mut in_flight = JoinSet::new();
        while !shutdown.is_cancelled() {
            let free = self.inner.permits.available_permits();
            let mut claimed_any = false;
            let mut wait = settings.poll_interval;
            if free > 0 {
                match self.claim(free).await {
                    Ok(claimed) => {
                        claimed_any = !claimed.is_empty();
                        for job in claimed {
                            let permit = self.inner.permits.clone().acquire_owned().await?;
                            let worker = self.clone();
                            in_flight.spawn(async move { worker.deliver(job, permit).await });
                        }
                        if !claimed_any {
                            wait = self.time_to_next_due(settings.poll_interval).await;
                        }
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "cannot claim jobs; trying again after the poll interval")
                    }
                }
            }
            self.report_queue_depth(false).await;
            if claimed_any && self.inner.permits.available_permits() > 0 {
                continue;
            }
            tokio::select! {
                () = shutdown.cancelled() => {}
                () = self.inner.wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
                Some(joined) = in_flight.join_next(), if !in_flight.is_empty() => log_delivery_error(joined),
            }
        }
        if !in_flight.is_empty() {
            tracing::info!(sends = in_flight.len(), "waiting for the sends in flight");
        }
        while let Some(joined) = in_flight.join_next().await {
            log_delivery_error(joined);
        }
        if let Some(smtp) = &self.inner.smtp {
            smtp.shutdown().await;
        }
        tracing::info!("delivery worker stopped");
        Ok(())
    }

    /// How long to sleep when nothing is due: until the next retry or lease expiry, at most
    /// `poll`, at least a few milliseconds.
    async fn time_to_next_due(&self, poll: Duration) -> Duration {
        match self.inner.store.next_due().await {
            Ok(Some(due)) => {
                let ms = (due - now_millis()).clamp(5, poll.as_millis() as i64);
                Duration::from_millis(ms as u64)
            }
            Ok(None) => poll,
            Err(e) => {
                tracing::warn!(error = %e, "cannot look up the next due job");
                poll
            }
        }
    }
}

fn lease_lost(job: &Job) -> Finished {
    tracing::warn!(job = %job.id, "the lease expired before the outcome was recorded; another worker owns the job");
    Finished::LeaseLost
}

fn log_delivery_error(joined: Result<Result<Finished, sqlx::Error>, tokio::task::JoinError>) {
    match joined {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            tracing::error!(error = %e, "recording a delivery failed; the job is retried after its lease")
        }
        Err(e) => tracing::error!(error = %e, "a delivery task panicked; the job is retried after its lease"),
    }
}
