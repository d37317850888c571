//! The scenarios of issue 7, in the order they run. Each group starts its own services with
//! fresh databases and stops them, so one group's data or background work cannot disturb the
//! next. A group that fails is noted in the report and the others still run.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::{StreamExt, TryStreamExt};
use harness::process::ServiceSpec;
use serde_json::json;
use test_support::smtp::{ReceivedMessage, SmtpServer};

use super::mail::ClientRun;
use super::report::{Delivery, HttpRow, MemoryRow, Propagation, StartupRow};
use super::seed;
use super::setup::{Bench, Start};
use super::wrk::{self, Script};

const STOP_GRACE: Duration = Duration::from_secs(40);
/// Contacts created before the read scenarios.
const SEED_CONTACTS: usize = 1000;
/// Let a freshly started (or just loaded) process settle before reading its memory.
const SETTLE: Duration = Duration::from_secs(2);

pub async fn all(b: &mut Bench) -> anyhow::Result<()> {
    let ceiling = measure_ceiling(b, "ceiling").await.context("the bare axum ceiling")?;
    let mut failed = Vec::new();
    macro_rules! group {
        ($name:literal, $cond:expr, $run:expr) => {
            if $cond {
                eprintln!("bench: --- {} ---", $name);
                if let Err(e) = $run.await {
                    b.note(format!("{} failed: {e:#}", $name));
                    failed.push($name);
                }
            }
        };
    }
    let o = b.options.clone();
    group!(
        "contacts on SQLite (1-4)",
        [1, 2, 3, 4, 9].iter().any(|&s| o.runs(s)),
        contacts_sqlite(b, ceiling)
    );
    group!("archive pages (5)", o.runs(5), archive(b, ceiling));
    group!("calendar (6, 7)", o.runs(6) || o.runs(7), calendar(b, ceiling));
    group!("notifications (8)", o.runs(8) || o.runs(9), notifications(b));
    group!("start-up (10)", o.runs(10), startup(b));
    group!("PostgreSQL (11)", o.runs(11), postgres(b, ceiling));
    // The ceiling once more at the end: other people's work on the machine only ever lowers a
    // figure, so the ratios use the higher of the two.
    if let Err(e) = measure_ceiling(b, "ceiling (end)").await {
        b.note(format!("the second ceiling measurement failed: {e:#}"));
    }
    b.report.rebase_ratios();
    b.report.evaluate_targets();
    if failed.is_empty() { Ok(()) } else { bail!("scenario groups failed: {}", failed.join(", ")) }
}

/// One HTTP scenario: its number, the request, what is behind it, and whether it is a read
/// (reads are compared with the ceiling).
struct Row<'a> {
    id: &'a str,
    name: &'a str,
    setup: &'a str,
    read: bool,
}

/// Measures a GET/POST scenario against the server at `base` (process ids `pids`) and adds its
/// row.
async fn http_row(
    b: &mut Bench,
    row: Row<'_>,
    script: &Script,
    (base, pids): (&str, &[u32]),
    ceiling: Option<f64>,
) -> anyhow::Result<f64> {
    eprintln!("bench: [{}] {} ({})", row.id, row.name, row.setup);
    let measured = wrk::measure(&b.shape, script, base, pids, &b.dir).await?;
    record(b, row, measured, ceiling)
}

/// Checks a measured scenario for errors and adds its row.
fn record(b: &mut Bench, row: Row<'_>, measured: wrk::Measured, ceiling: Option<f64>) -> anyhow::Result<f64> {
    let Row { id, name, setup, read } = row;
    let median = measured.median().clone();
    for (i, run) in measured.runs.iter().enumerate() {
        anyhow::ensure!(run.errors.total() == 0, "[{id}] run {i} had errors: {:?}", run.errors);
    }
    eprintln!(
        "bench: [{id}] {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms (runs: {:?})",
        median.requests_per_s,
        median.latency_ms.p50,
        median.latency_ms.p99,
        measured.all_rps().iter().map(|r| r.round()).collect::<Vec<_>>()
    );
    let ratio = if read { ceiling.map(|c| median.requests_per_s / c) } else { None };
    b.report.http.push(HttpRow {
        scenario: id.to_string(),
        name: name.to_string(),
        setup: setup.to_string(),
        read,
        measured,
        ratio_to_ceiling: ratio,
    });
    Ok(median.requests_per_s)
}

