use std::time::Duration;

use service_kit::db::now_millis;
use test_support::json_body;
use test_support::smtp::SmtpServer;

use crate::helpers::{TestApp, id_of, notification, use_smtp};

const DAY_MS: i64 = 86_400_000;

#[tokio::test]
async fn finished_jobs_and_their_messages_go_after_the_retention_period_and_queued_ones_stay() {
    let app = TestApp::spawn_with(|s| {
        s.run_worker = false;
        s.retention = Some(Duration::from_secs(30 * 86_400));
    })
    .await;
    let retention = app.retention.clone().expect("retention is on");
    let response = app.post(&notification("ada@example.org", "Old news", "m"), Some("key-a")).await;
    assert_eq!(response.status(), 202);
    let old = id_of(&json_body(response).await);
    let sent = app.delivery.step().await.unwrap();
    assert_eq!(sent.sent, 1);
    let waiting = id_of(&app.queue(&notification("bob@example.org", "Still waiting", "m")).await);

    assert_eq!(retention.step(now_millis() + 29 * DAY_MS).await.unwrap(), 0, "not old enough yet");
    assert_eq!(app.job(&old).await["status"], "sent");
    assert!(app.page("/mailbox").await.text().await.unwrap().contains("Old news"));

    assert_eq!(retention.step(now_millis() + 31 * DAY_MS).await.unwrap(), 1);
    let (status, _) = app.api_get(&format!("/notifications/{old}")).await;
    assert_eq!(status, 404, "the finished job is gone");
    let mailbox = app.page("/mailbox").await.text().await.unwrap();
    assert!(!mailbox.contains("Old news"), "its message is gone from the mailbox: {mailbox}");
    assert_eq!(app.job(&waiting).await["status"], "queued", "a queued job is never deleted");

    // The idempotency key went with its job: the same key now makes a new job.
    let again = app.post(&notification("ada@example.org", "Old news", "m"), Some("key-a")).await;
    assert_eq!(again.status(), 202);
    assert!(again.headers().get("idempotent-replayed").is_none());
    assert_ne!(id_of(&json_body(again).await), old);
}

#[tokio::test]
async fn failed_jobs_are_deleted_after_the_retention_period_too() {
    let server = SmtpServer::start().await;
    server.fail_next(1, 550, "5.1.1 mailbox unavailable");
    let app = TestApp::spawn_with(|s| {
        use_smtp(s, &server);
        s.run_worker = false;
    })
    .await;
    let id = id_of(&app.queue(&notification("nobody@example.org", "Hi", "m")).await);
    assert_eq!(app.delivery.step().await.unwrap().failed, 1);
    let retention = app.retention.clone().expect("on by default");
    assert_eq!(retention.step(now_millis() + 31 * DAY_MS).await.unwrap(), 1);
    let (status, _) = app.api_get(&format!("/notifications/{id}")).await;
    assert_eq!(status, 404);
}
