//! Several replicas of each service on one PostgreSQL database (how the design scales out):
//! two contacts processes keep one gap-free, ordered feed while both take writes; two
//! notifications processes share one queue and send every job exactly once; two calendar
//! processes following the feed apply every event exactly once (and share one outbox).
//!
//! PostgreSQL only: without `TEST_DATABASE_URL` each test prints that it was skipped, and fails
//! under `CI=true` unless the run is declared a SQLite run (`TEST_BACKEND=sqlite`).

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use harness::process::ServiceProcess;
use reqwest::StatusCode;
use serde_json::{Value, json};
use system_tests::api::{all_pages, all_pages_as, all_users, text};
use system_tests::replicas::{self, calendar_env, counter_sum, notifications_env};
use system_tests::settle::{calendar_checkpoint, feed_head, feed_page};
use system_tests::{PATIENCE, build_services};
use test_support::smtp::SmtpServer;
use test_support::{TempDir, TestDb, wait_until};

fn postgres_or_skip(test: &str) -> bool {
    TestDb::postgres_only(test)
}

/// A consumer of one replica's feed that checks, on every read, that the history it has seen
/// never changes and that new events continue it without a gap.
struct FeedReader<'a> {
    http: &'a reqwest::Client,
    replica: &'a ServiceProcess,
    /// sequence → event id, as first seen.
    seen: BTreeMap<i64, String>,
    reads: usize,
}

impl<'a> FeedReader<'a> {
    fn new(http: &'a reqwest::Client, replica: &'a ServiceProcess) -> Self {
        Self { http, replica, seen: BTreeMap::new(), reads: 0 }
    }

    fn head(&self) -> i64 {
        self.seen.keys().next_back().copied().unwrap_or(0)
    }

    /// Reads the subscription document and as many archives back as it takes to reach what was
    /// seen before, and checks what it found.
    async fn read(&mut self) {
        let mut url = Some(self.replica.url("feed"));
        let mut found: Vec<(i64, String)> = Vec::new();
        while let Some(current) = url {
            let page = feed_page(self.http, &current).await.unwrap();
            // An empty document (its events just moved into a full archive) reaches nothing:
            // the archive before it is read too.
            let reaches = page.min_sequence().is_some_and(|min| min <= self.head() + 1);
            found.extend(page.events.iter().cloned());
            url = if reaches { None } else { page.prev_archive.clone() };
        }
        found.sort();
        self.reads += 1;
        for (sequence, id) in found {
            match self.seen.get(&sequence) {
                Some(earlier) => assert_eq!(
                    earlier,
                    &id,
                    "{} rewrote history: sequence {sequence} was {earlier}, now {id}",
                    self.replica.name()
                ),
                None => {
                    assert_eq!(
                        sequence,
                        self.head() + 1,
                        "{} skipped ahead: after {} it shows {sequence} (a gap)",
                        self.replica.name(),
                        self.head()
                    );
                    self.seen.insert(sequence, id);
                }
            }
        }
    }
}

/// Reads `replica`'s feed while the writers run, then until it shows every accepted write.
async fn follow<'a>(
    http: &'a reqwest::Client,
    replica: &'a ServiceProcess,
    writing: &AtomicBool,
    accepted: &AtomicUsize,
) -> FeedReader<'a> {
    let mut reader = FeedReader::new(http, replica);
    let started = Instant::now();
    while writing.load(Ordering::SeqCst) || reader.head() < accepted.load(Ordering::SeqCst) as i64 {
        assert!(
            started.elapsed() < PATIENCE,
            "the feed of {} (port {}) stays at {} of {} accepted writes",
            replica.name(),
            replica.port,
            reader.head(),
            accepted.load(Ordering::SeqCst)
        );
        reader.read().await;
        // A consumer's polling pace, not a wait for anything.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    reader
}

