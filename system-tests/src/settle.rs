//! Knowing when the system has come to rest after faults: calendar's feed checkpoint has reached
//! the head of contacts' feed, calendar's outbox has nothing pending, and notifications' queue is
//! empty with every job settled. Tests wait on these conditions, with a deadline, before they
//! compare states.
//!
//! The feed head is read the way any consumer reads it (the Atom feed over HTTP). calendar does
//! not publish its checkpoint, so it is read from its database (`feed_checkpoint`), read-only.

use std::time::Duration;

use harness::process::ServiceProcess;
use serde_json::Value;
use sqlx::Row;
use test_support::wait_until;

use crate::api::all_pages_as;
use crate::prometheus::value;

/// The events of one feed document and the link to the archive before it.
#[derive(Debug, Clone, Default)]
pub struct FeedPage {
    /// `(sequence, event id)` in document order.
    pub events: Vec<(i64, String)>,
    pub prev_archive: Option<String>,
}

impl FeedPage {
    pub fn max_sequence(&self) -> Option<i64> {
        self.events.iter().map(|(s, _)| *s).max()
    }
    pub fn min_sequence(&self) -> Option<i64> {
        self.events.iter().map(|(s, _)| *s).min()
    }
}

/// Fetches and reads one feed document (`url` absolute).
pub async fn feed_page(http: &reqwest::Client, url: &str) -> anyhow::Result<FeedPage> {
    let response = http.get(url).header("accept", "application/atom+xml").send().await?;
    anyhow::ensure!(response.status().is_success(), "GET {url} answered {}", response.status());
    let body = response.bytes().await?;
    let feed = atom_syndication::Feed::read_from(&body[..])?;
    let mut page = FeedPage::default();
    for link in feed.links() {
        if link.rel() == "prev-archive" {
            page.prev_archive = Some(url::Url::parse(url)?.join(link.href())?.to_string());
        }
    }
    for entry in feed.entries() {
        let content = entry.content().and_then(|c| c.value()).unwrap_or_default();
        let event: Value = serde_json::from_str(content)?;
        let sequence = event["sequence"].as_i64().ok_or_else(|| anyhow::anyhow!("no sequence: {event}"))?;
        let id = event["id"].as_str().unwrap_or_default().to_string();
        page.events.push((sequence, id));
    }
    Ok(page)
}

/// The sequence of the newest event in contacts' feed (0 when it is empty): the newest entry of
/// the subscription document, or of the newest archive when that document is empty.
pub async fn feed_head(http: &reqwest::Client, contacts: &ServiceProcess) -> anyhow::Result<i64> {
    let current = feed_page(http, &contacts.url("feed")).await?;
    if let Some(max) = current.max_sequence() {
        return Ok(max);
    }
    match &current.prev_archive {
        Some(archive) => Ok(feed_page(http, archive).await?.max_sequence().unwrap_or(0)),
        None => Ok(0),
    }
}

/// The sequence calendar has applied up to, from its database (`DATABASE_URL` of the process).
pub async fn calendar_checkpoint(calendar: &ServiceProcess) -> anyhow::Result<i64> {
    read_i64(&database_url(calendar)?, "SELECT sequence AS n FROM feed_checkpoint WHERE id = 1").await
}

/// How many feed entries calendar has applied, counted in the transaction that wrote each
/// entry's changes (`feed_checkpoint.applications`): an entry applied twice counts twice.
pub async fn calendar_applications(calendar: &ServiceProcess) -> anyhow::Result<i64> {
    read_i64(&database_url(calendar)?, "SELECT applications AS n FROM feed_checkpoint WHERE id = 1").await
}

fn database_url(service: &ServiceProcess) -> anyhow::Result<String> {
    service
        .spec()
        .get_env("DATABASE_URL")
        .map(str::to_string)
        .ok_or_else(|| anyhow::anyhow!("{} has no DATABASE_URL", service.name()))
}

/// One number from a database, on a connection of its own that is closed right after.
pub async fn read_i64(database_url: &str, sql: &'static str) -> anyhow::Result<i64> {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(database_url).await?;
    let row = sqlx::query(sql).fetch_one(&mut conn).await;
    let _ = conn.close().await;
    Ok(row?.try_get("n")?)
}

/// A gauge or counter of a service (`None` when the service does not answer or lacks it).
pub async fn metric(
    http: &reqwest::Client,
    service: &ServiceProcess,
    name: &str,
    labels: &[(&str, &str)],
) -> Option<f64> {
    let response = http.get(service.url("metrics")).send().await.ok()?;
    let text = response.text().await.ok()?;
    value(&text, name, labels)
}

/// The processes of the system, as [`wait_until_settled`] reads them.
#[derive(Debug, Clone, Copy)]
pub struct Parts<'a> {
    pub http: &'a reqwest::Client,
    pub contacts: &'a ServiceProcess,
    pub calendar: &'a ServiceProcess,
    pub notifications: &'a ServiceProcess,
    /// Bearer token for notifications' job list.
    pub token: &'a str,
}

/// What the system looked like when it settled.
#[derive(Debug, Clone)]
pub struct Settled {
    pub feed_head: i64,
    /// notifications' jobs, every one `sent` or `failed`.
    pub jobs: Vec<Value>,
}

/// Waits until nothing is in flight anywhere: calendar's checkpoint equals contacts' feed head,
/// calendar's `outbox_pending` is 0, notifications' `notifications_queue_depth` is 0 and every
/// job is `sent` or `failed`, and the feed head did not move meanwhile.
pub async fn wait_until_settled(parts: Parts<'_>, patience: Duration) -> Settled {
    wait_until(
        "the system to settle (checkpoint = feed head, outbox_pending 0, queue empty)",
        patience,
        || async {
            let head = feed_head(parts.http, parts.contacts).await.ok()?;
            let checkpoint = calendar_checkpoint(parts.calendar).await.ok()?;
            if checkpoint != head {
                return None;
            }
            if metric(parts.http, parts.calendar, "outbox_pending", &[]).await != Some(0.0) {
                return None;
            }
            if metric(parts.http, parts.notifications, "notifications_queue_depth", &[]).await != Some(0.0) {
                return None;
            }
            let jobs = all_pages_as(
                parts.http,
                &parts.notifications.url("notifications?limit=200"),
                Some(parts.token),
            )
            .await;
            if !jobs.iter().all(|j| j["status"] == "sent" || j["status"] == "failed") {
                return None;
            }
            // Nothing moved while we looked.
            let again = feed_head(parts.http, parts.contacts).await.ok()?;
            (again == head).then_some(Settled { feed_head: head, jobs })
        },
    )
    .await
}
