use std::time::Duration;

use test_support::smtp::SmtpServer;
use test_support::wait_until;

use crate::helpers::{PATIENCE, TestApp, notification, use_smtp};

#[tokio::test]
async fn concurrent_sends_never_exceed_smtp_max_concurrency() {
    let server = SmtpServer::start().await;
    server.stall();
    let app = TestApp::spawn_with(|s| {
        use_smtp(s, &server);
        s.delivery.max_concurrency = 3;
        s.delivery.smtp_timeout = Duration::from_secs(30);
        s.delivery.send_lease = Duration::from_secs(60);
    })
    .await;
    for i in 0..8 {
        app.queue(&notification(&format!("p{i}@example.org"), "Hi", "Hello")).await;
    }

    // Three sends reach the server and are held there; the others wait in the queue.
    wait_until("three sends held at the server", PATIENCE, || async {
        (server.stats().stalled_now == 3).then_some(())
    })
    .await;
    let jobs = app.all_jobs().await;
    let count = |status: &str| jobs.iter().filter(|j| j["status"] == status).count();
    assert_eq!((count("sending"), count("queued")), (3, 5), "only jobs with a send slot are claimed");

    server.release();
    wait_until("all jobs sent", PATIENCE, || async {
        app.all_jobs().await.iter().all(|j| j["status"] == "sent").then_some(())
    })
    .await;
    let stats = server.stats();
    assert_eq!(server.messages().len(), 8);
    assert_eq!(stats.max_transactions_open, 3, "sends ran concurrently, up to the limit and no further");
}
