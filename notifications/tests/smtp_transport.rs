//! The SMTP sender against the test SMTP server (`test_support::smtp`): one transaction per
//! message, pooling, what a timeout or a failure does to a connection, `STARTTLS`, implicit TLS
//! and `AUTH`. No database: these drive `SmtpSender` directly.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use lettre::message::Message;
use notifications::mail::Rendered;
use notifications::workers::transport::{Outcome, SenderOptions, SmtpSender};
use service_kit::config::Secret;
use test_support::smtp::{ServerOptions, ServerTls, SmtpServer, TEST_CA_PEM};
use test_support::wait_until;

const PATIENCE: Duration = Duration::from_secs(20);

fn message(i: usize) -> Rendered {
    let message = Message::builder()
        .from("Notifications <n@example.org>".parse().unwrap())
        .to(format!("p{i}@example.org").parse().unwrap())
        .subject(format!("Message {i}"))
        .message_id(Some(format!("<m{i}@example.org>")))
        .date(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        .body(format!("Hello {i}\n.a line that starts with a dot\n"))
        .unwrap();
    let raw = message.formatted();
    Rendered { message, raw }
}

/// What the server records for [`message`]: lettre ends the data with an empty line before the dot.
fn as_received(i: usize) -> Vec<u8> {
    [message(i).raw, b"\r\n".to_vec()].concat()
}

fn options() -> SenderOptions {
    let mut options = SenderOptions::new(Duration::from_secs(10), 4);
    options.extra_roots_pem.push(TEST_CA_PEM.as_bytes().to_vec());
    options
}

fn sender_with(url: &str, options: SenderOptions) -> SmtpSender {
    SmtpSender::with_options(&Secret::new(url.to_string()), options).unwrap()
}

fn sender(url: &str) -> SmtpSender {
    sender_with(url, options())
}

/// `smtp://user:password@127.0.0.1:port?query`.
fn url_for(server: &SmtpServer, credentials: Option<(&str, &str)>, query: &str) -> String {
    let base = server.url();
    let (scheme, address) = base.split_once("://").unwrap();
    let login = credentials.map(|(u, p)| format!("{u}:{p}@")).unwrap_or_default();
    format!("{scheme}://{login}{address}{query}")
}

fn tls_server(tls: ServerTls, auth: Option<(&str, &str)>) -> ServerOptions {
    ServerOptions { tls, auth: auth.map(|(u, p)| (u.to_string(), p.to_string())) }
}

#[tokio::test]
async fn messages_arrive_byte_for_byte_over_one_pooled_connection() {
    let server = SmtpServer::start().await;
    let smtp = sender(&server.url());
    for i in 0..3 {
        assert_eq!(smtp.send(&message(i)).await, Outcome::Accepted);
    }
    let messages = server.messages();
    assert_eq!(messages.len(), 3);
    for (i, received) in messages.iter().enumerate() {
        assert_eq!(received.rcpt_to, vec![format!("p{i}@example.org")]);
        assert_eq!(received.mail_from, "n@example.org");
        assert_eq!(received.data, as_received(i), "the bytes rendered are the bytes received");
        assert!(!received.tls);
    }
    assert_eq!(server.stats().connections_total, 1, "one connection carried every transaction");
    assert_eq!(smtp.idle_connections(), 1);
}

/// With Nagle's algorithm on, each message's final dot waits for the server's delayed ACK
/// (40 ms or more on Linux), so 100 messages on one connection take at least about 4 s; with
/// `TCP_NODELAY` they take a few milliseconds each, even in a debug build on a busy machine.
#[tokio::test]
async fn one_connection_does_not_wait_for_delayed_acks() {
    let server = SmtpServer::start().await;
    let smtp = sender(&server.url());
    assert_eq!(smtp.send(&message(0)).await, Outcome::Accepted);
    let started = Instant::now();
    for i in 1..=100 {
        assert_eq!(smtp.send(&message(i)).await, Outcome::Accepted);
    }
    let elapsed = started.elapsed();
    assert_eq!(server.stats().connections_total, 1);
    assert!(elapsed < Duration::from_secs(2), "100 messages on one connection took {elapsed:?}");
}

#[tokio::test]
async fn a_connection_that_failed_is_never_reused() {
    let server = SmtpServer::start().await;
    let smtp = sender(&server.url());
    assert_eq!(smtp.send(&message(0)).await, Outcome::Accepted);

    server.fail_next(1, 451, "4.3.0 try again later");
    let Outcome::Temporary(reason) = smtp.send(&message(1)).await else { panic!("a 451 is temporary") };
    assert!(reason.contains("try again later"), "{reason}");
    assert_eq!(smtp.idle_connections(), 0, "the connection that got the 451 was closed");
    assert_eq!(smtp.send(&message(2)).await, Outcome::Accepted);
    assert_eq!(server.stats().connections_total, 2);

    server.fail_next(1, 550, "5.1.1 no such mailbox");
    assert!(matches!(smtp.send(&message(3)).await, Outcome::Permanent(r) if r.contains("no such mailbox")));
    assert_eq!(smtp.send(&message(4)).await, Outcome::Accepted);
    assert_eq!(server.stats().connections_total, 3);

    // The server goes away and comes back: the pooled connection is dead, found so by NOOP,
    // and replaced without failing the send.
    server.restart().await;
    assert_eq!(smtp.send(&message(5)).await, Outcome::Accepted);
    assert_eq!(server.stats().connections_total, 4);
    assert_eq!(server.messages().len(), 4);
}

#[tokio::test]
async fn a_refused_connection_is_a_temporary_failure() {
    let server = SmtpServer::start().await;
    let smtp = sender(&server.url());
    server.stop().await;
    let Outcome::Temporary(reason) = smtp.send(&message(0)).await else { panic!("refused is temporary") };
    assert!(reason.contains("cannot connect"), "{reason}");
}

#[tokio::test]
async fn a_send_without_an_answer_times_out_and_its_connection_is_not_reused() {
    let server = SmtpServer::start().await;
    let mut options = options();
    options.timeout = Duration::from_millis(300);
    let smtp = sender_with(&server.url(), options);
    assert_eq!(smtp.send(&message(0)).await, Outcome::Accepted);

    server.stall();
    let Outcome::Temporary(reason) = smtp.send(&message(1)).await else { panic!("a timeout is temporary") };
    assert!(reason.contains("no answer"), "{reason}");
    wait_until("the server sees the client give up", PATIENCE, || async {
        let stats = server.stats();
        (stats.abandoned_total == 1 && stats.stalled_now == 0).then_some(())
    })
    .await;
    server.release();
    assert_eq!(smtp.send(&message(2)).await, Outcome::Accepted);
    assert_eq!(server.stats().connections_total, 2, "the timed-out connection was not reused");
    let ids: Vec<_> = server.messages().iter().map(|m| m.message_id().unwrap()).collect();
    assert_eq!(ids, ["m0@example.org", "m2@example.org"], "the abandoned transaction was not delivered");
}

#[tokio::test]
async fn connections_open_follow_the_sends_in_flight_and_the_pool_keeps_at_most_its_size() {
    let server = SmtpServer::start().await;
    server.stall();
    let mut options = options();
    options.max_idle = 2;
    let smtp = Arc::new(sender_with(&server.url(), options));
    let sends: Vec<_> = (0..5)
        .map(|i| {
            let smtp = smtp.clone();
            tokio::spawn(async move { smtp.send(&message(i)).await })
        })
        .collect();
    wait_until("five sends held at the server", PATIENCE, || async {
        (server.stats().stalled_now == 5).then_some(())
    })
    .await;
    assert_eq!(server.stats().connections_open, 5, "a connection is used by one send at a time");
    server.release();
    for send in sends {
        assert_eq!(send.await.unwrap(), Outcome::Accepted);
    }
    assert_eq!(smtp.idle_connections(), 2);
    wait_until("the connections beyond the pool's size closed", PATIENCE, || async {
        (server.stats().connections_open == 2).then_some(())
    })
    .await;
}

#[tokio::test]
async fn idle_connections_are_closed_after_the_idle_timeout_and_at_shutdown() {
    let server = SmtpServer::start().await;
    let mut options = options();
    options.idle_timeout = Duration::from_millis(200);
    let smtp = sender_with(&server.url(), options);
    assert_eq!(smtp.send(&message(0)).await, Outcome::Accepted);
    wait_until("the idle connection is closed", PATIENCE, || async {
        (server.stats().connections_open == 0).then_some(())
    })
    .await;
    assert_eq!(smtp.idle_connections(), 0);

    let smtp = sender(&server.url());
    assert_eq!(smtp.send(&message(1)).await, Outcome::Accepted);
    assert_eq!(server.stats().connections_open, 1);
    smtp.shutdown().await;
    wait_until("shutdown closes the pool", PATIENCE, || async {
        (server.stats().connections_open == 0).then_some(())
    })
    .await;
}

#[tokio::test]
async fn starttls_required_encrypts_then_authenticates_and_the_connection_is_reused() {
    let server = SmtpServer::start_with(tls_server(ServerTls::StartTls, Some(("ada", "s3cret:/@")))).await;
    let smtp = sender(&url_for(&server, Some(("ada", "s3cret%3A%2F%40")), "?tls=required"));
    assert_eq!(smtp.send(&message(0)).await, Outcome::Accepted);
    assert_eq!(smtp.send(&message(1)).await, Outcome::Accepted);
    let messages = server.messages();
    assert_eq!(messages.len(), 2);
    assert!(messages.iter().all(|m| m.tls && m.authenticated_as.as_deref() == Some("ada")), "{messages:?}");
    assert_eq!(server.stats().connections_total, 1);
}

#[tokio::test]
async fn opportunistic_tls_upgrades_when_offered_and_sends_in_plain_text_otherwise() {
    let offering = SmtpServer::start_with(tls_server(ServerTls::StartTls, None)).await;
    let smtp = sender(&url_for(&offering, None, "?tls=opportunistic"));
    assert_eq!(smtp.send(&message(0)).await, Outcome::Accepted);
    assert!(offering.messages()[0].tls);

    let plain = SmtpServer::start().await;
    let smtp = sender(&url_for(&plain, None, "?tls=opportunistic"));
    assert_eq!(smtp.send(&message(1)).await, Outcome::Accepted);
    assert!(!plain.messages()[0].tls);
}

#[tokio::test]
async fn tls_required_sends_nothing_to_a_server_without_starttls() {
    let server = SmtpServer::start().await;
    let smtp = sender(&url_for(&server, None, "?tls=required"));
    let outcome = smtp.send(&message(0)).await;
    assert!(matches!(&outcome, Outcome::Permanent(r) if r.contains("STARTTLS")), "{outcome:?}");
    assert_eq!(server.stats().transactions_completed, 0);
}

#[tokio::test]
async fn implicit_tls_speaks_tls_from_the_first_byte() {
    let server = SmtpServer::start_with(tls_server(ServerTls::Implicit, Some(("ada", "pw")))).await;
    assert!(server.url().starts_with("smtps://"));
    let smtp = sender(&url_for(&server, Some(("ada", "pw")), ""));
    for i in 0..3 {
        assert_eq!(smtp.send(&message(i)).await, Outcome::Accepted);
    }
    let messages = server.messages();
    assert!(messages.iter().all(|m| m.tls && m.authenticated_as.as_deref() == Some("ada")), "{messages:?}");
    assert_eq!(server.stats().connections_total, 1);
    assert_eq!(messages[0].data, as_received(0));
}

#[tokio::test]
async fn a_certificate_from_an_unknown_ca_is_refused_before_anything_is_sent() {
    for tls in [ServerTls::StartTls, ServerTls::Implicit] {
        let server = SmtpServer::start_with(tls_server(tls, None)).await;
        let query = if tls == ServerTls::StartTls { "?tls=required" } else { "" };
        let untrusting =
            sender_with(&url_for(&server, None, query), SenderOptions::new(Duration::from_secs(10), 4));
        let outcome = untrusting.send(&message(0)).await;
        assert!(
            matches!(&outcome, Outcome::Temporary(r) if r.contains("certificate") || r.contains("Certificate")),
            "{tls:?}: {outcome:?}"
        );
        assert_eq!(server.stats().transactions_completed, 0);
    }
}

#[tokio::test]
async fn wrong_credentials_are_a_permanent_failure() {
    let server = SmtpServer::start_with(tls_server(ServerTls::StartTls, Some(("ada", "right")))).await;
    let smtp = sender(&url_for(&server, Some(("ada", "wrong")), "?tls=required"));
    let outcome = smtp.send(&message(0)).await;
    assert!(
        matches!(&outcome, Outcome::Permanent(r) if r.contains("535") || r.contains("credentials")),
        "{outcome:?}"
    );
    assert!(server.messages().is_empty());

    let without = sender(&url_for(&server, None, "?tls=required"));
    let outcome = without.send(&message(1)).await;
    assert!(
        matches!(&outcome, Outcome::Permanent(r) if r.contains("authentication required")),
        "{outcome:?}"
    );
}