#[tokio::test]
async fn two_contacts_replicas_on_one_database_publish_one_gap_free_ordered_feed() {
    if !postgres_or_skip("two_contacts_replicas_on_one_database_publish_one_gap_free_ordered_feed") {
        return;
    }
    build_services().await;
    let workdir = TempDir::new("replicas");
    let db = TestDb::new().await;
    let env = [("DATABASE_URL", db.url.clone())];
    let a = replicas::start("contacts", workdir.path(), &env).await;
    let b = replicas::start("contacts", workdir.path(), &env).await;
    let http = test_support::http_client();

    // Writers spread creates and updates over both replicas, four at a time, while a reader on
    // each replica follows its feed.
    const WRITES: usize = 480;
    let next = AtomicUsize::new(0);
    let accepted = AtomicUsize::new(0);
    let writing = AtomicBool::new(true);
    let replicas = [&a, &b];
    let writers = async {
        join_all((0..4).map(|_| async {
            loop {
                let n = next.fetch_add(1, Ordering::SeqCst);
                if n >= WRITES {
                    break;
                }
                let replica = replicas[n % 2];
                let response = http
                    .post(replica.url("contacts"))
                    .json(&json!({"firstname": format!("R{n}"), "lastname": "Replica", "email": format!("r{n}@example.org")}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), StatusCode::CREATED);
                let id = text(&test_support::json_body(response).await, "id");
                accepted.fetch_add(1, Ordering::SeqCst);
                if n.is_multiple_of(3) {
                    // The update goes to the other replica.
                    let other = replicas[(n + 1) % 2];
                    let response = http
                        .put(other.url(&format!("contacts/{id}")))
                        .json(&json!({"lastname": format!("Changed{n}")}))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(response.status(), StatusCode::OK);
                    accepted.fetch_add(1, Ordering::SeqCst);
                }
            }
        }))
        .await;
        writing.store(false, Ordering::SeqCst);
    };
    let ((), reader_a, reader_b) =
        tokio::join!(writers, follow(&http, &a, &writing, &accepted), follow(&http, &b, &writing, &accepted));
    let events = accepted.load(Ordering::SeqCst) as i64;
    eprintln!("{events} writes; reader on A read {} times, on B {} times", reader_a.reads, reader_b.reads);
    assert_eq!(reader_a.head(), events, "one event per accepted write, numbered 1..{events}");
    assert_eq!(reader_a.seen, reader_b.seen, "both replicas publish the same feed");
    assert_eq!(feed_head(&http, &a).await.unwrap(), events);
    assert_eq!(feed_head(&http, &b).await.unwrap(), events);
    let ids: BTreeSet<&String> = reader_a.seen.values().collect();
    assert_eq!(ids.len() as i64, events, "every event has its own id");
}

