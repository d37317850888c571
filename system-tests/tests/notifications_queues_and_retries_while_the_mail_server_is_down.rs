//! Cascading failure, the mail side: with the SMTP server down, notifications keeps accepting
//! jobs (`202`), from calendar and from direct API calls, keeps them queued and retries them;
//! when the SMTP server is back, every job is delivered, each exactly once.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::json;
use system_tests::api::text;
use system_tests::prometheus::value;
use system_tests::{Mail, PATIENCE, TestSystem};
use test_support::wait_until;

/// Jobs posted straight to notifications' API while the mail server is down.
const DIRECT_JOBS: usize = 12;

async fn retries(system: &TestSystem) -> f64 {
    value(&system.metrics(&system.notifications).await, "notifications_retries_total", &[]).unwrap_or(0.0)
}

#[tokio::test]
async fn jobs_are_accepted_queued_and_retried_while_smtp_is_down_and_each_is_delivered_once_when_it_returns()
{
    // Attempts are not the point here (giving up is tested in notifications' own tests): the
    // outage must not use them up.
    let mut system = TestSystem::start_with(Mail::Smtp, &[("notifications", "MAX_ATTEMPTS", "100")]).await;
    let owner = system.create_contact("Olivia", "Owner", "olivia@example.org").await;
    let guest = system.create_contact("Gus", "Guest", "gus@example.org").await;
    system.wait_for_users(&[&owner, &guest]).await;

    system.smtp().stop().await;
    let mut job_ids = BTreeSet::new();
    for i in 0..DIRECT_JOBS {
        let response = system
            .http
            .post(system.notifications.url("notifications"))
            .bearer_auth(&system.token)
            .header("idempotency-key", format!("outage-{i}"))
            .json(&json!({"email": format!("reader{i}@example.org"), "subject": format!("Outage {i}"), "message": "Hello"}))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body = test_support::json_body(response).await;
        assert_eq!(status, StatusCode::ACCEPTED, "a job is accepted while SMTP is down: {body}");
        job_ids.insert(text(&body, "id"));
    }
    let event =
        system.create_event(&owner.id, json!({"title": "During the outage", "date": "2027-06-01"})).await;
    system.invite_ok(&text(&event, "id"), &[&guest.email]).await;
    let total = DIRECT_JOBS + 1;

    // They stay queued and are retried, again and again, none given up.
    wait_until("every job retried at least twice while SMTP is down", PATIENCE, || async {
        (retries(&system).await >= (2 * total) as f64).then_some(())
    })
    .await;
    let jobs = system.notification_jobs().await;
    assert_eq!(jobs.len(), total, "calendar's invitation arrived as a job too");
    for job in &jobs {
        assert!(
            job["status"] == "queued" || job["status"] == "sending",
            "a job waits for the mail server, not failed: {job}"
        );
        assert!(job["attempts"].as_i64().unwrap() >= 1, "and it was tried: {job}");
    }
    assert!(system.smtp().messages().is_empty());

    system.smtp().restart().await;
    let jobs = system.wait_until_every_invitation_is_sent(total).await;
    let messages = system.smtp().messages();
    assert_eq!(messages.len(), total, "each job delivered exactly once");
    let sent: BTreeSet<String> = messages.iter().map(|m| m.message_id().unwrap()).collect();
    let expected: BTreeSet<String> =
        jobs.iter().map(|j| j["message_id"].as_str().unwrap().trim_matches(['<', '>']).to_string()).collect();
    assert_eq!(sent, expected, "one message per job, by Message-ID");
    for id in &job_ids {
        assert!(jobs.iter().any(|j| j["id"] == id.as_str() && j["status"] == "sent"), "job {id} sent");
    }
    system.stop().await;
}