/// Checks one request's status before loading an endpoint with it (wrk counts only non-2xx/3xx
/// as errors, so a wrong but successful answer would otherwise go unnoticed).
async fn preflight(request: reqwest::RequestBuilder, status: u16, what: &str) -> anyhow::Result<String> {
    let response = request.send().await.with_context(|| format!("preflight {what}"))?;
    let got = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    anyhow::ensure!(got == status, "preflight {what}: expected {status}, got {got}: {body:.300}");
    Ok(body)
}

async fn measure_ceiling(b: &mut Bench, id: &str) -> anyhow::Result<Option<f64>> {
    let first = id == "ceiling";
    let launch = b.launch("hello", &b.bin.hello.clone());
    if first {
        b.command(format!("# ceiling (measured first and again last)\n{}", launch.describe()));
    }
    let mut hello = launch.start().await?;
    tokio::time::sleep(SETTLE).await;
    let idle = hello.rss_kib().unwrap_or(0);
    let script = Script::paths("hello", &["/".into()], &[]);
    preflight(b.client.get(hello.url("/")), 200, "GET / on hello").await?;
    let rps = http_row(
        b,
        Row { id, name: "GET / (bare axum hello)", setup: "no middleware, no logging", read: true },
        &script,
        (&hello.base(), &[hello.pid().unwrap_or(0)]),
        None,
    )
    .await?;
    if let Some(run) = b.report.http.last().map(|r| r.measured.median().clone()) {
        let (server, load) = (run.cpu.server_s / run.seconds, run.cpu.load_s / run.seconds);
        if first && b.server_cpus().is_some() && load >= 0.9 {
            b.note(format!(
                "the ceiling: the hello server used {server:.2} of its core and wrk {load:.2} of its own, so the ceiling is \
                 as much the one-core load generator's limit as the server's (wrk needs about as much CPU per request \
                 as the bare server)"
            ));
        }
    }
    if first {
        b.report.memory.push(MemoryRow::new(
            "hello (bare axum)",
            idle,
            Some(hello.rss_kib().unwrap_or(0)),
            "after its load",
        ));
    }
    hello.stop(STOP_GRACE).await?;
    Ok(Some(rps))
}

