//! Cascading failure, the notifications side: a client keeps calling calendar's API (reads,
//! new events, invitations) while notifications is first replaced by a stand-in that accepts
//! connections but answers only after 10 s (the worse case: a slow dependency), and then
//! stopped. What is asserted is the mechanism, not a latency figure (those belong to the
//! benchmark, on release builds): no request waits for notifications. A request path that
//! called notifications would take at least `NOTIFICATION_TIMEOUT_MS` (3 s here) for an
//! invitation while the stand-in holds every call; every request of the fault phases is answered
//! in under half of that ([`NEVER_WAITED`]), a bound a debug build on a loaded machine stays far
//! below (its p99 is a few hundred milliseconds at worst). The circuit breaker for notifications
//! opens in both faults, and when notifications is back every invitation made meanwhile arrives
//! exactly once.
//!
//! calendar's breaker window is 30 s here (default 10 s), so that enough calls timing out after
//! 3 s each fall into one window for the breaker to open (its `BREAKER_MIN_CALLS` is 5); the
//! mechanism is the production one.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use system_tests::api::{Contact, text};
use system_tests::latency::Latencies;
use system_tests::prometheus::value;
use system_tests::standin::SlowServer;
use system_tests::{Mail, PATIENCE, TestSystem};
use test_support::wait_until;

/// Requests per measured phase (at least; a fault phase also lasts until the breaker opened).
/// A thousand, so that the p99 is the tenth-slowest request: a handful of requests held up by
/// other work on the machine moves it less than a dependency calendar waited for would.
const REQUESTS_PER_PHASE: usize = 1000;
/// How long the slow stand-in keeps each request waiting.
const SLOW_ANSWER: Duration = Duration::from_secs(10);
/// calendar's `NOTIFICATION_TIMEOUT_MS` in this test.
const NOTIFICATION_TIMEOUT: Duration = Duration::from_secs(3);
/// Slower than this, a request could have waited for notifications.
const NEVER_WAITED: Duration = Duration::from_millis(1500);

/// Asserts that no request of a fault phase took long enough to have waited for notifications.
fn assert_never_waited(phase: &str, latencies: &Latencies) {
    assert!(
        latencies.max() < NEVER_WAITED,
        "with notifications {phase}, a request took {:?} (p99 {:?}): calendar's API waited for it",
        latencies.max(),
        latencies.p99()
    );
}

async fn breaker(system: &TestSystem) -> Option<f64> {
    value(&system.metrics(&system.calendar).await, "circuit_breaker_state", &[("target", "notifications")])
}

/// What the client does, round after round: list users, read the owner's calendar (JSON and
/// iCalendar), create an event, invite a guest to it.
struct Client<'a> {
    system: &'a TestSystem,
    owner: &'a Contact,
    guests: &'a [Contact],
    /// Invitations answered 200: (guest e-mail, subject).
    invited: Vec<(String, String)>,
    rounds: usize,
}

impl Client<'_> {
    /// Runs rounds until at least `requests` were made and `done` holds; every answer must be a
    /// success. Returns the response times.
    async fn phase(&mut self, name: &str, requests: usize, done: impl AsyncFn() -> bool) -> Latencies {
        let mut latencies = Latencies::default();
        let started = Instant::now();
        while latencies.len() < requests || !done().await {
            assert!(
                started.elapsed() < PATIENCE,
                "phase {name} did not finish within {PATIENCE:?}: {} requests so far, p99 {:?}, slowest {:?}",
                latencies.len(),
                latencies.p99(),
                latencies.max()
            );
            self.round(&mut latencies).await;
        }
        eprintln!(
            "{name}: {} requests, p50 {:?}, p99 {:?}, max {:?}",
            latencies.len(),
            latencies.p50(),
            latencies.p99(),
            latencies.max()
        );
        latencies
    }

    async fn round(&mut self, latencies: &mut Latencies) {
        let http = &self.system.http;
        let calendar = &self.system.calendar;
        let owner = &self.owner.id;
        for path in
            ["users?limit=50".to_string(), format!("calendar/{owner}"), format!("calendar/{owner}.ics")]
        {
            let started = Instant::now();
            let response =
                http.get(calendar.url(&path)).header("accept", "application/json").send().await.unwrap();
            let status = response.status();
            response.bytes().await.unwrap();
            latencies.record(started.elapsed());
            assert_eq!(status, StatusCode::OK, "GET /{path}");
        }
        self.rounds += 1;
        let title = format!("Meeting {}", self.rounds);
        let started = Instant::now();
        let response = http
            .post(calendar.url(&format!("calendar/{owner}")))
            .json(&json!({"title": title, "date": "2027-02-01"}))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let event = test_support::json_body(response).await;
        latencies.record(started.elapsed());
        assert_eq!(status, StatusCode::CREATED, "POST /calendar/{owner}: {event}");

        let guest = &self.guests[self.rounds % self.guests.len()];
        let started = Instant::now();
        let response = self.system.invite(&text(&event, "id"), &[&guest.email], None).await;
        let status = response.status();
        response.bytes().await.unwrap();
        latencies.record(started.elapsed());
        assert_eq!(status, StatusCode::OK, "inviting {}", guest.email);
        self.invited.push((guest.email.clone(), format!("Invitation: {title}")));
    }
}

