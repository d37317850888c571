//! Hostile input against notifications, checked where it would do harm: at a real SMTP server.
//! Header injection through every field and the `Idempotency-Key`, SMTP smuggling through the
//! message, open-relay attempts (no or misplaced token, a sender of one's own, too many
//! recipients), markup on the pages, spoofed `Host` headers; and the shared checks (server
//! limits, security headers) over this service's routes.

// Helpers here panic on unexpected answers, like the tests themselves.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use notifications::startup::BODY_LIMIT;
use reqwest::{Method, StatusCode};
use serde_json::json;
use service_kit::config::DEFAULT_MAX_HEADER_BYTES;
use test_support::hostile::{
    HOSTILE_HOST, HOSTILE_HOST_HEADERS, HeaderCase, ServerLimits, assert_links_under,
    assert_security_headers_of, assert_security_headers_on, assert_server_limits, send_raw,
};
use test_support::smtp::{ReceivedMessage, SmtpServer};
use test_support::{json_body, wait_until};

use crate::helpers::{ADMIN_PASSWORD, ADMIN_USER, PATIENCE, TOKEN, TestApp, id_of, notification, use_smtp};

/// The only headers a message may have.
const MESSAGE_HEADERS: [&str; 8] = [
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
];

/// Waits until every stored job is sent, and returns what the SMTP server holds then: nothing
/// is left that could still arrive.
async fn delivered(app: &TestApp, server: &SmtpServer, jobs: usize) -> Vec<ReceivedMessage> {
    wait_until(&format!("{jobs} job(s) sent"), PATIENCE, || async {
        let all = app.all_jobs().await;
        (all.len() == jobs && all.iter().all(|j| j["status"] == "sent")).then_some(())
    })
    .await;
    server.messages()
}

/// Nothing but the expected headers, one `To` naming only `to`, the envelope to `to` only, from
/// the configured sender.
fn assert_clean(message: &ReceivedMessage, to: &str) {
    assert_eq!(message.mail_from, "notifications@localhost", "the envelope sender is MAIL_FROM");
    assert_eq!(message.rcpt_to, vec![to.to_string()], "the envelope names only {to}");
    let headers = message.raw_headers();
    for (name, value) in &headers {
        assert!(
            MESSAGE_HEADERS.contains(&name.to_ascii_lowercase().as_str()),
            "an extra header {name}: {value} in {}",
            String::from_utf8_lossy(&message.data)
        );
    }
    assert_eq!(headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case("to")).count(), 1);
    assert_eq!(message.raw_header("To").as_deref(), Some(to));
    assert_eq!(message.raw_header("From").as_deref(), Some("Notifications <notifications@localhost>"));
}