/// Scenarios 1-4 on one contacts instance with SQLite, plus the reference row for the shared
/// middleware alone (`/health/live`).
async fn contacts_sqlite(b: &mut Bench, ceiling: Option<f64>) -> anyhow::Result<()> {
    let db = b.sqlite_url("contacts");
    let launch = b.launch("contacts", &b.bin.contacts.clone()).env("DATABASE_URL", db.clone());
    b.command(format!("# scenarios 1-4\n{}", launch.describe()));
    let mut contacts = launch.start().await?;
    let base = contacts.base();
    let pids = [contacts.pid().unwrap_or(0)];
    tokio::time::sleep(SETTLE).await;
    let idle = contacts.rss_kib().unwrap_or(0);
    let client = b.client.clone();
    let ids = seed::contacts(&client, &base, "seed", SEED_CONTACTS).await?;
    let mut current_etag = None;

    if b.options.runs(1) {
        let paths: Vec<String> = ids.iter().map(|id| format!("/contacts/{id}")).collect();
        let script = Script::paths("get-contact", &paths, &["Accept: application/json"]);
        preflight(
            client.get(contacts.url(&paths[0])).header("accept", "application/json"),
            200,
            "GET /contacts/{id}",
        )
        .await?;
        let setup = format!("JSON, a random one of {SEED_CONTACTS} contacts, SQLite");
        http_row(
            b,
            Row { id: "1", name: "GET /contacts/{id}", setup: &setup, read: true },
            &script,
            (&base, &pids),
            ceiling,
        )
        .await?;
    }
    if b.options.runs(2) {
        let (_, before) = seed::feed_sequence(&client, &base).await?;
        let script = Script::custom("post-contact", wrk::POST_CONTACTS_LUA, &[]);
        let setup = "a new contact per request: event + read model in one transaction, SQLite WAL, synchronous=NORMAL";
        http_row(
            b,
            Row { id: "2", name: "POST /contacts", setup, read: false },
            &script,
            (&base, &pids),
            ceiling,
        )
        .await?;
        let (_, after) = seed::feed_sequence(&client, &base).await?;
        let counted: u64 =
            b.report.http.last().map(|r| r.measured.runs.iter().map(|r| r.requests).sum()).unwrap_or(0);
        // wrk does not count requests still in flight when it stops, so the log may hold more.
        anyhow::ensure!(
            (after - before) as u64 >= counted,
            "the feed grew by {} events but wrk counted {counted} created contacts",
            after - before
        );
        // When wrk stops it hangs up on requests in flight. Does the feed announce every event
        // that was committed?
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (_, announced) = seed::feed_sequence(&client, &base).await?;
        let stored = seed::stored_sequence(&db).await?;
        if stored != announced {
            b.note(format!(
                "finding: after wrk hung up on its POST /contacts connections, contacts' feed announced sequence \
                 {announced} while its database held {stored}: a write whose client went away during its commit was \
                 committed but the in-process feed head was not advanced (the request's future was dropped between \
                 the commit and the advance), so the feed, its long polls and the contact cache lag until the next write"
            ));
        }
    }
    if b.options.runs(3) || b.options.runs(4) {
        // The subscription document always holds the newest FEED_PAGE_SIZE (20) events, so
        // with the contacts written above it is full.
        // One write first: its commit brings the announced head up to the database's (see
        // the finding above), so the count below starts from the truth.
        seed::contacts(&client, &base, "sync", 1).await?;
        let body = preflight(client.get(contacts.url("/feed")), 200, "GET /feed").await?;
        let entries = body.matches("<entry>").count();
        anyhow::ensure!(entries == 20, "the feed document holds {entries} entries, expected 20");
        let (etag, sequence) = seed::feed_sequence(&client, &base).await?;
        current_etag = Some(etag.clone());
        let feed = Script::paths("feed", &["/feed".into()], &[]);
        let setup = format!("Atom, {entries} entries ({} bytes), {sequence} events in the log", body.len());
        if b.options.runs(3) {
            http_row(
                b,
                Row { id: "3", name: "GET /feed", setup: &setup, read: true },
                &feed,
                (&base, &pids),
                ceiling,
            )
            .await?;
        }
        if b.options.runs(4) {
            let header = format!("If-None-Match: {etag}");
            let script = Script::paths("feed-304", &["/feed".into()], &[&header]);
            preflight(client.get(contacts.url("/feed")).header("if-none-match", &etag), 304, "GET /feed 304")
                .await?;
            http_row(
                b,
                Row {
                    id: "4",
                    name: "GET /feed → 304",
                    setup: "If-None-Match with the current ETag",
                    read: true,
                },
                &script,
                (&base, &pids),
                ceiling,
            )
            .await?;
        }
    }
    tokio::time::sleep(SETTLE).await;
    b.report.memory.push(MemoryRow::new(
        "contacts",
        idle,
        Some(contacts.rss_kib().unwrap_or(0)),
        "after scenarios 1-4",
    ));
    contacts.stop(STOP_GRACE).await?;

    // The same reads with the per-request log line switched off, to show what it costs.
    if !(b.options.runs(1) || b.options.runs(4)) {
        return Ok(());
    }
    let quiet =
        b.launch("contacts-quiet", &b.bin.contacts.clone()).env("DATABASE_URL", db).env("RUST_LOG", "warn");
    b.command(format!(
        "# scenarios 1 and 4 again without the request log (same database)\n{}",
        quiet.describe()
    ));
    let mut contacts = quiet.start().await?;
    let base = contacts.base();
    let pids = [contacts.pid().unwrap_or(0)];
    if b.options.runs(1) {
        let paths: Vec<String> = ids.iter().map(|id| format!("/contacts/{id}")).collect();
        let script = Script::paths("get-contact", &paths, &["Accept: application/json"]);
        let row = Row {
            id: "1 (no log)",
            name: "GET /contacts/{id}",
            setup: "as 1 with RUST_LOG=warn: no request log line (a reference, not how it ships)",
            read: true,
        };
        http_row(b, row, &script, (&base, &pids), ceiling).await?;
    }
    if let Some(etag) = current_etag.filter(|_| b.options.runs(4)) {
        let header = format!("If-None-Match: {etag}");
        let script = Script::paths("feed-304", &["/feed".into()], &[&header]);
        preflight(client.get(contacts.url("/feed")).header("if-none-match", &etag), 304, "GET /feed 304")
            .await?;
        let row = Row {
            id: "4 (no log)",
            name: "GET /feed → 304",
            setup: "as 4 with RUST_LOG=warn: no request log line (a reference, not how it ships)",
            read: true,
        };
        http_row(b, row, &script, (&base, &pids), ceiling).await?;
    }
    contacts.stop(STOP_GRACE).await?;
    Ok(())
}

