use std::time::Duration;

use test_support::smtp::SmtpServer;
use test_support::{TestDb, wait_until};

use crate::helpers::{PATIENCE, TestApp, assert_each_job_sent_once, id_of, notification, use_smtp};

#[tokio::test]
async fn two_replicas_share_one_queue_and_send_each_job_once() {
    let db = TestDb::new().await;
    let server = SmtpServer::start().await;
    let replicas = [
        TestApp::spawn_on(&db.url, |s| use_smtp(s, &server)).await,
        TestApp::spawn_on(&db.url, |s| use_smtp(s, &server)).await,
    ];
    let mut ids = Vec::new();
    for i in 0..40 {
        let replica = &replicas[i % 2];
        ids.push(id_of(&replica.queue(&notification(&format!("p{i}@example.org"), "Hi", "Hello")).await));
    }
    // Each job by its id, across the replicas: claimed once, its message at the server once.
    assert_each_job_sent_once(&replicas[0], &server, &ids).await;
    for replica in replicas {
        replica.stop().await.unwrap();
    }
}

#[tokio::test]
async fn on_postgres_a_job_stored_by_one_replica_wakes_the_others_at_once() {
    // LISTEN/NOTIFY is PostgreSQL's; SQLite has one process per queue.
    if !TestDb::postgres_only("on_postgres_a_job_stored_by_one_replica_wakes_the_others_at_once") {
        return;
    }
    let db = TestDb::new().await;
    let server = SmtpServer::start().await;
    // Without the notification this replica would not look for an hour.
    let worker = TestApp::spawn_on(&db.url, |s| {
        use_smtp(s, &server);
        s.delivery.poll_interval = Duration::from_secs(3600);
    })
    .await;
    wait_until("the worker to listen", PATIENCE, || async { worker.delivery.is_listening().then_some(()) })
        .await;
    let front = TestApp::spawn_on(&db.url, |s| {
        use_smtp(s, &server);
        s.run_worker = false;
    })
    .await;
    let id = id_of(&front.queue(&notification("ada@example.org", "Hi", "Hello")).await);
    front.wait_for_status(&id, "sent").await;
    assert_eq!(server.messages().len(), 1);
}