#[tokio::test]
async fn two_notifications_replicas_share_one_queue_and_send_every_job_once() {
    if !postgres_or_skip("two_notifications_replicas_share_one_queue_and_send_every_job_once") {
        return;
    }
    build_services().await;
    let workdir = TempDir::new("replicas");
    let db = TestDb::new().await;
    let smtp = SmtpServer::start().await;
    let token = harness::generate_token();
    let env = notifications_env(&db.url, &token, &smtp.url());
    let one = replicas::start("notifications", workdir.path(), &env).await;
    let two = replicas::start("notifications", workdir.path(), &env).await;
    let http = test_support::http_client();

    const JOBS: usize = 120;
    let next = AtomicUsize::new(0);
    let posted = Mutex::new(Vec::new());
    join_all((0..4).map(|_| async {
        loop {
            let n = next.fetch_add(1, Ordering::SeqCst);
            if n >= JOBS {
                break;
            }
            let replica = if n.is_multiple_of(2) { &one } else { &two };
            let response = http
                .post(replica.url("notifications"))
                .bearer_auth(&token)
                .header("idempotency-key", format!("job-{n}"))
                .json(&json!({"email": format!("reader{n}@example.org"), "subject": format!("Job {n}"), "message": "Hi"}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::ACCEPTED);
            let job = test_support::json_body(response).await;
            posted.lock().unwrap().push(job);
        }
    }))
    .await;

    let jobs: Vec<Value> = wait_until("every job sent", PATIENCE, || async {
        let jobs = all_pages_as(&http, &one.url("notifications?limit=200"), Some(&token)).await;
        (jobs.len() == JOBS && jobs.iter().all(|j| j["status"] == "sent")).then_some(jobs)
    })
    .await;
    let messages = smtp.messages();
    let by_id: BTreeMap<String, usize> = messages.iter().fold(BTreeMap::new(), |mut m, msg| {
        *m.entry(msg.message_id().unwrap()).or_default() += 1;
        m
    });
    for job in &jobs {
        let id = job["message_id"].as_str().unwrap().trim_matches(['<', '>']);
        assert_eq!(by_id.get(id), Some(&1), "job {} reached the SMTP server exactly once", job["id"]);
    }
    assert_eq!(messages.len(), JOBS, "no message was sent twice");
    let sent_by = |replica: &ServiceProcess| {
        let http = &http;
        let url = replica.url("metrics");
        async move {
            counter_sum(
                &http.get(url).send().await.unwrap().text().await.unwrap(),
                "notifications_sent_total",
            )
        }
    };
    let (sent_one, sent_two) = (sent_by(&one).await, sent_by(&two).await);
    eprintln!("replica one sent {sent_one}, replica two sent {sent_two}");
    assert_eq!(sent_one + sent_two, JOBS as f64, "each job was sent by one replica only");
    assert_eq!(posted.into_inner().unwrap().len(), JOBS);
}

#[tokio::test]
async fn two_calendar_replicas_following_one_feed_apply_every_event_once() {
    if !postgres_or_skip("two_calendar_replicas_following_one_feed_apply_every_event_once") {
        return;
    }
    build_services().await;
    let workdir = TempDir::new("replicas");
    let (contacts_db, calendar_db, notifications_db) =
        (TestDb::new().await, TestDb::new().await, TestDb::new().await);
    let smtp = SmtpServer::start().await;
    let token = harness::generate_token();
    let contacts =
        replicas::start("contacts", workdir.path(), &[("DATABASE_URL", contacts_db.url.clone())]).await;
    let notifications = replicas::start(
        "notifications",
        workdir.path(),
        &notifications_env(&notifications_db.url, &token, &smtp.url()),
    )
    .await;
    let env = calendar_env(&calendar_db.url, &contacts.url("feed"), Some((&notifications.url(""), &token)));
    let one = replicas::start("calendar", workdir.path(), &env).await;
    let two = replicas::start("calendar", workdir.path(), &env).await;
    let http = test_support::http_client();

    // 60 contacts created, every third changed, every sixth deleted: 90 events.
    let mut ids = Vec::new();
    for n in 0..60 {
        let response = http
            .post(contacts.url("contacts"))
            .json(&json!({"firstname": format!("P{n}"), "lastname": "Person", "email": format!("p{n}@example.org")}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        ids.push(text(&test_support::json_body(response).await, "id"));
    }
    for (n, id) in ids.iter().enumerate() {
        if n % 3 == 1 {
            let response = http
                .put(contacts.url(&format!("contacts/{id}")))
                .json(&json!({"email": format!("changed{n}@example.org")}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
        }
        if n % 6 == 5 {
            let response = http.delete(contacts.url(&format!("contacts/{id}"))).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::NO_CONTENT);
        }
    }
    let events = feed_head(&http, &contacts).await.unwrap();
    assert_eq!(events, 90);
    wait_until("the shared checkpoint to reach the feed head", PATIENCE, || async {
        (calendar_checkpoint(&one).await.ok()? == events).then_some(())
    })
    .await;
    let mut expected: Vec<(String, String)> = all_pages(&http, &contacts.url("contacts?limit=200"))
        .await
        .iter()
        .map(|c| (text(c, "id"), text(c, "email")))
        .collect();
    expected.sort();
    for calendar in [&one, &two] {
        let mut users: Vec<(String, String)> =
            all_users(&http, calendar).await.into_iter().map(|u| (u.id, u.email)).collect();
        users.sort();
        assert_eq!(users, expected, "{} serves the replica contacts hold", calendar.name());
    }
    let processed = |calendar: &ServiceProcess| {
        let http = &http;
        let url = calendar.url("metrics");
        async move {
            counter_sum(
                &http.get(url).send().await.unwrap().text().await.unwrap(),
                "feed_events_processed_total",
            )
        }
    };
    let (by_one, by_two) = (processed(&one).await, processed(&two).await);
    eprintln!("calendar one applied {by_one} events, calendar two {by_two}");
    assert_eq!(by_one + by_two, events as f64, "each event was applied by one replica only");

    // Both replicas drain one outbox: invitations made through either arrive once each.
    let owner = &ids[0];
    let mut invited = 0;
    for (i, calendar) in [&one, &two].iter().enumerate() {
        let response = http
            .post(calendar.url(&format!("calendar/{owner}")))
            .json(&json!({"title": format!("Replica meeting {i}"), "date": "2027-03-01"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let event = text(&test_support::json_body(response).await, "id");
        let guests: Vec<&String> = expected
            .iter()
            .filter(|(id, _)| id != owner)
            .skip(i * 10)
            .take(10)
            .map(|(_, email)| email)
            .collect();
        let response = http
            .post(calendar.url(&format!("event/{event}/participants")))
            .json(&guests)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        invited += guests.len();
    }
    wait_until("both outboxes (one table) drained", PATIENCE, || async {
        let jobs = all_pages_as(&http, &notifications.url("notifications?limit=200"), Some(&token)).await;
        (jobs.len() == invited && jobs.iter().all(|j| j["status"] == "sent")).then_some(())
    })
    .await;
    assert_eq!(smtp.messages().len(), invited, "one e-mail per invitation, none twice");
}