/// Scenario 5: archive pages near the start and near the end of a feed of `--events` events.
async fn archive(b: &mut Bench, ceiling: Option<f64>) -> anyhow::Result<()> {
    let events = b.options.events;
    let db = b.sqlite_url("contacts-archive");
    let launch = b.launch("contacts-archive", &b.bin.contacts.clone()).env("DATABASE_URL", db.clone());
    b.command(format!(
        "# scenario 5 ({events} events written with SQL into the schema the service created)\n{}",
        launch.describe()
    ));
    // The service creates its schema; then the events go in while it is stopped.
    launch.start().await?.stop(STOP_GRACE).await?;
    let took = seed::million_events(&db, events).await?;
    b.note(format!(
        "scenario 5: {events} events and contacts written into SQLite in {:.1} s",
        took.as_secs_f64()
    ));
    let mut contacts = launch.start().await?;
    tokio::time::sleep(SETTLE).await;
    let idle = contacts.rss_kib().unwrap_or(0);
    if let Some(ready) = contacts.started_to_ready {
        b.note(format!(
            "scenario 5: contacts with {events} events was ready {:.0} ms after start",
            ready.as_secs_f64() * 1000.0
        ));
    }
    let base = contacts.base();
    let pids = [contacts.pid().unwrap_or(0)];
    let pages = events / 20;
    let window = 10_000.min(pages / 4);
    for page in [1, pages] {
        let body = preflight(
            b.client.get(contacts.url(&format!("/feed/archive/{page}"))),
            200,
            "GET /feed/archive/{n}",
        )
        .await?;
        let entries = body.matches("<entry>").count();
        anyhow::ensure!(entries == 20, "archive page {page} holds {entries} entries");
    }
    let windows = [("5 (first pages)", 1, window), ("5 (last pages)", pages - window + 1, pages)];
    let scripts: Vec<Script> = windows
        .iter()
        .map(|(_, first, last)| {
            Script::custom(
                "archive",
                wrk::ARCHIVE_PAGES_LUA,
                &[("BENCH_FIRST", first.to_string()), ("BENCH_LAST", last.to_string())],
            )
        })
        .collect();
    eprintln!("bench: [5] archive pages, the first and the last {window} of {pages}, runs alternating");
    let measured = wrk::measure_interleaved(&b.shape, &scripts, &base, &pids, &b.dir).await?;
    for ((label, first, last), measured) in windows.into_iter().zip(measured) {
        let setup = format!(
            "a random page of {first}..={last} of {pages} (mostly uncached: the service keeps 256 rendered pages), \
             20 entries each; runs alternate with the other window"
        );
        let row = Row { id: label, name: "GET /feed/archive/{n}", setup: &setup, read: true };
        record(b, row, measured, ceiling)?;
    }
    tokio::time::sleep(SETTLE).await;
    b.report.memory.push(MemoryRow::new(
        &format!("contacts ({events} events)"),
        idle,
        Some(contacts.rss_kib().unwrap_or(0)),
        "after scenario 5",
    ));
    contacts.stop(STOP_GRACE).await?;
    Ok(())
}