#[tokio::test]
async fn calendar_never_waits_for_notifications_and_opens_its_breaker_while_it_is_down_or_slow() {
    let mut system = TestSystem::start_with(
        Mail::Smtp,
        &[
            ("calendar", "NOTIFICATION_TIMEOUT_MS", &NOTIFICATION_TIMEOUT.as_millis().to_string()),
            ("calendar", "BREAKER_WINDOW_MS", "30000"),
            ("calendar", "OUTBOX_MAX_ATTEMPTS", "100"),
        ],
    )
    .await;
    let owner = system.create_contact("Olivia", "Owner", "olivia@example.org").await;
    let mut guests = Vec::new();
    for i in 0..5 {
        guests.push(
            system.create_contact(&format!("Guest{i}"), "Busy", &format!("guest{i}@example.org")).await,
        );
    }
    system.wait_for_users(&std::iter::once(&owner).chain(&guests).collect::<Vec<_>>()).await;

    let mut client =
        Client { system: &system, owner: &owner, guests: &guests, invited: Vec::new(), rounds: 0 };
    client.phase("baseline", REQUESTS_PER_PHASE, async || true).await;
    let before = client.invited.len();
    system.wait_until_every_invitation_is_sent(before).await;
    assert_eq!(breaker(&system).await, Some(0.0), "closed while notifications answers");

    // Fault 1: a stand-in on notifications' port that answers after 10 s. (Every invitation so
    // far is delivered, so no call falls into the moment between the stop and the stand-in.)
    let status = system.notifications.stop(Duration::from_secs(40)).await.unwrap();
    assert!(status.success(), "notifications stops cleanly");
    let slow = SlowServer::start(system.notifications.port, SLOW_ANSWER).await.unwrap();
    let mut client =
        Client { system: &system, owner: &owner, guests: &guests, invited: Vec::new(), rounds: 1000 };
    let slowed = client
        .phase("notifications slow", REQUESTS_PER_PHASE, async || breaker(&system).await == Some(1.0))
        .await;
    assert!(slow.requests() >= 1, "calendar called the slow stand-in");
    assert_never_waited("slow", &slowed);
    let mut invited = client.invited;
    slow.stop().await;

    // Back to normal: the breaker lets a probe through and closes again, and the invitations
    // made meanwhile go out, so the second fault starts from the same state as the first.
    system.notifications.restart().await.unwrap();
    wait_until("the breaker to close after notifications is back", PATIENCE, || async {
        (breaker(&system).await == Some(0.0)).then_some(())
    })
    .await;
    system.wait_until_every_invitation_is_sent(before + invited.len()).await;

    // Fault 2: notifications stopped.
    system.notifications.stop(Duration::from_secs(40)).await.unwrap();
    let mut client =
        Client { system: &system, owner: &owner, guests: &guests, invited: Vec::new(), rounds: 2000 };
    let stopped = client
        .phase("notifications stopped", REQUESTS_PER_PHASE, async || breaker(&system).await == Some(1.0))
        .await;
    assert_never_waited("stopped", &stopped);
    invited.extend(client.invited);

    // Everything made during the faults arrives, once.
    system.notifications.restart().await.unwrap();
    let total = before + invited.len();
    let jobs = system.wait_until_every_invitation_is_sent(total).await;
    let mut per_invitation: BTreeMap<(String, String), usize> = BTreeMap::new();
    for job in &jobs {
        let key = (job["recipients"][0].as_str().unwrap().to_string(), text(job, "subject"));
        *per_invitation.entry(key).or_default() += 1;
    }
    for invitation in &invited {
        assert_eq!(per_invitation.get(invitation), Some(&1), "one job for {invitation:?}");
    }
    let messages = system.smtp().messages();
    assert_eq!(messages.len(), total, "one e-mail per invitation, none twice");
    system.stop().await;
}