#[tokio::test]
async fn header_injection_through_any_field_never_reaches_the_smtp_server() {
    let server = SmtpServer::start().await;
    let app = TestApp::spawn_with(|s| use_smtp(s, &server)).await;
    let eve = "eve@evil.example";
    let refused = [
        json!({"email": "ada@example.org", "subject": format!("Hi\r\nBcc: {eve}"), "message": "m"}),
        json!({"email": "ada@example.org", "subject": format!("Hi\nBcc: {eve}"), "message": "m"}),
        json!({"email": "ada@example.org", "subject": format!("Hi\rBcc: {eve}"), "message": "m"}),
        json!({"email": "ada@example.org", "subject": format!("Hi\u{85}Bcc: {eve}"), "message": "m"}),
        json!({"email": "ada@example.org", "subject": "Hi\u{0}", "message": "m"}),
        json!({"email": format!("ada@example.org\r\nBcc: {eve}"), "message": "m"}),
        json!({"email": format!("ada@example.org>\r\nRCPT TO:<{eve}"), "message": "m"}),
        json!({"email": format!("Eve <{eve}>"), "message": "m"}),
        json!({"email": format!("\"Eve\r\nBcc: {eve}\" <ada@example.org>"), "message": "m"}),
        json!({"email": format!("ada@example.org,{eve}"), "message": "m"}),
        json!({"email": format!("ada@example.org, {eve}"), "message": "m"}),
        json!({"recipients": ["ada@example.org", format!("bob@example.org\r\nBcc: {eve}")], "message": "m"}),
        json!({"email": "ada@example.org", "message": "a bare \r carriage return"}),
        // A sender, or any header, of the caller's choosing.
        json!({"email": "ada@example.org", "message": "m", "from": eve}),
        json!({"email": "ada@example.org", "message": "m", "sender": eve}),
        json!({"email": "ada@example.org", "message": "m", "reply_to": eve}),
        json!({"email": "ada@example.org", "message": "m", "bcc": [eve]}),
        json!({"email": "ada@example.org", "message": "m", "cc": [eve]}),
        json!({"email": "ada@example.org", "message": "m", "headers": {"Bcc": eve}}),
    ];
    for body in &refused {
        let response = app.post(body, None).await;
        let status = response.status();
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {:?}", response.text().await);
    }
    // The Idempotency-Key never goes into a message, but it must not get in either; these
    // bytes cannot be sent with an HTTP client library, so they go on a raw connection.
    let body = notification("ada@example.org", "Hi", "m").to_string();
    for key in [
        &b"key\rBcc: eve@evil.example"[..],
        b"key\r\n Bcc: eve@evil.example",
        b"k\x00ey",
        b"k\x0bey",
        "k\u{e9}y".as_bytes(),
        b"key with spaces",
    ] {
        let mut request = format!(
            "POST /notifications HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer {TOKEN}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\nidempotency-key: ",
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(key);
        request.extend_from_slice(format!("\r\n\r\n{body}").as_bytes());
        let answer = send_raw(app.addr, &request, PATIENCE).await.expect("an answer");
        assert_eq!(answer.status, 400, "key {:?}: {}", String::from_utf8_lossy(key), answer.text());
    }
    assert!(app.all_jobs().await.is_empty(), "no refused request stored a job");

    // Accepted, and harmless: a Unicode line separator in the subject (sent as an encoded word),
    // and a message that tries SMTP smuggling (a lone dot ends DATA, then a second transaction).
    let separator = format!("Hi\u{2028}Bcc: {eve}");
    app.queue(&notification("ada@example.org", &separator, "m")).await;
    let smuggling = format!(
        "first line\n.\nMAIL FROM:<{eve}>\nRCPT TO:<victim@evil.example>\nDATA\nSubject: smuggled\n\nsmuggled\n.\n\
         \n.\r\nQUIT\n"
    );
    app.queue(&notification("ada@example.org", "Smuggling", &smuggling)).await;
    let messages = delivered(&app, &server, 2).await;
    assert_eq!(messages.len(), 2, "exactly the two accepted jobs arrived, nothing more");
    for message in &messages {
        assert_clean(message, "ada@example.org");
    }
    let by_subject = |s: &str| messages.iter().find(|m| m.subject().as_deref() == Some(s));
    assert!(by_subject(&separator).is_some(), "the subject arrives as it was given");
    let smuggled = by_subject("Smuggling").expect("the smuggling message");
    let text = smuggled.text_body().unwrap().replace("\r\n", "\n");
    assert!(
        text.contains("RCPT TO:<victim@evil.example>\nDATA"),
        "the message keeps the lines as text: {text}"
    );
    assert_eq!(server.stats().transactions_completed, 2, "two SMTP transactions, no smuggled third");
}

#[tokio::test]
async fn nothing_is_sent_without_a_valid_token_in_the_authorization_header() {
    let server = SmtpServer::start().await;
    let app = TestApp::spawn_with(|s| use_smtp(s, &server)).await;
    let body = notification("victim@example.org", "Spam", "Buy now");
    let attempts: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("no token", vec![]),
        ("a wrong token", vec![("authorization", "Bearer wrong".into())]),
        ("a prefix of the token", vec![("authorization", format!("Bearer {}", &TOKEN[..TOKEN.len() - 1]))]),
        ("the token and more", vec![("authorization", format!("Bearer {TOKEN}x"))]),
        ("no scheme", vec![("authorization", TOKEN.into())]),
        ("the Basic scheme", vec![("authorization", crate::helpers::basic("calendar", TOKEN))]),
        (
            "the operator's password",
            vec![("authorization", crate::helpers::basic(ADMIN_USER, ADMIN_PASSWORD))],
        ),
        ("a proxy header", vec![("proxy-authorization", format!("Bearer {TOKEN}"))]),
        ("a cookie", vec![("cookie", format!("token={TOKEN}"))]),
        ("an API-key header", vec![("x-api-key", TOKEN.into())]),
        ("a token header", vec![("token", TOKEN.into())]),
        (
            "a wrong token first",
            vec![("authorization", "Bearer wrong".into()), ("authorization", format!("Bearer {TOKEN}"))],
        ),
    ];
    for (what, headers) in &attempts {
        let mut request = app.http.post(app.url("/notifications")).json(&body);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{what}");
        assert_security_headers_of(what, response.headers());
    }
    for path in [format!("/notifications?access_token={TOKEN}"), format!("/notifications?token={TOKEN}")] {
        let response = app.http.post(app.url(&path)).json(&body).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    // A browser can post a form anywhere but cannot add the token; even with it, another site's
    // request is refused.
    let response = app
        .http
        .post(app.url("/notifications"))
        .bearer_auth(TOKEN)
        .header("origin", "http://evil.example")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    // One job with the token: it is the only message the SMTP server ever gets.
    app.queue(&notification("ada@example.org", "Hello", "Legit")).await;
    let messages = delivered(&app, &server, 1).await;
    assert_eq!(messages.len(), 1);
    assert_clean(&messages[0], "ada@example.org");
    assert_eq!(server.stats().transactions_completed, 1);
}

#[tokio::test]
async fn one_job_reaches_at_most_fifty_recipients_in_one_transaction() {
    let server = SmtpServer::start().await;
    let app = TestApp::spawn_with(|s| use_smtp(s, &server)).await;
    let list = |n: usize| (0..n).map(|i| format!("person{i}@example.org")).collect::<Vec<_>>();
    for too_many in [list(51), list(500)] {
        let response = app.post(&json!({"recipients": too_many, "message": "m"}), None).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(json_body(response).await["field"], "recipients");
    }
    app.queue(&json!({"recipients": list(50), "message": "Hello all"})).await;
    // A repeat (in any case) is sent once.
    let mut repeated = list(2);
    repeated.push(repeated[0].to_uppercase());
    app.queue(&json!({"recipients": repeated, "message": "Hello two"})).await;
    let messages = delivered(&app, &server, 2).await;
    assert_eq!(messages.len(), 2);
    let rcpts: Vec<Vec<String>> = messages.iter().map(|m| m.rcpt_to.clone()).collect();
    assert!(rcpts.contains(&list(50)), "fifty envelope recipients in one transaction");
    assert!(rcpts.contains(&list(2)), "the repeat is sent once");
    assert_eq!(server.stats().transactions_completed, 2);
}

#[tokio::test]
async fn an_address_the_mailer_cannot_send_is_refused_up_front() {
    let server = SmtpServer::start().await;
    let app = TestApp::spawn_with(|s| use_smtp(s, &server)).await;
    // Valid addresses (a quoted local part may hold anything printable) that lettre would
    // accept as an `Address` but cannot put into a `To` header.
    for address in [
        "\"<svg/onload=alert('to')>\"@example.org",
        "\"a<b\"@example.org",
        "\"a,b\"@example.org",
        "\"a@b\"@example.org",
        "\"a(b\"@example.org",
    ] {
        for (body, field) in [
            (json!({"email": address, "message": "m"}), "email"),
            (json!({"recipients": ["ada@example.org", address], "message": "m"}), "recipients[1]"),
        ] {
            let response = app.post(&body, None).await;
            assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{address}");
            assert_eq!(json_body(response).await["field"], field, "{address}");
        }
    }
    assert!(app.all_jobs().await.is_empty(), "no job that could never be sent was accepted");
    // A quoted local part that can be sent is accepted and sent.
    let id = id_of(&app.queue(&notification("\"o'neil\"@example.org", "Hi", "m")).await);
    app.wait_for_status(&id, "sent").await;
}

/// maud's escaping of text and attribute values.
fn escaped(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn assert_inert(what: &str, page: &str, payloads: &[&str]) {
    let lower = page.to_ascii_lowercase();
    for tag in ["<script", "<img", "<svg", "<iframe"] {
        assert!(!lower.contains(tag), "{what} contains a {tag} element: {page}");
    }
    for payload in payloads {
        assert!(!page.contains(payload), "{what} shows {payload:?} unescaped: {page}");
        assert!(page.contains(&escaped(payload)), "{what} does not show {payload:?} as text: {page}");
    }
}

#[tokio::test]
async fn markup_in_every_field_and_in_smtp_replies_shows_as_text_on_the_pages() {
    let subject = "<script>alert('subject')</script>";
    let message = "<img src=x onerror=alert('message')>";
    // The most an address can carry that matters in HTML: `&`, `'`.
    let recipient = "o'neil&co@example.org";
    let smtp_reply = "<iframe src=javascript:alert('smtp')></iframe> mailbox unavailable";

    // Mailbox mode: the stored message and the mailbox page.
    let app = TestApp::spawn().await;
    let id = id_of(&app.queue(&notification(recipient, subject, message)).await);
    app.wait_for_status(&id, "sent").await;
    for (what, path, payloads) in [
        ("the job list", "/notifications".to_string(), &[subject, recipient][..]),
        ("the job page", format!("/notifications/{id}"), &[subject, recipient, message][..]),
        ("the mailbox", "/mailbox".to_string(), &[subject, recipient][..]),
    ] {
        let response = app.page(&path).await;
        assert_eq!(response.status(), StatusCode::OK, "{what}");
        assert_inert(what, &response.text().await.unwrap(), payloads);
    }

    // SMTP mode: a server's refusal, kept as the job's last error, is shown as text too.
    let server = SmtpServer::start().await;
    let app = TestApp::spawn_with(|s| use_smtp(s, &server)).await;
    server.fail_next(1, 550, smtp_reply);
    let id = id_of(&app.queue(&notification("ada@example.org", "Hi", "m")).await);
    let failed = app.wait_for_status(&id, "failed").await;
    assert!(failed["last_error"].as_str().unwrap().contains("<iframe"), "{failed}");
    let page = app.page(&format!("/notifications/{id}")).await.text().await.unwrap();
    assert_inert("a failed job's page", &page, &["<iframe src=javascript:alert('smtp')></iframe>"]);
}

/// The shared hostile checks over this service's routes: service-kit's server limits wired
/// with the configured settings (431, 413, slow heads and bodies cut off, the per-client
/// connection cap), then the security headers on every kind of answer.
#[tokio::test]
async fn every_kind_of_answer_carries_the_security_headers_and_the_server_limits_hold() {
    let (header_read_timeout, request_timeout, connections_per_client) =
        (Duration::from_secs(2), Duration::from_secs(2), 4);
    let app = TestApp::spawn_with(|s| {
        s.common.header_read_timeout = header_read_timeout;
        s.common.request_timeout = request_timeout;
        s.common.max_connections_per_client = connections_per_client;
    })
    .await;
    // First, while the test client holds no keep-alive connection that would count against
    // the per-client cap.
    assert_server_limits(ServerLimits {
        addr: app.addr,
        get: "/health/live",
        writes: vec![("POST", "/notifications".into(), "application/json")],
        routes: vec![
            ("GET", "/".into()),
            ("GET", "/notifications".into()),
            ("POST", "/notifications".into()),
            ("GET", format!("/notifications/{}", uuid::Uuid::new_v4())),
            ("GET", "/mailbox".into()),
            ("GET", "/openapi.json".into()),
        ],
        max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
        body_limit: BODY_LIMIT,
        header_read_timeout,
        request_timeout,
        connections_per_client,
    })
    .await;
    assert!(app.all_jobs().await.is_empty(), "no cut-off or oversized request stored a job");

    let id = id_of(&app.queue(&notification("ada@example.org", "Hi", "Hello")).await);
    app.post(&notification("ada@example.org", "Hi", "Hello"), Some("key-1")).await;
    let bearer = ("authorization", format!("Bearer {TOKEN}"));
    let operator = ("authorization", format!("Bearer {TOKEN}"));
    let html = ("accept", "text/html".to_string());
    let json = ("content-type", "application/json".to_string());
    let valid = notification("ada@example.org", "Hi", "Hello").to_string();
    let cases: Vec<HeaderCase<String>> = vec![
        ("the front page redirect", Method::GET, "/".into(), vec![html.clone()], String::new(), 303),
        (
            "the job list page",
            Method::GET,
            "/notifications".into(),
            vec![html.clone(), operator.clone()],
            String::new(),
            200,
        ),
        (
            "a job page",
            Method::GET,
            format!("/notifications/{id}"),
            vec![html.clone(), operator.clone()],
            String::new(),
            200,
        ),
        (
            "a missing job page",
            Method::GET,
            format!("/notifications/{}", uuid::Uuid::now_v7()),
            vec![html.clone(), operator.clone()],
            String::new(),
            404,
        ),
        ("the mailbox", Method::GET, "/mailbox".into(), vec![operator.clone()], String::new(), 200),
        ("the pages' challenge", Method::GET, "/mailbox".into(), vec![], String::new(), 401),
        ("the API's challenge", Method::GET, "/notifications".into(), vec![], String::new(), 401),
        (
            "a new job",
            Method::POST,
            "/notifications".into(),
            vec![bearer.clone(), json.clone()],
            valid.clone(),
            202,
        ),
        (
            "a replayed job",
            Method::POST,
            "/notifications".into(),
            vec![bearer.clone(), json.clone(), ("idempotency-key", "key-1".into())],
            valid.clone(),
            202,
        ),
        (
            "a reused key",
            Method::POST,
            "/notifications".into(),
            vec![bearer.clone(), json.clone(), ("idempotency-key", "key-1".into())],
            notification("bob@example.org", "Hi", "Other").to_string(),
            409,
        ),
        ("the jobs", Method::GET, "/notifications".into(), vec![bearer.clone()], String::new(), 200),
        ("a job", Method::GET, format!("/notifications/{id}"), vec![bearer.clone()], String::new(), 200),
        (
            "a missing job",
            Method::GET,
            format!("/notifications/{}", uuid::Uuid::now_v7()),
            vec![bearer.clone()],
            String::new(),
            404,
        ),
        (
            "a malformed id",
            Method::GET,
            "/notifications/nope".into(),
            vec![bearer.clone()],
            String::new(),
            404,
        ),
        (
            "an invalid field",
            Method::POST,
            "/notifications".into(),
            vec![bearer.clone(), json.clone()],
            json!({"email": "x", "message": "m"}).to_string(),
            422,
        ),
        (
            "malformed JSON",
            Method::POST,
            "/notifications".into(),
            vec![bearer.clone(), json.clone()],
            "{".into(),
            400,
        ),
        (
            "a wrong media type",
            Method::POST,
            "/notifications".into(),
            vec![bearer.clone(), ("content-type", "text/plain".into())],
            valid.clone(),
            415,
        ),
        (
            "a body too large",
            Method::POST,
            "/notifications".into(),
            vec![bearer.clone(), json.clone()],
            "x".repeat(BODY_LIMIT + 1024),
            413,
        ),
        (
            "a cross-site refusal",
            Method::POST,
            "/notifications".into(),
            vec![bearer.clone(), json.clone(), ("origin", "http://evil.example".into())],
            valid,
            403,
        ),
        ("an unknown path", Method::GET, "/nothing/here".into(), vec![], String::new(), 404),
        ("a wrong method", Method::DELETE, "/notifications".into(), vec![bearer], String::new(), 405),
        ("the metrics", Method::GET, "/metrics".into(), vec![], String::new(), 200),
        ("liveness", Method::GET, "/health/live".into(), vec![], String::new(), 200),
        ("readiness", Method::GET, "/health/ready".into(), vec![], String::new(), 200),
        ("the OpenAPI document", Method::GET, "/openapi.json".into(), vec![], String::new(), 200),
        ("the stylesheet", Method::GET, "/assets/style.css".into(), vec![], String::new(), 200),
    ];
    assert_security_headers_on(&app.http, |path| app.url(path), cases).await;
}

#[tokio::test]
async fn a_spoofed_host_changes_no_published_link_and_nothing_in_the_message() {
    let public = "http://notifications.public.example:8080/";
    let server = SmtpServer::start().await;
    let app = TestApp::spawn_with(|s| {
        use_smtp(s, &server);
        s.common.public_url = Some(url::Url::parse(public).unwrap());
    })
    .await;
    let spoofed = |method: Method, path: &str| {
        let mut request = app.http.request(method, app.url(path)).bearer_auth(TOKEN);
        for (name, value) in HOSTILE_HOST_HEADERS {
            request = request.header(name, value);
        }
        request
    };
    let mut published = Vec::new();
    let mut ids = Vec::new();
    for i in 0..3 {
        let response = spoofed(Method::POST, "/notifications")
            .json(&notification(&format!("p{i}@example.org"), "Hi", "Hello"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        published.push(("a Location", response.headers()["location"].to_str().unwrap().to_string()));
        let job = json_body(response).await;
        ids.push(id_of(&job));
        published.push(("a new job", job.to_string()));
    }
    for (what, path, accept) in [
        ("a page of jobs", "/notifications?limit=1".to_string(), "application/json"),
        ("a job", format!("/notifications/{}", ids[0]), "application/json"),
    ] {
        let response = spoofed(Method::GET, &path).header("accept", accept).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{what}");
        published.push((what, response.text().await.unwrap()));
    }
    for (what, path) in [
        ("the job list page", "/notifications?limit=1".to_string()),
        ("a job page", format!("/notifications/{}", ids[0])),
    ] {
        let mut request = app.http.get(app.url(&path)).bearer_auth(TOKEN);
        for (name, value) in HOSTILE_HOST_HEADERS {
            request = request.header(name, value);
        }
        let response = request.header("accept", "text/html").send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{what}");
        published.push((what, response.text().await.unwrap()));
    }
    assert!(published.iter().any(|(_, t)| t.contains("cursor=")), "a next link was published");
    for (what, text) in &published {
        // The page header links the other services at their configured public URLs (the defaults).
        let apps = service_kit::config::AppUrls::default();
        assert_links_under(what, text, public, &[apps.contacts.as_str(), apps.calendar.as_str()]);
    }
    for message in delivered(&app, &server, 3).await {
        let raw = String::from_utf8_lossy(&message.data);
        assert!(!raw.contains(HOSTILE_HOST), "the message names the hostile host: {raw}");
        assert!(message.message_id().unwrap().ends_with("@localhost"), "Message-ID from MAIL_FROM's domain");
    }
}

#[tokio::test]
async fn a_job_id_in_another_spelling_is_no_job() {
    let app = TestApp::spawn().await;
    let id = id_of(&app.queue(&notification("ada@example.org", "Hello", "Hi")).await);
    assert_eq!(app.api_get(&format!("/notifications/{id}")).await.0, StatusCode::OK);
    for other in test_support::hostile::other_spellings(&id) {
        let other = other.replace('{', "%7B").replace('}', "%7D");
        let (status, body) = app.api_get(&format!("/notifications/{other}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "/notifications/{other}: {body}");
    }
}

fn counter(metrics: &str, line_start: &str) -> u64 {
    metrics
        .lines()
        .find(|line| line.starts_with(line_start))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse::<f64>().ok())
        .map_or(0, |value| value as u64)
}

/// The open relay of issue 14, from notifications' side: a caller with a valid token (calendar,
/// or whoever holds its token) sends as many invitations as it can. The quotas stop it, the SMTP
/// server gets no more mail than they allow, and another token keeps its own quota.
#[tokio::test]
async fn a_caller_relaying_mail_hits_its_quotas_and_the_smtp_server_gets_no_more() {
    let server = SmtpServer::start().await;
    let (jobs_quota, recipients_quota) = (4u32, 7u32);
    let app = TestApp::spawn_with(|s| {
        use_smtp(s, &server);
        s.common.auth.tokens.push(service_kit::config::Secret::new("other-token-0123456789"));
        s.quota_jobs_per_hour = jobs_quota;
        s.quota_recipients_per_hour = recipients_quota;
    })
    .await;
    let phish = |to: Vec<String>| json!({"recipients": to, "subject": "URGENT: verify your account", "message": "at http://phish.example/login"});
    // Two recipients a job: the recipients quota (7) refuses the fourth job.
    let mut accepted = 0;
    let mut refusals = Vec::new();
    for i in 0..10 {
        let response =
            app.post(&phish(vec![format!("v{i}a@example.org"), format!("v{i}b@example.org")]), None).await;
        match response.status().as_u16() {
            202 => accepted += 1,
            429 => {
                let retry_after =
                    response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
                let body = json_body(response).await;
                refusals.push((retry_after, body));
            }
            other => panic!("job {i}: {other} {:?}", response.text().await),
        }
    }
    assert_eq!(accepted, 3, "three jobs of two fit in 7 recipients, a fourth does not");
    assert_eq!(refusals.len(), 7);
    for (retry_after, body) in &refusals {
        assert_eq!(body["error"], "quota_exceeded", "{body}");
        let secs: u64 = retry_after.as_deref().expect("Retry-After").parse().expect("seconds");
        assert!((3500..=3600).contains(&secs), "Retry-After {secs}");
    }
    // One recipient still fits the recipients quota, then the jobs quota (4) refuses the next.
    assert_eq!(app.post(&phish(vec!["last@example.org".into()]), None).await.status(), 202);
    assert_eq!(app.post(&notification("more@example.org", "Hi", "x"), None).await.status(), 429);

    let messages = delivered(&app, &server, 4).await;
    assert_eq!(messages.iter().map(|m| m.rcpt_to.len()).sum::<usize>(), 7, "{messages:?}");
    assert!(messages.len() <= jobs_quota as usize);

    // Another credential is another caller.
    let response = app
        .http
        .post(app.url("/notifications"))
        .bearer_auth("other-token-0123456789")
        .json(&notification("ok@example.org", "Hello", "Legit"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202, "another token has its own quota");

    let metrics = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(counter(&metrics, "quota_refusals_total{quota=\"recipients\"}") >= 7, "{metrics}");
    assert!(counter(&metrics, "quota_refusals_total{quota=\"jobs\"}") >= 1, "{metrics}");
}

/// Addresses are taken only in a form the SMTP server can be given: domains as IDNA ASCII,
/// non-ASCII local parts only with `SMTP_UTF8=true` (the server then sees SMTPUTF8), look-alikes
/// and invisible characters refused; `RECIPIENT_DOMAINS` keeps mail to the listed domains.
#[tokio::test]
async fn recipients_are_taken_only_in_a_form_the_server_can_deliver_and_to_allowed_domains() {
    let server = SmtpServer::start().await;
    let app = TestApp::spawn_with(|s| use_smtp(s, &server)).await;
    let refused = app.post(&notification("zo\u{eb}@example.org", "Hi", "x"), None).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = json_body(refused).await;
    assert_eq!(body["field"], "email", "{body}");
    assert!(body["message"].as_str().unwrap().contains("SMTP_UTF8"), "{body}");
    for invisible in ["ada\u{200B}@example.org", "ada@exa\u{00AD}mple.org"] {
        let response = app.post(&notification(invisible, "Hi", "x"), None).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{invisible:?}");
    }
    assert_eq!(app.post(&notification("ada@B\u{fc}cher.example", "Hi", "x"), None).await.status(), 202);
    let messages = delivered(&app, &server, 1).await;
    assert_eq!(messages[0].rcpt_to, ["ada@xn--bcher-kva.example"]);

    let server = SmtpServer::start().await;
    let app = TestApp::spawn_with(|s| {
        use_smtp(s, &server);
        s.addresses.smtputf8 = true;
        s.addresses.domains = Some(vec!["example.org".into()]);
    })
    .await;
    assert_eq!(app.post(&notification("zoe\u{308}@example.org", "Hi", "x"), None).await.status(), 202);
    for elsewhere in ["eve@evil.example", "eve@sub.example.org"] {
        let response =
            app.post(&json!({"recipients": ["ok@example.org", elsewhere], "message": "x"}), None).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{elsewhere}");
        let body = json_body(response).await;
        assert_eq!(body["field"], "recipients[1]", "{body}");
        assert!(body["message"].as_str().unwrap().contains("RECIPIENT_DOMAINS"), "{body}");
    }
    let messages = delivered(&app, &server, 1).await;
    assert_eq!(messages.len(), 1, "the refused jobs stored and sent nothing");
    assert_eq!(messages[0].rcpt_to, ["zo\u{eb}@example.org"], "composed, through SMTPUTF8");
}
