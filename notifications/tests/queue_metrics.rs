//! The queue-age gauge and the SMTP outcome counter, read from `/metrics` in a test binary of
//! their own (metrics are process-wide: other tests' workers would move them).

#![allow(clippy::unwrap_used)]

#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use std::time::Instant;

use helpers::{PATIENCE, TestApp, id_of, notification, use_smtp};
use test_support::smtp::SmtpServer;
use test_support::wait_until;

fn value(exposition: &str, series: &str) -> Option<f64> {
    exposition.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

#[tokio::test]
async fn a_job_waiting_for_the_mail_server_ages_in_the_gauge_until_it_is_sent() {
    let server = SmtpServer::start().await;
    server.stop().await;
    let app = TestApp::spawn_with(|s| {
        use_smtp(s, &server);
        s.delivery.max_attempts = 1000;
    })
    .await;
    let read = |series: &'static str| {
        let app = &app;
        async move {
            let text = app.get("/metrics").await.text().await.ok()?;
            value(&text, series)
        }
    };
    wait_until("the empty queue's age at 0", PATIENCE, || async {
        (read("notifications_oldest_queued_age_seconds").await? == 0.0).then_some(())
    })
    .await;

    let queued = Instant::now();
    let id = id_of(&app.queue(&notification("ada@example.org", "Hi", "Hello")).await);
    let age = wait_until("the queued job over a second old in the gauge", PATIENCE, || async {
        read("notifications_oldest_queued_age_seconds").await.filter(|age| *age >= 1.0)
    })
    .await;
    assert!(age <= queued.elapsed().as_secs_f64() + 0.1, "age {age} s, queued {:?} ago", queued.elapsed());
    assert!(read("smtp_sends_total{outcome=\"temporary_failure\"}").await.unwrap() >= 1.0);
    assert_eq!(read("smtp_sends_total{outcome=\"accepted\"}").await, Some(0.0));

    server.restart().await;
    app.wait_for_status(&id, "sent").await;
    wait_until("the queue's age back at 0", PATIENCE, || async {
        (read("notifications_oldest_queued_age_seconds").await? == 0.0).then_some(())
    })
    .await;
    assert_eq!(read("smtp_sends_total{outcome=\"accepted\"}").await, Some(1.0));
    assert_eq!(read("smtp_sends_total{outcome=\"permanent_failure\"}").await, Some(0.0));
    app.stop().await.unwrap();
}
