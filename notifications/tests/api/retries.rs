use service_kit::backoff::Backoff;
use std::time::Duration;

use test_support::smtp::SmtpServer;

use crate::helpers::{PATIENCE, TestApp, id_of, notification, use_smtp};

#[tokio::test]
async fn temporary_failures_are_retried_until_the_server_accepts() {
    let server = SmtpServer::start().await;
    server.fail_next(2, 451, "4.3.0 try again later");
    let app = TestApp::spawn_with(|s| use_smtp(s, &server)).await;
    let job = app.queue(&notification("ada@example.org", "Hi", "Hello")).await;
    let sent = app.wait_for_status(&id_of(&job), "sent").await;
    assert_eq!(sent["attempts"], 3);
    assert!(sent["last_error"].as_str().unwrap().contains("451"), "{sent}");
    assert_eq!(server.messages().len(), 1);
    assert_eq!(server.stats().transactions_completed, 3);
}

#[tokio::test]
async fn delivery_resumes_when_the_smtp_server_comes_back() {
    let server = SmtpServer::start().await;
    server.stop().await;
    let app = TestApp::spawn_with(|s| {
        use_smtp(s, &server);
        s.delivery.max_attempts = 100; // however slowly this test runs, the job must not give up
    })
    .await;
    let id = id_of(&app.queue(&notification("ada@example.org", "Hi", "Hello")).await);

    let waiting = app
        .wait_for_job(&id, "two refused attempts", |job| {
            job["status"] == "queued" && job["attempts"].as_i64() >= Some(2)
        })
        .await;
    let error = waiting["last_error"].as_str().unwrap();
    assert!(error.to_lowercase().contains("connect"), "{error}");
    assert!(waiting["next_attempt_at"].is_string(), "the retry time is kept on the job");

    server.restart().await;
    let sent = app.wait_for_status(&id, "sent").await;
    assert!(sent["attempts"].as_i64().unwrap() >= 3);
    assert_eq!(server.wait_for_messages(1, PATIENCE).await.len(), 1);
}

#[tokio::test]
async fn a_permanent_failure_fails_the_job_at_once_with_its_reason() {
    let server = SmtpServer::start().await;
    server.fail_next(1, 550, "5.1.1 mailbox unavailable");
    let app = TestApp::spawn_with(|s| use_smtp(s, &server)).await;
    let id = id_of(&app.queue(&notification("nobody@example.org", "Hi", "Hello")).await);
    let failed = app.wait_for_status(&id, "failed").await;
    assert_eq!(failed["attempts"], 1, "5xx is not retried");
    let error = failed["last_error"].as_str().unwrap();
    assert!(error.contains("550") && error.contains("mailbox unavailable"), "{error}");
    assert!(failed["next_attempt_at"].is_null());
    assert!(server.messages().is_empty());

    // The worker goes on with other jobs.
    let next = id_of(&app.queue(&notification("ada@example.org", "Hi", "Hello")).await);
    app.wait_for_status(&next, "sent").await;
}

#[tokio::test]
async fn a_job_fails_after_its_last_attempt() {
    let server = SmtpServer::start().await;
    server.fail_next(10, 421, "4.7.0 busy");
    let app = TestApp::spawn_with(|s| {
        use_smtp(s, &server);
        s.delivery.max_attempts = 3;
    })
    .await;
    let id = id_of(&app.queue(&notification("ada@example.org", "Hi", "Hello")).await);
    let failed = app.wait_for_status(&id, "failed").await;
    assert_eq!(failed["attempts"], 3);
    let error = failed["last_error"].as_str().unwrap();
    assert!(error.contains("gave up after 3 attempts") && error.contains("421"), "{error}");
    assert_eq!(server.stats().transactions_completed, 3);
}

#[tokio::test]
async fn a_send_that_gets_no_answer_times_out_and_is_retried() {
    let server = SmtpServer::start().await;
    server.stall();
    let app = TestApp::spawn_with(|s| {
        use_smtp(s, &server);
        s.delivery.smtp_timeout = Duration::from_millis(300);
        // Slow enough retries that the job is seen waiting between attempts.
        // Each retry 300 to 600 ms later.
        s.delivery.retry = Backoff::new(Duration::from_millis(300), Duration::from_millis(600));
        s.delivery.send_lease = Duration::from_secs(10);
    })
    .await;
    let id = id_of(&app.queue(&notification("ada@example.org", "Hi", "Hello")).await);
    let waiting = app
        .wait_for_job(&id, "a timed-out attempt", |job| job["status"] == "queued" && job["attempts"] == 1)
        .await;
    assert!(waiting["last_error"].as_str().unwrap().contains("no answer"), "{waiting}");
    // Released only once the server has seen the worker give up, so the timed-out attempt is
    // dropped there rather than accepted by a release that came first.
    test_support::wait_until("the server to see the worker give up", PATIENCE, || async {
        (server.stats().abandoned_total >= 1).then_some(())
    })
    .await;
    server.release();
    let sent = app.wait_for_status(&id, "sent").await;
    assert!(sent["attempts"].as_i64().unwrap() >= 2);
    let ids: Vec<String> =
        server.messages().iter().map(|m| format!("<{}>", m.message_id().unwrap())).collect();
    assert_eq!(ids, [sent["message_id"].as_str().unwrap()], "the abandoned transaction was not delivered");
}
