//! Data the scenarios need: contacts created through the API, and a million feed events written
//! straight into a stopped contacts database.

use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::{StreamExt, TryStreamExt};
use serde_json::{Value, json};
use sqlx::ConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;

/// An HTTP client for seeding and checks: no proxy, no redirects, keep-alive.
pub fn client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()?)
}

/// Creates `count` contacts through `POST /contacts` (16 at a time); returns their ids.
pub async fn contacts(
    client: &reqwest::Client,
    base: &str,
    prefix: &str,
    count: usize,
) -> anyhow::Result<Vec<String>> {
    futures_util::stream::iter(0..count)
        .map(|i| async move {
            create_contact(client, base, "Seed", &format!("Person {i}"), &format!("{prefix}-{i}@example.org"))
                .await
        })
        .buffered(16)
        .try_collect()
        .await
}

pub async fn create_contact(
    client: &reqwest::Client,
    base: &str,
    firstname: &str,
    lastname: &str,
    email: &str,
) -> anyhow::Result<String> {
    let response = client
        .post(format!("{base}/contacts"))
        .json(&json!({"firstname": firstname, "lastname": lastname, "email": email}))
        .send()
        .await?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if status != reqwest::StatusCode::CREATED {
        bail!("POST /contacts answered {status}: {body}");
    }
    body["id"].as_str().map(str::to_string).context("POST /contacts answered no id")
}

/// The feed's newest sequence, read from the subscription document's ETag
/// (`"feed-<page size>-<sequence>"`).
pub async fn feed_sequence(client: &reqwest::Client, base: &str) -> anyhow::Result<(String, i64)> {
    let response = client.get(format!("{base}/feed")).send().await?;
    let etag = response
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .context("GET /feed has no ETag")?
        .to_string();
    let sequence = etag
        .trim_matches('"')
        .rsplit('-')
        .next()
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("unexpected feed ETag {etag}"))?;
    Ok((etag, sequence))
}

/// Writes `events` `contact-created` events (sequences 1..=events) and the matching read-model
/// rows into a contacts SQLite database that the service has created (so the schema is the
/// service's own) and that no process has open. One transaction, generated inside SQLite, so a
/// million events take seconds rather than the minutes a million API calls would.
pub async fn million_events(database_url: &str, events: u64) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut conn = SqliteConnectOptions::from_str(database_url)?
        .pragma("synchronous", "OFF")
        .pragma("cache_size", "-262144")
        .connect()
        .await
        .context("open the contacts database to seed it")?;
    let existing: i64 = sqlx::query_scalar("SELECT last_sequence FROM event_counter WHERE id = 1")
        .fetch_one(&mut conn)
        .await
        .context("read event_counter (is this a contacts database?)")?;
    anyhow::ensure!(existing == 0, "the database already holds {existing} events");
    let base_ms = service_millis() - events as i64;
    let mut tx = sqlx::Connection::begin(&mut conn).await?;
    // Ids: valid UUIDs (version 7 layout) that differ by the sequence number.
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) \
         INSERT INTO contact_events (sequence, id, type, contact_id, occurred_at, data) \
         SELECT i, printf('00000000-0000-7000-8000-%012x', i), 'contact-created', \
                printf('00000000-0000-7000-9000-%012x', i), $2 + i, \
                '{\"firstname\":\"Seed\",\"lastname\":\"Person ' || i || '\",\"email\":\"p' || i || '@example.org\"}' \
         FROM n",
    )
    .bind(events as i64)
    .bind(base_ms)
    .execute(&mut *tx)
    .await
    .context("insert events")?;
    sqlx::query(
        "INSERT INTO contacts (id, firstname, lastname, email, email_key, sort_key, search_text) \
         SELECT contact_id, 'Seed', 'Person ' || sequence, 'p' || sequence || '@example.org', \
                'p' || sequence || '@example.org', 'person ' || sequence || ' seed', \
                'seed person ' || sequence || ' p' || sequence || '@example.org' \
         FROM contact_events ORDER BY sequence",
    )
    .execute(&mut *tx)
    .await
    .context("insert the read model")?;
    sqlx::query("UPDATE event_counter SET last_sequence = $1, contact_count = $1 WHERE id = 1")
        .bind(events as i64)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut conn).await?;
    sqlx::Connection::close(conn).await?;
    Ok(started.elapsed())
}

/// The newest sequence in a contacts SQLite database, read beside the running service (WAL
/// lets a reader in while it writes).
pub async fn stored_sequence(database_url: &str) -> anyhow::Result<i64> {
    let mut conn = SqliteConnectOptions::from_str(database_url)?.read_only(true).connect().await?;
    let sequence: i64 = sqlx::query_scalar("SELECT last_sequence FROM event_counter WHERE id = 1")
        .fetch_one(&mut conn)
        .await
        .context("read event_counter")?;
    sqlx::Connection::close(conn).await?;
    Ok(sequence)
}

fn service_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Waits until calendar knows user `id` (its replica followed the contacts feed).
pub async fn wait_for_user(
    client: &reqwest::Client,
    calendar: &str,
    id: &str,
    timeout: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let response =
            client.get(format!("{calendar}/users/{id}")).header("accept", "application/json").send().await?;
        if response.status() == reqwest::StatusCode::OK {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("user {id} did not reach calendar within {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Adds `count` one-hour events to a user's calendar through the API.
pub async fn calendar_events(
    client: &reqwest::Client,
    calendar: &str,
    user: &str,
    count: usize,
) -> anyhow::Result<()> {
    futures_util::stream::iter(0..count)
        .map(|i| async move {
            let day = 1 + (i % 28);
            let month = 1 + (i / 28) % 12;
            let body = json!({
                "title": format!("Meeting {i}"),
                "start": format!("2027-{month:02}-{day:02}T{:02}:00:00Z", 8 + i % 9),
                "end": format!("2027-{month:02}-{day:02}T{:02}:00:00Z", 9 + i % 9),
                "description": "Agenda: what was done, what comes next, and who does it.",
                "location": "Room 4, second floor",
            });
            let response = client.post(format!("{calendar}/calendar/{user}")).json(&body).send().await?;
            anyhow::ensure!(
                response.status() == reqwest::StatusCode::CREATED,
                "POST /calendar/{user} answered {}",
                response.status()
            );
            anyhow::Ok(())
        })
        .buffer_unordered(8)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(())
}
