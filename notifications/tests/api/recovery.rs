use service_kit::backoff::Backoff;
use std::time::Duration;

use test_support::TestDb;
use test_support::smtp::SmtpServer;

use crate::helpers::{PATIENCE, TestApp, id_of, notification, use_smtp};

#[tokio::test]
async fn a_job_claimed_by_a_worker_that_died_is_sent_after_its_lease_expires_or_at_once_on_sqlite() {
    let db = TestDb::new().await;
    let server = SmtpServer::start().await;
    // On SQLite a lease far longer than the test waits: the job is sent only if the new
    // process takes it over without waiting for the lease.
    let lease = if db.is_postgres() { Duration::from_millis(2500) } else { 3 * PATIENCE };
    let configure = |s: &mut notifications::config::Settings| {
        use_smtp(s, &server);
        s.delivery.smtp_timeout = Duration::from_secs(2);
        s.delivery.send_lease = lease;
    };

    // The first process claims the job and dies before sending it.
    let first = TestApp::spawn_on(&db.url, |s| {
        configure(s);
        s.run_worker = false;
    })
    .await;
    let id = id_of(&first.queue(&notification("ada@example.org", "Hi", "Hello")).await);
    let claimed = first.delivery.claim(10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let job = first.job(&id).await;
    assert_eq!(job["status"], "sending");
    assert_eq!(job["attempts"], 1);
    drop(claimed);
    first.stop().await.unwrap();

    // A new process on PostgreSQL finds it `sending` (another replica may be sending it) and
    // waits for the lease to run out; on SQLite, where one process owns the queue, it takes the
    // job over as it starts.
    let second = TestApp::spawn_on(&db.url, configure).await;
    if db.is_postgres() {
        assert_eq!(second.job(&id).await["status"], "sending", "the lease still protects the claim");
    }
    let sent = second.wait_for_status(&id, "sent").await;
    assert_eq!(sent["attempts"], 2);
    let messages = server.wait_for_messages(1, PATIENCE).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].message_id().unwrap(), format!("{id}@localhost"));
}

#[tokio::test]
async fn queued_jobs_survive_a_restart() {
    let db = TestDb::new().await;
    let server = SmtpServer::start().await;
    let first = TestApp::spawn_on(&db.url, |s| {
        use_smtp(s, &server);
        s.run_worker = false;
    })
    .await;
    let id = id_of(&first.queue(&notification("ada@example.org", "Hi", "Hello")).await);
    first.stop().await.unwrap();
    let second = TestApp::spawn_on(&db.url, |s| use_smtp(s, &server)).await;
    second.wait_for_status(&id, "sent").await;
    assert_eq!(server.wait_for_messages(1, PATIENCE).await.len(), 1);
}

#[tokio::test]
async fn a_message_accepted_after_the_sender_gave_up_is_sent_again_with_the_same_message_id() {
    // The one window in which a job is sent twice: the server accepts the message, but the
    // worker never learns of it (here: no answer within the timeout).
    let server = SmtpServer::start().await;
    server.keep_abandoned_messages(true);
    server.stall();
    let app = TestApp::spawn_with(|s| {
        use_smtp(s, &server);
        s.delivery.smtp_timeout = Duration::from_millis(300);
        // Slow enough retries that the job is seen waiting between attempts.
        // Each retry 300 to 600 ms later.
        s.delivery.retry = Backoff::new(Duration::from_millis(300), Duration::from_millis(600));
    })
    .await;
    let id = id_of(&app.queue(&notification("ada@example.org", "Hi", "Hello")).await);
    app.wait_for_job(&id, "a timed-out attempt", |job| job["status"] == "queued" && job["attempts"] == 1)
        .await;
    // The server must have seen the worker give up before the release: released earlier, the
    // first attempt would be accepted as an ordinary held send, not one its sender gave up on.
    test_support::wait_until("the server to hold the abandoned attempt", PATIENCE, || async {
        (server.stats().abandoned_held_now >= 1).then_some(())
    })
    .await;
    assert!(server.messages().is_empty(), "nothing accepted before the release");
    server.release();
    let sent = app.wait_for_status(&id, "sent").await;
    assert!(sent["attempts"].as_i64().unwrap() >= 2, "{sent}");
    let messages = server.wait_for_messages(2, PATIENCE).await;
    let ids: Vec<String> = messages.iter().map(|m| m.message_id().unwrap()).collect();
    assert!(ids.iter().all(|m| format!("<{m}>") == sent["message_id"].as_str().unwrap()), "{ids:?}");
    assert!(
        messages.iter().all(|m| m.data == messages[0].data),
        "every repeat is the same message, byte for byte"
    );
}

#[tokio::test]
async fn shutdown_waits_for_the_send_in_flight() {
    let db = TestDb::new().await;
    let server = SmtpServer::start().await;
    server.stall();
    let app = TestApp::spawn_on(&db.url, |s| use_smtp(s, &server)).await;
    let id = id_of(&app.queue(&notification("ada@example.org", "Hi", "Hello")).await);
    test_support::wait_until("the send to be held by the server", PATIENCE, || async {
        (server.stats().stalled_now == 1).then_some(())
    })
    .await;
    let port = app.addr.port();
    let stopping = app.request_stop();
    // The listener closes on the same cancellation the worker watches.
    test_support::wait_until("the service to stop listening", PATIENCE, || async {
        tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err().then_some(())
    })
    .await;
    assert!(!stopping.is_finished(), "the service waits for its send in flight");
    server.release();
    stopping.await.unwrap().expect("a clean stop");

    let after = TestApp::spawn_on(&db.url, |s| {
        use_smtp(s, &server);
        s.run_worker = false;
    })
    .await;
    let job = after.job(&id).await;
    assert_eq!(job["status"], "sent", "the worker finished the send before stopping: {job}");
    assert_eq!(server.messages().len(), 1);
}

#[tokio::test]
async fn a_send_that_outlasts_its_lease_keeps_the_job_because_the_lease_is_renewed() {
    let server = SmtpServer::start().await;
    server.stall();
    let lease = Duration::from_secs(1);
    let app = TestApp::spawn_with(|s| {
        use_smtp(s, &server);
        s.delivery.smtp_timeout = Duration::from_secs(20);
        s.delivery.send_lease = lease;
        s.delivery.poll_interval = Duration::from_millis(100);
    })
    .await;
    let id = id_of(&app.queue(&notification("ada@example.org", "Hi", "Hello")).await);
    test_support::wait_until("the send to be held by the server", PATIENCE, || async {
        (server.stats().stalled_now == 1).then_some(())
    })
    .await;
    // Held for three leases: a lease left to run out would be claimed again meanwhile (a
    // second connection, a second attempt).
    tokio::time::sleep(3 * lease).await;
    let job = app.job(&id).await;
    assert_eq!((job["status"].as_str(), job["attempts"].as_i64()), (Some("sending"), Some(1)), "{job}");
    assert_eq!(server.stats().stalled_now, 1, "no second send of the same job");
    server.release();
    app.wait_for_status(&id, "sent").await;
    assert_eq!(server.wait_for_messages(1, PATIENCE).await.len(), 1);
    assert_eq!(app.job(&id).await["attempts"], 1);
}
