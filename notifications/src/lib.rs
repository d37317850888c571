//! notifications: turns authenticated HTTP jobs into e-mails, through a durable job queue.
//!
//! `POST /notifications` (bearer token) stores a job and answers `202` once the row is
//! committed; a background worker ([`workers::DeliveryWorker`]) claims due jobs, renders each with
//! `lettre` ([`mail`]) and sends it over SMTP (`SMTP_URL`), or, without `SMTP_URL`, stores the
//! rendered message for the operator to read in the browser (mailbox mode).
//!
//! # Delivery guarantee
//!
//! **A job is never lost, and is sent more than once only when the process stops between the
//! SMTP server accepting the message and the job being marked `sent`; the repeat carries the
//! same `Message-ID`.**
//!
//! How:
//! - The job is committed before `202` is answered. From then on it is in the database in one of
//!   `queued`, `sending`, `sent`, `failed`.
//! - A worker claims a job by setting it to `sending` with a lease (a token and an expiry,
//!   `SEND_LEASE_MS`) in one statement (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so replicas never
//!   claim the same job; the single writer on SQLite). If the process dies while the job is
//!   `sending`, the lease runs out and any worker claims the job again: `sending` is never a
//!   dead end.
//! - The outcome is recorded with the lease token. A worker whose lease ran out cannot
//!   overwrite the outcome of the worker that took over.
//! - The unavoidable window: the SMTP server has answered `250` but the process stops (or the
//!   database write fails, or the answer is lost to a timeout) before the job is marked `sent`.
//!   The job is then sent again after its lease expires. The message is rendered
//!   deterministically (`Message-ID: <job-id@MAIL_FROM's domain>`, `Date` = the job's creation
//!   time), so the repeat is byte-for-byte the same message and receivers can drop it as a
//!   duplicate. In mailbox mode there is no window: storing the message and marking the job
//!   `sent` are one transaction.
//! - Temporary failures (connection refused or lost, timeout, `4xx`) are retried with
//!   exponential backoff and jitter; the next attempt time is stored in the row, so the schedule
//!   survives restarts. After `MAX_ATTEMPTS` attempts, or at once on a `5xx` answer, the job
//!   ends `failed` with the reason in `last_error`. A send interrupted by a crash counts as an
//!   attempt; if it was the last one, it is still tried once more rather than given up unseen.
//!
//! Sends run concurrently up to `SMTP_MAX_CONCURRENCY` (a semaphore: the bulkhead that keeps a
//! slow mail server from tying up more than that many connections), each with a deadline
//! (`SMTP_TIMEOUT_MS`).
//!
//! # Where to look
//!
//! - [`config`]: every setting and its variable; [`startup`]: how the parts are put together.
//! - [`routes`]: the HTTP endpoints, one file per resource; [`error`]: every way a request fails
//!   and the status it gets (credentials are service-kit's `auth`).
//! - [`domain`]: the validated request and the job; [`mail`]: a job as an RFC 5322 message.
//! - [`store`]: all SQL, behind [`store::Store`] (the SQLite/PostgreSQL differences in one file).
//! - [`workers`]: the delivery worker, the SMTP transport, the `NOTIFY` listener, the retention
//!   sweep.
//! - [`templates`]: the operator's pages; [`links`]: absolute URLs; [`metrics`]: what is counted.

pub mod config;
pub mod domain;
pub mod error;
pub mod links;
pub mod mail;
pub mod metrics;
pub mod routes;
pub mod startup;
pub mod store;
pub mod templates;
pub mod workers;
