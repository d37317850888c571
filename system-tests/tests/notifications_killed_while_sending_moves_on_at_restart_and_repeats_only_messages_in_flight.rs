//! notifications SIGKILLed three times while it sends 300 jobs to a real SMTP conversation: each
//! time, the jobs it was sending move on after the restart without waiting for a long lease
//! (SQLite: the new process takes them over as it starts, proven with a lease longer than the
//! test waits; PostgreSQL: the default `SEND_LEASE_MS`, short because a live sender renews it),
//! nothing is lost, and the only repeats are messages that were in flight at a kill, with the
//! same `Message-ID`. How long each restart took is printed, not asserted (speed is the
//! bench's).

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Instant;

use reqwest::StatusCode;
use serde_json::json;
use system_tests::api::text;
use system_tests::{Mail, PATIENCE, TestSystem};
use test_support::wait_until;

const ROUNDS: usize = 3;
const JOBS_PER_ROUND: usize = 100;
/// On SQLite, a lease no wait of this test outlasts.
const LONG_LEASE_MS: &str = "600000";

#[tokio::test]
async fn every_job_is_delivered_after_each_restart_without_waiting_for_a_long_lease_and_only_in_flight_ones_twice()
 {
    let sqlite = !test_support::TestDb::postgres_configured();
    let extra: &[(&str, &str, &str)] =
        if sqlite { &[("notifications", "SEND_LEASE_MS", LONG_LEASE_MS)] } else { &[] };
    let mut system = TestSystem::start_with(Mail::Smtp, extra).await;
    // A message held when its sender dies is accepted at the release: the window in which a
    // message arrives twice.
    system.smtp().keep_abandoned_messages(true);
    let mut in_flight_at_kills = 0;
    let mut posted = 0;
    for round in 0..ROUNDS {
        system.smtp().stall();
        for i in 0..JOBS_PER_ROUND {
            let response = system
                .http
                .post(system.notifications.url("notifications"))
                .bearer_auth(&system.token)
                .header("idempotency-key", format!("kill-{round}-{i}"))
                .json(&json!({"email": format!("r{round}-{i}@example.org"), "subject": format!("Round {round} #{i}"), "message": "Hello"}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::ACCEPTED);
        }
        posted += JOBS_PER_ROUND;
        wait_until("sends held by the mail server", PATIENCE, || async {
            (system.smtp().stats().stalled_now >= 1).then_some(())
        })
        .await;
        system.notifications.kill().await.unwrap();
        wait_until("the server to see the killed sender's connections go", PATIENCE, || async {
            let stats = system.smtp().stats();
            (stats.abandoned_held_now == stats.stalled_now).then_some(())
        })
        .await;
        in_flight_at_kills += system.smtp().stats().stalled_now;
        system.smtp().release();

        system.notifications.restart().await.unwrap();
        let restarted = Instant::now();
        wait_until(&format!("all {posted} jobs sent after restart {}", round + 1), PATIENCE, || async {
            let jobs = system.notification_jobs().await;
            (jobs.len() == posted && jobs.iter().all(|j| j["status"] == "sent")).then_some(())
        })
        .await;
        eprintln!(
            "restart {}: every job sent {:?} after notifications was ready again",
            round + 1,
            restarted.elapsed()
        );
    }

    let jobs = system.notification_jobs().await;
    assert_eq!(jobs.len(), ROUNDS * JOBS_PER_ROUND);
    let mut copies: BTreeMap<String, usize> = BTreeMap::new();
    for message in system.smtp().messages() {
        *copies.entry(message.message_id().unwrap()).or_default() += 1;
    }
    for job in &jobs {
        let id = text(job, "message_id").trim_matches(['<', '>']).to_string();
        assert!(copies.contains_key(&id), "job {} arrived: {job}", text(job, "id"));
    }
    assert_eq!(copies.len(), jobs.len(), "nothing arrived that is not a job");
    let repeats: usize = copies.values().map(|n| n - 1).sum();
    eprintln!("{repeats} messages arrived twice; {in_flight_at_kills} were held by the server at the kills");
    assert!(
        repeats <= in_flight_at_kills,
        "{repeats} repeated messages, more than the {in_flight_at_kills} in flight at the kills"
    );
    assert!(copies.values().all(|n| *n <= 2), "no message more than twice: {copies:?}");
    system.stop().await;
}