/// Scenarios 7 (propagation) and 6 (iCalendar) with the three services wired together.
async fn calendar(b: &mut Bench, ceiling: Option<f64>) -> anyhow::Result<()> {
    let token = harness::generate_token();
    let contacts_db = b.sqlite_url("contacts-c");
    let contacts = b.launch("contacts-c", &b.bin.contacts.clone()).env("DATABASE_URL", contacts_db);
    let contacts_cmd = contacts.describe();
    let mut contacts = contacts.start().await?;
    let notifications_db = b.sqlite_url("notifications-c");
    let notifications = b
        .launch("notifications-c", &b.bin.notifications.clone())
        .env("DATABASE_URL", notifications_db)
        .env("API_TOKENS", token.clone())
        .env("ADMIN_PASSWORD", "bench-password");
    let notifications_cmd = notifications.describe();
    let mut notifications = notifications.start().await?;
    let calendar_db = b.sqlite_url("calendar");
    let calendar = b
        .launch("calendar", &b.bin.calendar.clone())
        .env("DATABASE_URL", calendar_db)
        .env("CONTACTS_FEED", contacts.url("/feed"))
        .env("NOTIFICATION_SERVICE", notifications.base())
        .env("NOTIFICATION_TOKEN", token);
    b.command(format!("# scenarios 6 and 7\n{contacts_cmd}\n{notifications_cmd}\n{}", calendar.describe()));
    let mut calendar = calendar.start().await?;
    tokio::time::sleep(SETTLE).await;
    let idle = calendar.rss_kib().unwrap_or(0);
    let client = b.client.clone();

    if b.options.runs(7) {
        eprintln!("bench: [7] propagation, 200 contacts");
        let poller = seed::client()?;
        let samples = 200;
        let mut delays = Vec::new();
        let mut posts = Vec::new();
        let mut polls = 0u64;
        // The first contact also waits for the follower's first poll: not counted.
        for i in 0..=samples {
            let started = Instant::now();
            let id = seed::create_contact(
                &client,
                &contacts.base(),
                "Prop",
                &format!("Agation {i}"),
                &format!("prop-{i}@example.org"),
            )
            .await?;
            let posted = started.elapsed();
            loop {
                polls += 1;
                let response = poller
                    .get(calendar.url(&format!("/users/{id}")))
                    .header("accept", "application/json")
                    .send()
                    .await?;
                if response.status() == reqwest::StatusCode::OK {
                    break;
                }
                anyhow::ensure!(
                    started.elapsed() < Duration::from_secs(30),
                    "contact {i} never reached calendar"
                );
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            if i > 0 {
                delays.push(started.elapsed());
                posts.push(posted);
            }
        }
        let propagation = Propagation::new(&delays, &posts, polls);
        eprintln!("bench: [7] p50 {:.2} ms, p99 {:.2} ms", propagation.p50_ms, propagation.p99_ms);
        b.report.propagation = Some(propagation);
    }

    if b.options.runs(6) {
        let owner =
            seed::create_contact(&client, &contacts.base(), "Ical", "Owner", "ical-owner@example.org")
                .await?;
        seed::wait_for_user(&client, &calendar.base(), &owner, Duration::from_secs(30)).await?;
        seed::calendar_events(&client, &calendar.base(), &owner, 100).await?;
        let path = format!("/calendar/{owner}");
        let body = preflight(
            client.get(calendar.url(&path)).header("accept", "text/calendar"),
            200,
            "GET /calendar/{id}",
        )
        .await?;
        let events = body.matches("BEGIN:VEVENT").count();
        anyhow::ensure!(events == 100, "the calendar holds {events} events, expected 100");
        let script = Script::paths("ics", &[path], &["Accept: text/calendar"]);
        let setup = format!("iCalendar, 100 events ({} bytes), SQLite", body.len());
        http_row(
            b,
            Row { id: "6", name: "GET /calendar/{userId}", setup: &setup, read: true },
            &script,
            (&calendar.base(), &[calendar.pid().unwrap_or(0)]),
            ceiling,
        )
        .await?;
    }
    tokio::time::sleep(SETTLE).await;
    b.report.memory.push(MemoryRow::new(
        "calendar",
        idle,
        Some(calendar.rss_kib().unwrap_or(0)),
        "after scenarios 6-7",
    ));
    calendar.stop(STOP_GRACE).await?;
    notifications.stop(STOP_GRACE).await?;
    contacts.stop(STOP_GRACE).await?;
    Ok(())
}

fn notifications_launch(b: &mut Bench, name: &str, token: &str, smtp: &SmtpServer) -> ServiceSpec {
    let db = b.sqlite_url(name);
    b.launch(name, &b.bin.notifications.clone())
        .env("DATABASE_URL", db)
        .env("API_TOKENS", token)
        .env("ADMIN_PASSWORD", "bench-password")
        .env("SMTP_URL", smtp.url())
        // The abuse limits (1,000 jobs an hour by default) would refuse the load itself.
        .env("QUOTA_JOBS_PER_HOUR", u32::MAX.to_string())
        .env("QUOTA_RECIPIENTS_PER_HOUR", u32::MAX.to_string())
}

/// Scenario 8: jobs accepted per second, e-mails delivered per second, and the SMTP server's own
/// capacity.
async fn notifications(b: &mut Bench) -> anyhow::Result<()> {
    let token = harness::generate_token();
    let sink = SmtpServer::start().await;
    let launch = notifications_launch(b, "notifications", &token, &sink);
    b.command(format!(
        "# scenario 8, jobs accepted (the worker sends to an SMTP server in the harness meanwhile)\n{}",
        launch.describe()
    ));
    let mut service = launch.start().await?;
    tokio::time::sleep(SETTLE).await;
    let idle = service.rss_kib().unwrap_or(0);
    preflight(
        b.client
            .post(service.url("/notifications"))
            .bearer_auth(&token)
            .header("idempotency-key", "bench-preflight")
            .json(&json!({"email": "preflight@example.org", "message": "preflight"})),
        202,
        "POST /notifications",
    )
    .await?;
    let script = Script::custom(
        "post-notification",
        wrk::POST_NOTIFICATIONS_LUA,
        &[("BENCH_TOKEN", wrk::lua_string(&token))],
    );
    let setup =
        "a new job per request (bearer token, unique Idempotency-Key), SQLite; delivery runs meanwhile";
    http_row(
        b,
        Row { id: "8", name: "POST /notifications", setup, read: false },
        &script,
        (&service.base(), &[service.pid().unwrap_or(0)]),
        None,
    )
    .await?;
    tokio::time::sleep(SETTLE).await;
    b.report.memory.push(MemoryRow::new(
        "notifications",
        idle,
        Some(service.rss_kib().unwrap_or(0)),
        "after scenario 8's jobs (still sending)",
    ));
    service.stop(STOP_GRACE).await?;
    drop(sink);

    let (jobs_default, jobs_wide) = if b.options.quick { (200, 1000) } else { (1000, 5000) };
    for (concurrency, jobs) in [(4usize, jobs_default), (64, jobs_wide)] {
        let delivery = deliver(b, &token, concurrency, jobs).await?;
        eprintln!("bench: [8] SMTP_MAX_CONCURRENCY={concurrency}: {:.0} e-mails/s", delivery.emails_per_s);
        b.report.deliveries.push(delivery);
    }

    let seconds = if b.options.quick { 2 } else { 3 };
    for (client, connections) in [("raw", 4usize), ("raw", 64), ("lettre", 4), ("lettre", 64)] {
        let run = smtp_capacity(b, client, connections, seconds).await?;
        eprintln!(
            "bench: [8] SMTP server with {client} client × {connections}: {:.0} messages/s",
            run.messages_per_s
        );
        b.report.smtp_capacity.push(run);
    }
    Ok(())
}

/// Posts `jobs` jobs to a fresh notifications and times until the SMTP server has them all.
async fn deliver(b: &mut Bench, token: &str, concurrency: usize, jobs: usize) -> anyhow::Result<Delivery> {
    let sink = SmtpServer::start().await;
    let launch = notifications_launch(b, &format!("notifications-{concurrency}"), token, &sink)
        .env("SMTP_MAX_CONCURRENCY", concurrency.to_string());
    b.command(format!("# scenario 8, delivery of {jobs} jobs\n{}", launch.describe()));
    let mut service = launch.start().await?;
    let url = service.url("/notifications");
    let started = Instant::now();
    let client = b.client.clone();
    futures_util::stream::iter(0..jobs)
        .map(|i| {
            let request =
                client.post(&url).bearer_auth(token).header("idempotency-key", format!("delivery-{i}")).json(
                    &json!({
                        "email": format!("person{i}@example.org"),
                        "subject": format!("Invitation {i}"),
                        "message": "You are invited to the meeting on Monday at 10:00.\nSee you there!",
                    }),
                );
            async move {
                let status = request.send().await?.status();
                anyhow::ensure!(
                    status == reqwest::StatusCode::ACCEPTED,
                    "POST /notifications answered {status}"
                );
                anyhow::Ok(())
            }
        })
        .buffer_unordered(32)
        .try_collect::<Vec<()>>()
        .await?;
    let posted = started.elapsed();
    let deadline = started + Duration::from_secs(300);
    while sink.stats().transactions_completed < jobs {
        if Instant::now() > deadline {
            bail!("only {} of {jobs} e-mails arrived within 300 s", sink.stats().transactions_completed);
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let elapsed = started.elapsed();
    service.stop(STOP_GRACE).await?;
    exactly_once_per_recipient(&sink.messages(), jobs)?;
    Ok(Delivery {
        smtp_max_concurrency: concurrency,
        jobs,
        post_seconds: posted.as_secs_f64(),
        seconds: elapsed.as_secs_f64(),
        emails_per_s: jobs as f64 / elapsed.as_secs_f64(),
    })
}

/// Checks that job `i`'s recipient `person{i}@example.org` got exactly one message, the one with
/// subject `Invitation {i}`, and that nobody else got any.
fn exactly_once_per_recipient(messages: &[ReceivedMessage], jobs: usize) -> anyhow::Result<()> {
    let mut per_recipient: BTreeMap<String, Vec<Option<String>>> = BTreeMap::new();
    for message in messages {
        for recipient in &message.rcpt_to {
            per_recipient.entry(recipient.to_ascii_lowercase()).or_default().push(message.subject());
        }
    }
    for i in 0..jobs {
        let recipient = format!("person{i}@example.org");
        let subjects = per_recipient.remove(&recipient).unwrap_or_default();
        let expected = format!("Invitation {i}");
        anyhow::ensure!(
            subjects.len() == 1 && subjects[0].as_deref() == Some(expected.as_str()),
            "{recipient} got {} message(s) with subjects {subjects:?}, not exactly one \"{expected}\"",
            subjects.len()
        );
    }
    if let Some((stranger, subjects)) = per_recipient.first_key_value() {
        bail!("{stranger}, who had no job, got {} message(s)", subjects.len());
    }
    Ok(())
}

/// The SMTP server alone, driven by `drivers bench-smtp-client` in its own process (pinned where
/// the services run).
async fn smtp_capacity(
    b: &mut Bench,
    client: &str,
    connections: usize,
    seconds: u64,
) -> anyhow::Result<ClientRun> {
    let sink = SmtpServer::start().await;
    let mut args: Vec<String> = Vec::new();
    if let Some(cpus) = b.server_cpus() {
        args.extend(["taskset".into(), "-c".into(), cpus.into()]);
    }
    args.push(harness::process::relative_to_workspace(&b.bin.drivers));
    args.extend([
        "bench-smtp-client".into(),
        "--url".into(),
        sink.url(),
        "--client".into(),
        client.into(),
        "--connections".into(),
        connections.to_string(),
        "--seconds".into(),
        seconds.to_string(),
    ]);
    b.command(format!("# scenario 8, the SMTP server alone\n{}", args.join(" ")));
    let output = tokio::process::Command::new(&args[0])
        .args(&args[1..])
        .current_dir(harness::workspace_root())
        .kill_on_drop(true)
        .output()
        .await?;
    anyhow::ensure!(
        output.status.success(),
        "bench-smtp-client failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let run: ClientRun = serde_json::from_slice(&output.stdout).context("bench-smtp-client output")?;
    let accepted = sink.stats().transactions_completed as u64;
    anyhow::ensure!(
        accepted >= run.messages,
        "the server completed {accepted} transactions, the client counted {}",
        run.messages
    );
    Ok(run)
}

/// Scenario 10: spawn to `/health/ready` answering `200`, 20 times per binary, each with a
/// fresh database.
async fn startup(b: &mut Bench) -> anyhow::Result<()> {
    let starts = 20;
    let bins = [
        ("hello (bare axum)", b.bin.hello.clone()),
        ("contacts", b.bin.contacts.clone()),
        ("calendar", b.bin.calendar.clone()),
        ("notifications", b.bin.notifications.clone()),
    ];
    for (name, binary) in bins {
        let mut samples = Vec::new();
        let mut command = String::new();
        let short = name.split(' ').next().unwrap_or(name).to_string();
        for i in 0..starts {
            let mut launch = b.launch(&format!("start-{short}"), &binary);
            if short != "hello" {
                launch = launch.env("DATABASE_URL", b.sqlite_url(&format!("start-{short}-{i}")));
            }
            launch = match short.as_str() {
                // Readiness never depends on the other services: an unreachable feed is fine.
                "calendar" => launch.env("CONTACTS_FEED", "http://127.0.0.1:9/feed"),
                "notifications" => {
                    launch.env("API_TOKENS", "bench-token-0123456789").env("ADMIN_PASSWORD", "bench-password")
                }
                _ => launch,
            };
            command = launch.describe();
            let mut service = launch.start().await?;
            samples.push(service.started_to_ready.unwrap_or_default());
            service.stop(STOP_GRACE).await?;
        }
        b.command(format!("# scenario 10: {starts} starts, each with a fresh database\n{command}"));
        let row = StartupRow::new(name, &samples);
        eprintln!("bench: [10] {name}: median {:.1} ms", row.median_ms);
        b.report.startup.push(row);
    }
    Ok(())
}

/// Scenario 11: scenarios 1 and 2 with PostgreSQL (`BENCH_DATABASE_URL`, default the local
/// cluster that `.ci/postgres.sh` starts), in a fresh schema dropped at the end.
async fn postgres(b: &mut Bench, ceiling: Option<f64>) -> anyhow::Result<()> {
    const LOCAL: &str = "postgres://services:services@127.0.0.1:5432/services_test";
    let configured = std::env::var("BENCH_DATABASE_URL").ok().filter(|u| !u.is_empty());
    let server = configured.clone().unwrap_or_else(|| LOCAL.to_string());
    if !postgres_reachable(&server).await {
        if configured.is_some() {
            bail!("BENCH_DATABASE_URL does not answer");
        }
        eprintln!("bench: starting the local PostgreSQL cluster with .ci/postgres.sh");
        let status = tokio::process::Command::new("bash")
            .args(["-c", "source .ci/postgres.sh && start_postgres"])
            .current_dir(harness::workspace_root())
            .status()
            .await?;
        if !status.success() || !postgres_reachable(&server).await {
            b.note(
                "scenario 11 skipped: no PostgreSQL (set BENCH_DATABASE_URL or run .ci/postgres.sh)"
                    .to_string(),
            );
            return Ok(());
        }
    }
    let db = test_support::TestDb::postgres(&server).await;
    let launch = b.launch("contacts-pg", &b.bin.contacts.clone()).env("DATABASE_URL", db.url.clone());
    b.command(format!(
        "# scenario 11 (fresh schema, dropped afterwards)\n{}",
        launch.describe().replace(&server, "$BENCH_DATABASE_URL")
    ));
    let mut contacts = launch.start().await?;
    let base = contacts.base();
    let pids = [contacts.pid().unwrap_or(0)];
    let ids = seed::contacts(&b.client, &base, "pg", SEED_CONTACTS).await?;
    let paths: Vec<String> = ids.iter().map(|id| format!("/contacts/{id}")).collect();
    let mut script = Script::paths("get-contact-pg", &paths, &["Accept: application/json"]);
    script.other_load_expected = true;
    let version = postgres_show(&server, "server_version").await.unwrap_or_else(|| "?".into());
    let setup = format!("as 1, PostgreSQL {version} on this machine (its CPU time counts as other)");
    http_row(
        b,
        Row { id: "11 (1)", name: "GET /contacts/{id}", setup: &setup, read: true },
        &script,
        (&base, &pids),
        ceiling,
    )
    .await?;
    let mut script = Script::custom("post-contact-pg", wrk::POST_CONTACTS_LUA, &[]);
    script.other_load_expected = true;
    let sync = postgres_show(&server, "synchronous_commit").await.unwrap_or_else(|| "?".into());
    let setup = format!("as 2, PostgreSQL {version}, synchronous_commit={sync}");
    http_row(
        b,
        Row { id: "11 (2)", name: "POST /contacts", setup: &setup, read: false },
        &script,
        (&base, &pids),
        ceiling,
    )
    .await?;
    contacts.stop(STOP_GRACE).await?;
    drop(db);
    Ok(())
}

/// A server setting (`SHOW name`).
async fn postgres_show(url: &str, name: &'static str) -> Option<String> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await.ok()?;
    let sql = match name {
        "server_version" => "SHOW server_version",
        "synchronous_commit" => "SHOW synchronous_commit",
        _ => return None,
    };
    let value: String = sqlx::query_scalar(sql).fetch_one(&mut conn).await.ok()?;
    let _ = conn.close().await;
    Some(value.split_whitespace().next().unwrap_or("").to_string())
}

async fn postgres_reachable(url: &str) -> bool {
    use sqlx::Connection;
    matches!(tokio::time::timeout(Duration::from_secs(5), sqlx::PgConnection::connect(url)).await, Ok(Ok(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(to: &str, subject: &str) -> ReceivedMessage {
        ReceivedMessage {
            helo: "client".into(),
            mail_from: "calendar@example.org".into(),
            rcpt_to: vec![to.into()],
            data: format!("Subject: {subject}\r\n\r\nbody\r\n").into_bytes(),
            tls: false,
            authenticated_as: None,
        }
    }

    #[test]
    fn one_message_per_recipient_passes_and_a_repeat_or_a_swap_with_the_right_count_fails() {
        let good =
            [message("person0@example.org", "Invitation 0"), message("person1@example.org", "Invitation 1")];
        exactly_once_per_recipient(&good, 2).unwrap();

        // As many messages as jobs, but one recipient twice and one never.
        let repeat =
            [message("person0@example.org", "Invitation 0"), message("person0@example.org", "Invitation 0")];
        let error = exactly_once_per_recipient(&repeat, 2).unwrap_err().to_string();
        assert!(error.contains("person0@example.org got 2 message(s)"), "{error}");

        let swapped =
            [message("person0@example.org", "Invitation 1"), message("person1@example.org", "Invitation 0")];
        assert!(exactly_once_per_recipient(&swapped, 2).is_err(), "each recipient gets their own message");

        let stranger =
            [message("person0@example.org", "Invitation 0"), message("someone@example.org", "Invitation 1")];
        assert!(
            exactly_once_per_recipient(&stranger, 1).unwrap_err().to_string().contains("someone@example.org")
        );
    }
}
