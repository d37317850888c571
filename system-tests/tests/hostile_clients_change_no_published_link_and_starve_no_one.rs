//! Hostile clients against the three real binaries: a spoofed `Host` (and every forwarding
//! header) changes no link any service publishes, down to the invitation e-mail at the SMTP
//! server; and one client opening hundreds of connections cannot use up a service's file
//! descriptors, so another client is served while it holds them.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use harness::binary;
use harness::process::{ServiceProcess, ServiceSpec};
use reqwest::{Method, StatusCode};
use serde_json::json;
use system_tests::api::text;
use system_tests::{Mail, PATIENCE, TestSystem, build_services};
use test_support::hostile::{
    FIRST_CLIENT, HOSTILE_HOST, HOSTILE_HOST_HEADERS, OTHER_CLIENT, assert_links_under, connect_from,
    exchange,
};
use test_support::{TempDir, TestDb, json_body};
use tokio::io::AsyncWriteExt;

fn spoofed(system: &TestSystem, method: Method, url: String) -> reqwest::RequestBuilder {
    let mut request = system.http.request(method, url);
    for (name, value) in HOSTILE_HOST_HEADERS {
        request = request.header(name, value);
    }
    request
}

#[tokio::test]
async fn a_spoofed_host_changes_no_link_any_service_publishes_not_even_in_the_invitation_email() {
    let mut system = TestSystem::start(Mail::Smtp).await;
    let mut published = Vec::new();
    let mut ids = Vec::new();
    for (first, email) in [("Olivia", "olivia@example.org"), ("Ann", "ann@example.org")] {
        let response = spoofed(&system, Method::POST, system.contacts.url("contacts"))
            .json(&json!({"firstname": first, "lastname": "Spoof", "email": email}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        published.push(("contacts' Location", response.headers()["location"].to_str().unwrap().to_string()));
        let contact = json_body(response).await;
        ids.push(text(&contact, "id"));
        published.push(("a new contact", contact.to_string()));
    }
    let feed = spoofed(&system, Method::GET, system.contacts.url("feed")).send().await.unwrap();
    published.push(("the feed", feed.text().await.unwrap()));
    for id in &ids {
        system.wait_for_user(id, "the contact in calendar", |_| true).await;
    }

    let response = spoofed(&system, Method::POST, system.calendar.url(&format!("calendar/{}", ids[0])))
        .json(&json!({"title": "Spoofed party", "date": "2027-05-01"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    published.push(("calendar's Location", response.headers()["location"].to_str().unwrap().to_string()));
    let event = json_body(response).await;
    let event_id = text(&event, "id");
    published.push(("a new event", event.to_string()));
    let response =
        spoofed(&system, Method::POST, system.calendar.url(&format!("event/{event_id}/participants")))
            .json(&["ann@example.org"])
            .send()
            .await
            .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    published.push(("the participants", response.text().await.unwrap()));
    for path in [format!("calendar/{}.ics", ids[0]), format!("users/{}", ids[1])] {
        let response = spoofed(&system, Method::GET, system.calendar.url(&path)).send().await.unwrap();
        published.push(("calendar's answers", response.text().await.unwrap()));
    }

    let jobs = system.wait_until_every_invitation_is_sent(1).await;
    let response = spoofed(&system, Method::GET, system.notifications.url("notifications"))
        .bearer_auth(&system.token)
        .send()
        .await
        .unwrap();
    published.push(("notifications' jobs", response.text().await.unwrap()));
    let mail = &system.smtp().wait_for_messages(1, PATIENCE).await[0];
    let event_link = system.public_url(&system.calendar, &format!("event/{event_id}"));
    assert!(mail.text_body().unwrap().contains(&event_link), "the e-mail links to {event_link}");
    let raw = String::from_utf8_lossy(&mail.data).into_owned();
    assert!(!raw.contains(HOSTILE_HOST), "the e-mail names the hostile host: {raw}");
    published.push(("the invitation e-mail", mail.text_body().unwrap()));
    assert_eq!(jobs.len(), 1);

    let publics: Vec<String> = [&system.contacts, &system.calendar, &system.notifications]
        .iter()
        .map(|s| system.public_url(s, ""))
        .collect();
    let allowed: Vec<&str> = publics
        .iter()
        .map(String::as_str)
        .chain(["http://www.w3.org/2005/Atom", "http://purl.org/syndication/history/1.0"])
        // The page headers link the services at their configured public URLs (the defaults).
        .chain(["http://localhost:3000/", "http://localhost:3002/", "http://localhost:3003/"])
        .collect();
    for (what, text) in published {
        assert_links_under(what, &text, &publics[0], &allowed);
    }
    system.stop().await;
}

/// File descriptors the service gets: room for its database, sockets and the connections its
/// clients are allowed, far less than a client could open.
const FD_LIMIT: u32 = 256;
/// Connections the hostile client opens.
const HOGS: usize = 400;
/// The cap per client under test.
const CAP: usize = 32;

/// contacts (the real binary) under `ulimit -n` [`FD_LIMIT`], started through a small shell
/// script, as a service manager's `LimitNOFILE=` would.
async fn contacts_with_few_file_descriptors(workdir: &TempDir, db: &TestDb, cap: usize) -> ServiceProcess {
    build_services().await;
    let real = binary("contacts", "debug");
    let wrapper = workdir.path().join("contacts-with-fd-limit");
    std::fs::write(
        &wrapper,
        format!("#!/bin/sh\nulimit -n {FD_LIMIT} || exit 3\nexec '{}'\n", real.display()),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let spec = ServiceSpec::new("contacts", wrapper, workdir.path().to_path_buf())
        .env("PORT", "0")
        .env("DATABASE_URL", db.url.clone())
        .env("MAX_CONNECTIONS_PER_CLIENT", cap.to_string())
        // The hogs must not be cut off by the header timeout while the test runs.
        .env("HEADER_READ_TIMEOUT_SECS", "120");
    ServiceProcess::start(spec).await.unwrap()
}

#[tokio::test]
async fn one_client_with_hundreds_of_connections_cannot_starve_another() {
    let workdir = TempDir::new("system-test-fd-limit");
    let db = TestDb::new().await;
    let mut contacts = contacts_with_few_file_descriptors(&workdir, &db, CAP).await;
    let server = std::net::SocketAddr::from(([127, 0, 0, 1], contacts.port));

    // The hostile client: more connections than the service has file descriptors, each holding
    // a request that never finishes.
    let mut hogs = Vec::new();
    for _ in 0..HOGS {
        // A server that no longer accepts leaves new connections in its backlog until that is
        // full; then connecting fails or hangs, and there is no point in trying more.
        let Ok(Ok(mut stream)) =
            tokio::time::timeout(Duration::from_secs(5), connect_from(FIRST_CLIENT, server)).await
        else {
            break;
        };
        let _ = stream.write_all(b"GET /contacts HTTP/1.1\r\n").await;
        hogs.push(stream);
    }

    // Another client is served, and writes.
    let body = json!({"firstname": "Other", "lastname": "Client", "email": "other@example.org"}).to_string();
    let request = format!(
        "POST /contacts HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut other = tokio::time::timeout(PATIENCE, connect_from(OTHER_CLIENT, server))
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_else(|| panic!("the other client cannot even connect: contacts stopped accepting"));
    let answer =
        exchange(&mut other, request.as_bytes(), PATIENCE).await.expect("the other client is served");
    assert_eq!(answer.status, 201, "{}", answer.text());

    // ... while the hostile client still held every connection it was allowed, and no more.
    let mut open = 0;
    for hog in &hogs {
        let mut byte = [0u8; 1];
        if matches!(hog.try_read(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock) {
            open += 1;
        }
    }
    assert!(open <= CAP, "{open} connections of one client are open, more than its {CAP}");
    assert!(
        open >= CAP / 2,
        "the other client was served while the hostile one held its connections ({open} open)"
    );
    assert!(contacts.exit_status().is_none(), "contacts is still running");
    let refusals =
        contacts.logs().iter().filter(|l| l.contains("too many open connections from this client")).count();
    assert!(refusals >= HOGS - CAP, "contacts says why it closed them ({refusals} log lines)");
    drop(hogs);
    let status = contacts.stop(Duration::from_secs(40)).await.unwrap();
    assert!(status.success(), "contacts exited with {status}");
}
