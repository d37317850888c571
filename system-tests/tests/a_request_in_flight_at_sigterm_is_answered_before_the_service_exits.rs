//! Graceful shutdown, as the README promises it: on SIGTERM a service stops accepting
//! connections, lets the requests it is serving finish, and exits with status 0.
//!
//! The request is held in the handler by the client itself: it sends the headers of a
//! `POST /contacts` with `Expect: 100-continue` and waits for `100 Continue`, which the server
//! sends only when the handler starts reading the body. Then contacts gets SIGTERM; once it has
//! stopped accepting connections (the shutdown has begun), the client sends the body. The request
//! must still be answered `201`, the contact must be stored, and the process must exit 0.

#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use system_tests::{Mail, PATIENCE, STOP_GRACE, TestSystem};
use test_support::hostile::{closed_within, exchange};
use test_support::wait_until;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn a_post_whose_body_arrives_after_sigterm_is_stored_and_answered_then_contacts_exits_0() {
    let mut system = TestSystem::start(Mail::Mailbox).await;
    let port = system.contacts.port;
    let body = json!({"firstname": "Late", "lastname": "Arrival", "email": "late@example.org"}).to_string();

    let mut client = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let head = format!(
        "POST /contacts HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nAccept: application/json\r\nContent-Length: {}\r\n\
         Expect: 100-continue\r\n\r\n",
        system.token,
        body.len()
    );
    client.write_all(head.as_bytes()).await.unwrap();
    let interim = read_until(&mut client, b"\r\n\r\n").await;
    assert!(
        interim.starts_with("HTTP/1.1 100 Continue"),
        "the handler started reading the body (100 Continue), got {interim:?}"
    );

    system.contacts.terminate().unwrap();
    wait_until("contacts to stop accepting connections after SIGTERM", PATIENCE, || async {
        TcpStream::connect(("127.0.0.1", port)).await.is_err().then_some(())
    })
    .await;

    let response = exchange(&mut client, body.as_bytes(), PATIENCE)
        .await
        .expect("the request in flight is answered, not dropped");
    assert_eq!(response.status, 201, "the request in flight was answered 201: {}", response.text());
    assert!(closed_within(&mut client, PATIENCE).await, "the server closes the connection after it");
    let created: Value = serde_json::from_slice(&response.body).unwrap();
    let id = created["id"].as_str().expect("the created contact's id").to_string();

    let status = system.contacts.wait_for_exit(STOP_GRACE).await.unwrap();
    assert!(status.success(), "contacts exited with {status} after answering the request in flight");

    // What was answered is stored.
    system.contacts.restart().await.unwrap();
    let stored = system.http.get(system.contacts.url(&format!("contacts/{id}"))).send().await.unwrap();
    assert_eq!(stored.status(), 200, "the contact answered 201 before the exit is there after a restart");
    let stored: Value = stored.json().await.unwrap();
    assert_eq!(stored["email"], "late@example.org");
    system.stop().await;
}

/// Reads from `stream` until `end` has arrived (bounded by [`PATIENCE`]); what was read.
async fn read_until(stream: &mut TcpStream, end: &[u8]) -> String {
    let mut seen = Vec::new();
    let mut buffer = [0u8; 1024];
    tokio::time::timeout(PATIENCE, async {
        while !seen.windows(end.len()).any(|w| w == end) {
            let n = stream.read(&mut buffer).await.unwrap();
            assert!(n > 0, "the connection closed after {:?}", String::from_utf8_lossy(&seen));
            seen.extend_from_slice(&buffer[..n]);
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {end:?} within {PATIENCE:?}: {:?}", String::from_utf8_lossy(&seen)));
    String::from_utf8_lossy(&seen).into_owned()
}
