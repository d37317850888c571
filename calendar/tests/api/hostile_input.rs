//! Hostile input against calendar: markup in every field shown on a page (users from the feed,
//! events, form errors), forms posted from other sites, spoofed `Host` headers, iCalendar
//! injection, too many invitations at once; and one smoke test running the shared checks
//! (security headers on every kind of answer, the server limits) over calendar's routes.

use std::net::SocketAddr;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use test_support::client::form_body;
use test_support::hostile::{
    HOSTILE_HOST_HEADERS, HeaderCase, OTHER_CLIENT, REBINDING, ServerLimits, assert_links_under,
    assert_security_headers_of, assert_security_headers_on, assert_server_limits,
};
use test_support::{TestDb, json_body, wait_until};
use uuid::Uuid;

use crate::feed_server::FeedServer;
use crate::helpers::{TestApp, WAIT, settings, spawn_with};
use crate::notifications_stub::NotificationsStub;

const FIRST: &str = "<script>alert('first')</script>";
/// Ends an attribute value if it is not escaped.
const LAST: &str = "\"><img src=x onerror=alert('last')>";
/// A valid address (a quoted local part may hold markup).
const EMAIL: &str = "\"<svg/onload=alert('email')>\"@example.org";
const TITLE: &str = "<b onmouseover=alert('title')>Party</b>";
const LOCATION: &str = "'><script>alert('location')</script>";
const DESCRIPTION_LINE: &str = "<iframe src=javascript:alert('description')></iframe>";

/// maud's escaping of text and attribute values.
fn escaped(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The page shows every payload as escaped text and contains no element a payload could make.
fn assert_inert(what: &str, page: &str, payloads: &[&str]) {
    let lower = page.to_ascii_lowercase();
    for tag in ["<script", "<img", "<svg", "<iframe", "<b "] {
        assert!(!lower.contains(tag), "{what} contains a {tag} element: {page}");
    }
    for payload in payloads {
        assert!(!page.contains(payload), "{what} shows {payload:?} unescaped: {page}");
        assert!(page.contains(&escaped(payload)), "{what} does not show {payload:?} as text: {page}");
    }
}

async fn html(app: &TestApp, path: &str) -> (StatusCode, String) {
    let response = app.get_accept(path, "text/html").await;
    (response.status(), response.text().await.unwrap())
}

fn socket(app: &TestApp) -> SocketAddr {
    app.address.trim_start_matches("http://").parse().unwrap()
}

/// A user with markup in every field, known to calendar; and a plain host.
async fn users_with_markup(feed: &FeedServer, app: &TestApp) -> (Uuid, Uuid) {
    let guest = feed.create_contact(EMAIL, FIRST, LAST);
    let host = feed.create_contact("host@example.org", "Hal", "Host");
    app.wait_for_user(guest).await;
    app.wait_for_user(host).await;
    (guest, host)
}

#[tokio::test]
async fn markup_in_every_field_shows_as_text_on_every_page() {
    let feed = FeedServer::start(20).await;
    let stub = NotificationsStub::start().await;
    let db = TestDb::new().await;
    let settings = settings(&db, &feed, Some(&stub));
    let app = spawn_with(db, settings).await;
    let (guest, host) = users_with_markup(&feed, &app).await;
    let event = json_body(
        app.post_json(
            &format!("/calendar/{guest}"),
            &json!({"title": TITLE, "date": "2026-12-24", "location": LOCATION,
                "description": format!("{DESCRIPTION_LINE}\nsecond line")}),
        )
        .await,
    )
    .await;
    let event_id = event["id"].as_str().unwrap().to_string();
    let response = app.post_json(&format!("/event/{event_id}/participants"), &json!([EMAIL])).await;
    assert_eq!(response.status(), 200);
    // The host's event lists the guest as a participant too.
    let hosted = app.create_event(host, "Plain").await;
    app.post_json(&format!("/event/{hosted}/participants"), &json!([EMAIL])).await;

    let names = [FIRST, LAST, EMAIL];
    let event_fields = [TITLE, LOCATION, DESCRIPTION_LINE];
    for (what, path, payloads) in [
        ("the users list", "/users".to_string(), &names[..]),
        ("a user's page", format!("/users/{guest}"), &names[..]),
        ("the calendar page", format!("/calendar/{guest}?month=2026-12"), &[FIRST, LAST, TITLE][..]),
        (
            "the event page",
            format!("/event/{event_id}"),
            &[FIRST, LAST, EMAIL, TITLE, LOCATION, DESCRIPTION_LINE][..],
        ),
        ("another event's participants", format!("/event/{hosted}"), &names[..]),
    ] {
        let (status, page) = html(&app, &path).await;
        assert_eq!(status, StatusCode::OK, "{what}");
        assert_inert(what, &page, payloads);
    }

    // Input reflected into pages: the add-event form and the invitation form shown again.
    let response = app
        .post_form(
            &format!("/calendar/{guest}/new"),
            &[
                ("title", TITLE),
                ("date", "2026-02-30"),
                ("location", LOCATION),
                ("description", DESCRIPTION_LINE),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_inert("the add-event form shown again", &response.text().await.unwrap(), &event_fields);
    let bad_address = "<script>alert('invite')</script>";
    let response = app.post_form(&format!("/event/{event_id}/invite"), &[("emails", bad_address)]).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_inert("the invitation form's error", &response.text().await.unwrap(), &[bad_address]);

    // The invitation e-mail carries the title as plain text; calendar writes no markup of its own.
    let sent = wait_until("the invitations to reach notifications", WAIT, || async {
        let accepted = stub.accepted();
        (accepted.len() == 2).then_some(accepted)
    })
    .await;
    let invitation = sent.iter().find(|r| r.body["subject"].as_str().unwrap().contains(TITLE)).unwrap();
    assert_eq!(invitation.body["subject"], format!("Invitation: {TITLE}"));
}

#[tokio::test]
async fn a_contact_link_that_is_not_http_never_becomes_a_link() {
    let feed = FeedServer::start(20).await;
    let app = crate::helpers::spawn_app(&feed).await;
    let id = Uuid::now_v7();
    feed.push_event(
        "contact-created",
        json!({"id": id, "firstname": "Jay", "lastname": "Script", "email": "jay@example.org",
            "self": "javascript:alert(document.domain)"}),
    );
    let user = app.wait_for_user(id).await;
    assert_eq!(user["contact"], "", "a javascript: URL is not kept");
    let (_, page) = html(&app, &format!("/users/{id}")).await;
    assert!(!page.contains("javascript:"), "a javascript: URL from the feed is not a link: {page}");

    // Nor through an update.
    feed.push_event(
        "contact-updated",
        json!({"id": id, "updates": {"firstname": "Jo"}, "contact": "data:text/html,<script>alert(1)</script>"}),
    );
    let user = wait_until("the update", WAIT, || async {
        let user = app.wait_for_user(id).await;
        (user["firstname"] == "Jo").then_some(user)
    })
    .await;
    assert_eq!(user["contact"], "", "a data: URL is not kept");
    let (_, page) = html(&app, &format!("/users/{id}")).await;
    assert!(!page.contains("data:text/html"), "{page}");
}

#[tokio::test]
async fn the_ics_export_keeps_hostile_text_inside_its_properties() {
    let feed = FeedServer::start(20).await;
    let app = crate::helpers::spawn_app(&feed).await;
    let owner = feed.create_contact("ann@example.org", "Ann", "Lee");
    app.wait_for_user(owner).await;
    let injected = "Hi\nEND:VEVENT\nBEGIN:VEVENT\nUID:evil\nSUMMARY:injected\nEND:VEVENT\nBEGIN:VEVENT";
    let response = app
        .post_json(
            &format!("/calendar/{owner}"),
            &json!({"title": "Meet; then, talk: here", "date": "2026-12-24", "description": injected,
                "location": "Room 1;URL=http://evil.example"}),
        )
        .await;
    assert_eq!(response.status(), 201);
    for path in [format!("/calendar/{owner}.ics"), format!("/calendar/{owner}")] {
        let ics = app.get(&path).await.text().await.unwrap();
        assert_eq!(
            ics.matches("\r\nBEGIN:VEVENT\r\n").count(),
            1,
            "{path}: one event, no injected one: {ics}"
        );
        assert!(!ics.contains("\r\nUID:evil"), "{ics}");
        let unfolded = ics.replace("\r\n ", "");
        assert!(unfolded.contains("DESCRIPTION:Hi\\nEND:VEVENT\\nBEGIN:VEVENT"), "{unfolded}");
        assert!(unfolded.contains("LOCATION:Room 1\\;URL=http://evil.example"), "{unfolded}");
        assert!(!unfolded.contains("\r\nURL=http://evil"), "{unfolded}");
    }
}

#[tokio::test]
async fn every_form_and_write_refuses_a_post_from_another_site_and_changes_nothing() {
    let feed = FeedServer::start(20).await;
    let stub = NotificationsStub::start().await;
    let db = TestDb::new().await;
    let settings = settings(&db, &feed, Some(&stub));
    let app = spawn_with(db, settings).await;
    let owner = feed.create_contact("vic@example.org", "Vic", "Tim");
    let guest = feed.create_contact("gus@example.org", "Gus", "Guest");
    app.wait_for_user(owner).await;
    app.wait_for_user(guest).await;
    let event = app.create_event(owner, "Private").await;
    let response = app.post_json(&format!("/event/{event}/participants"), &json!(["gus@example.org"])).await;
    assert_eq!(response.status(), 200);
    let before = state(&app, owner, &event).await;

    let form = "application/x-www-form-urlencoded";
    let json = "application/json";
    let event_form = form_body(&[("title", "Hijacked"), ("date", "2026-12-25")]);
    let writes = [
        (Method::POST, format!("/calendar/{owner}/new"), form, event_form.clone()),
        (Method::POST, format!("/event/{event}/edit"), form, event_form.clone()),
        (Method::POST, format!("/event/{event}/invite"), form, form_body(&[("emails", "vic@example.org")])),
        (Method::POST, format!("/event/{event}/participants/{guest}/remove"), form, String::new()),
        (Method::POST, format!("/event/{event}/delete"), form, String::new()),
        (
            Method::POST,
            format!("/calendar/{owner}"),
            json,
            json!({"title": "X", "date": "2026-12-25"}).to_string(),
        ),
        (
            Method::PUT,
            format!("/event/{event}"),
            json,
            json!({"title": "X", "date": "2026-12-25"}).to_string(),
        ),
        (Method::POST, format!("/event/{event}/participants"), json, json!(["vic@example.org"]).to_string()),
        (Method::DELETE, format!("/event/{event}/participants/{guest}"), json, String::new()),
        (Method::DELETE, format!("/event/{event}"), json, String::new()),
    ];
    let foreign: [&[(&str, &str)]; 4] = [
        &[("origin", "http://evil.example")],
        &[("origin", "null")],
        &[("sec-fetch-site", "cross-site")],
        &[("sec-fetch-site", "same-site"), ("origin", "http://sub.localhost:3002")],
    ];
    for (method, path, content_type, body) in &writes {
        for headers in foreign {
            let mut request = app
                .http
                .request(method.clone(), app.url(path))
                .header("content-type", *content_type)
                .body(body.clone());
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{method} {path} with {headers:?}");
            assert_security_headers_of(&format!("the refusal of {method} {path}"), response.headers());
        }
    }
    // A page whose name was rebound to the service, and a page of another scheme.
    let https_origin = app.address.replacen("http://", "https://", 1);
    let https: [(&str, &str); 1] = [("origin", https_origin.as_str())];
    let refused: [(&[(&str, &str)], StatusCode); 2] =
        [(&REBINDING, StatusCode::MISDIRECTED_REQUEST), (&https, StatusCode::FORBIDDEN)];
    for (method, path, content_type, body) in &writes {
        for (headers, status) in refused {
            let mut request = app
                .http
                .request(method.clone(), app.url(path))
                .header("content-type", *content_type)
                .body(body.clone());
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), status, "{method} {path} with {headers:?}");
            assert_security_headers_of(&format!("the refusal of {method} {path}"), response.headers());
        }
    }
    assert_eq!(state(&app, owner, &event).await, before, "nothing changed");

    // The page's own form goes through.
    let response = app
        .http
        .post(app.url(&format!("/event/{event}/edit")))
        .header("content-type", form)
        .header("sec-fetch-site", "same-origin")
        .body(event_form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
}

/// What a refused write could have changed: the owner's events and the event's participants.
async fn state(app: &TestApp, owner: Uuid, event: &str) -> (Value, Value) {
    let (_, calendar) = app.get_json(&format!("/calendar/{owner}")).await;
    let (_, participants) = app.get_json(&format!("/event/{event}/participants")).await;
    let titles: Vec<Value> =
        calendar["items"].as_array().unwrap().iter().map(|e| e["title"].clone()).collect();
    (Value::from(titles), participants)
}

#[tokio::test]
async fn every_kind_of_answer_carries_the_security_headers_and_the_server_limits_hold() {
    let feed = FeedServer::start(20).await;
    let db = TestDb::new().await;
    let mut settings = settings(&db, &feed, None);
    settings.common.header_read_timeout = Duration::from_secs(2);
    settings.common.request_timeout = Duration::from_secs(2);
    settings.common.max_connections_per_client = 4;
    let (max_header_bytes, connections_per_client) =
        (settings.common.max_header_bytes, settings.common.max_connections_per_client);
    let mut app = spawn_with(db, settings).await;
    // This test's own requests come from the other loopback address: the connection cap is
    // checked exactly for the first, and a connection kept alive from there would count.
    app.client.http = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .local_address(OTHER_CLIENT)
        .build()
        .unwrap();
    let owner = feed.create_contact("ann@example.org", "Ann", "Lee");
    let guest = feed.create_contact("bob@example.org", "Bob", "Ray");
    app.wait_for_user(owner).await;
    app.wait_for_user(guest).await;
    let event = app.create_event(owner, "Party").await;
    let before = state(&app, owner, &event).await;

    let json = "application/json";
    let form = "application/x-www-form-urlencoded";
    assert_server_limits(ServerLimits {
        addr: socket(&app),
        get: "/users",
        writes: vec![
            ("POST", format!("/calendar/{owner}"), json),
            ("POST", format!("/calendar/{owner}/new"), form),
            ("PUT", format!("/event/{event}"), json),
            ("POST", format!("/event/{event}/edit"), form),
            ("POST", format!("/event/{event}/participants"), json),
            ("POST", format!("/event/{event}/invite"), form),
        ],
        routes: vec![
            ("GET", "/".into()),
            ("GET", "/users".into()),
            ("GET", format!("/users/{guest}")),
            ("GET", format!("/calendar/{owner}")),
            ("GET", format!("/calendar/{owner}.ics")),
            ("POST", format!("/calendar/{owner}")),
            ("POST", format!("/calendar/{owner}/new")),
            ("GET", format!("/event/{event}")),
            ("PUT", format!("/event/{event}")),
            ("DELETE", format!("/event/{event}")),
            ("POST", format!("/event/{event}/edit")),
            ("POST", format!("/event/{event}/delete")),
            ("POST", format!("/event/{event}/invite")),
            ("GET", format!("/event/{event}/participants")),
            ("POST", format!("/event/{event}/participants")),
            ("DELETE", format!("/event/{event}/participants/{guest}")),
            ("POST", format!("/event/{event}/participants/{guest}/remove")),
            ("GET", "/feed/parked".into()),
            ("POST", format!("/feed/parked/{}/retry", uuid::Uuid::new_v4())),
            ("GET", "/openapi.json".into()),
        ],
        max_header_bytes,
        body_limit: service_kit::http::DEFAULT_BODY_LIMIT,
        header_read_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(2),
        connections_per_client,
    })
    .await;
    assert_eq!(state(&app, owner, &event).await, before, "nothing was written");

    let html = ("accept", "text/html");
    let json = ("content-type", json);
    let form = ("content-type", form);
    let new_event = json!({"title": "Dinner", "date": "2026-12-05"}).to_string();
    let cases: Vec<HeaderCase<&str>> = vec![
        ("the front page redirect", Method::GET, "/".into(), vec![html], String::new(), 303),
        ("the users page", Method::GET, "/users".into(), vec![html], String::new(), 200),
        ("a user's page", Method::GET, format!("/users/{owner}"), vec![html], String::new(), 200),
        ("a calendar page", Method::GET, format!("/calendar/{owner}"), vec![html], String::new(), 200),
        ("an event page", Method::GET, format!("/event/{event}"), vec![html], String::new(), 200),
        (
            "a form redirect",
            Method::POST,
            format!("/calendar/{owner}/new"),
            vec![form],
            form_body(&[("title", "F"), ("date", "2026-12-06")]),
            303,
        ),
        (
            "a form with errors",
            Method::POST,
            format!("/calendar/{owner}/new"),
            vec![form],
            form_body(&[("title", "F"), ("date", "2026-02-30")]),
            422,
        ),
        ("the users as JSON", Method::GET, "/users".into(), vec![], String::new(), 200),
        (
            "a user as JSON",
            Method::GET,
            format!("/users/{owner}"),
            vec![("accept", "application/json")],
            String::new(),
            200,
        ),
        (
            "a calendar as JSON",
            Method::GET,
            format!("/calendar/{owner}"),
            vec![("accept", "application/json")],
            String::new(),
            200,
        ),
        ("a calendar as iCalendar", Method::GET, format!("/calendar/{owner}"), vec![], String::new(), 200),
        ("the .ics subscription", Method::GET, format!("/calendar/{owner}.ics"), vec![], String::new(), 200),
        ("an event as JSON", Method::GET, format!("/event/{event}"), vec![], String::new(), 200),
        ("the participants", Method::GET, format!("/event/{event}/participants"), vec![], String::new(), 200),
        ("a creation", Method::POST, format!("/calendar/{owner}"), vec![json], new_event.clone(), 201),
        (
            "an invitation",
            Method::POST,
            format!("/event/{event}/participants"),
            vec![json],
            json!(["bob@example.org"]).to_string(),
            200,
        ),
        (
            "unknown participants",
            Method::POST,
            format!("/event/{event}/participants"),
            vec![json],
            json!(["nobody@example.org"]).to_string(),
            422,
        ),
        (
            "an invalid field",
            Method::POST,
            format!("/calendar/{owner}"),
            vec![json],
            json!({"title": ""}).to_string(),
            422,
        ),
        ("malformed JSON", Method::POST, format!("/calendar/{owner}"), vec![json], "{".into(), 400),
        (
            "a form posted to a JSON endpoint",
            Method::POST,
            format!("/calendar/{owner}"),
            vec![form],
            form_body(&[("title", "F"), ("date", "2026-12-06")]),
            415,
        ),
        (
            "a wrong media type",
            Method::PUT,
            format!("/event/{event}"),
            vec![("content-type", "text/plain")],
            new_event.clone(),
            415,
        ),
        ("a body too large", Method::POST, format!("/calendar/{owner}"), vec![json], "x".repeat(70_000), 413),
        ("a bad query", Method::GET, "/users?limit=0".into(), vec![], String::new(), 400),
        ("an unknown user", Method::GET, format!("/users/{}", Uuid::now_v7()), vec![], String::new(), 404),
        ("an unknown path", Method::GET, "/nothing/here".into(), vec![], String::new(), 404),
        ("a wrong method", Method::PATCH, format!("/event/{event}"), vec![], String::new(), 405),
        (
            "a cross-site refusal",
            Method::POST,
            format!("/calendar/{owner}"),
            vec![json, ("origin", "http://evil.example")],
            new_event,
            403,
        ),
        (
            "a removal",
            Method::DELETE,
            format!("/event/{event}/participants/{guest}"),
            vec![],
            String::new(),
            204,
        ),
        ("a deletion", Method::DELETE, format!("/event/{event}"), vec![], String::new(), 204),
        ("the metrics", Method::GET, "/metrics".into(), vec![], String::new(), 200),
        ("liveness", Method::GET, "/health/live".into(), vec![], String::new(), 200),
        ("readiness", Method::GET, "/health/ready".into(), vec![], String::new(), 200),
        ("the OpenAPI document", Method::GET, "/openapi.json".into(), vec![], String::new(), 200),
        ("the stylesheet", Method::GET, "/assets/style.css".into(), vec![], String::new(), 200),
    ];
    assert_security_headers_on(&app.http, |path| app.url(path), cases).await;
}

#[tokio::test]
async fn a_spoofed_host_changes_no_published_link() {
    let public = "http://calendar.public.example:8080/";
    let feed = FeedServer::start(20).await;
    let stub = NotificationsStub::start().await;
    let db = TestDb::new().await;
    let mut settings = settings(&db, &feed, Some(&stub));
    settings.common.public_url = Some(url::Url::parse(public).unwrap());
    let app = spawn_with(db, settings).await;
    let owner = feed.create_contact("ann@example.org", "Ann", "Lee");
    let guest = feed.create_contact("bob@example.org", "Bob", "Ray");
    app.wait_for_user(owner).await;
    app.wait_for_user(guest).await;
    let spoofed = |method: Method, path: &str| {
        let mut request = app.http.request(method, app.url(path));
        for (name, value) in HOSTILE_HOST_HEADERS {
            request = request.header(name, value);
        }
        request
    };
    let mut published = Vec::new();
    let mut events = Vec::new();
    for i in 0..3 {
        let response = spoofed(Method::POST, &format!("/calendar/{owner}"))
            .json(&json!({"title": format!("Event {i}"), "date": format!("2026-12-0{}", i + 1)}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        published.push(("a Location", response.headers()["location"].to_str().unwrap().to_string()));
        let body = json_body(response).await;
        events.push(body["id"].as_str().unwrap().to_string());
        published.push(("a created event", body.to_string()));
    }
    let response = spoofed(Method::POST, &format!("/calendar/{owner}/new"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(&[("title", "Form"), ("date", "2026-12-09")]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    published.push(("a form's redirect", response.headers()["location"].to_str().unwrap().to_string()));
    let response = spoofed(Method::POST, &format!("/event/{}/participants", events[0]))
        .json(&json!(["bob@example.org"]))
        .send()
        .await
        .unwrap();
    published.push(("an invitation's answer", response.text().await.unwrap()));
    let response = spoofed(Method::POST, &format!("/event/{}/delete", events[2])).send().await.unwrap();
    published.push(("a deletion's redirect", response.headers()["location"].to_str().unwrap().to_string()));
    for (what, path, accept) in [
        ("a page of users", "/users?limit=1".to_string(), "application/json"),
        ("a user", format!("/users/{owner}"), "application/json"),
        ("a page of a calendar", format!("/calendar/{owner}?limit=1"), "application/json"),
        ("the .ics", format!("/calendar/{owner}.ics"), "text/calendar"),
        ("an event", format!("/event/{}", events[0]), "application/json"),
        ("the participants", format!("/event/{}/participants", events[0]), "application/json"),
        ("the users page", "/users?limit=1".to_string(), "text/html"),
        ("a user's page", format!("/users/{owner}"), "text/html"),
        ("a calendar page", format!("/calendar/{owner}?month=2026-12"), "text/html"),
        ("an event page", format!("/event/{}", events[0]), "text/html"),
    ] {
        let response = spoofed(Method::GET, &path).header("accept", accept).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{what}");
        published.push((what, response.text().await.unwrap()));
    }
    // The invitation e-mail's link.
    let sent = wait_until("the invitation to reach notifications", WAIT, || async {
        stub.accepted().into_iter().next()
    })
    .await;
    assert!(sent.body["message"].as_str().unwrap().contains(&format!("{public}event/{}", events[0])));
    published.push(("the invitation e-mail", sent.body.to_string()));
    // Users link to contacts at the address the feed gave; that is not calendar's to choose.
    let contacts = feed.feed_url().origin().ascii_serialization();
    // The page header links the other services at their configured public URLs (the defaults).
    let apps = service_kit::config::AppUrls::default();
    let (other_contacts, notifications) = (apps.contacts.to_string(), apps.notifications.to_string());
    for (what, text) in published {
        assert_links_under(what, &text, public, &[&contacts, &other_contacts, &notifications]);
    }
}

#[tokio::test]
async fn more_invitations_at_once_than_allowed_are_refused_and_change_nothing() {
    let feed = FeedServer::start(20).await;
    let app = crate::helpers::spawn_app(&feed).await;
    let owner = feed.create_contact("ann@example.org", "Ann", "Lee");
    app.wait_for_user(owner).await;
    let event = app.create_event(owner, "Party").await;
    // More invitations at once than allowed, in a body that fits.
    let too_many: Vec<String> = (0..101).map(|i| format!("p{i}@example.org")).collect();
    let response = app.post_json(&format!("/event/{event}/participants"), &json!(too_many)).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json_body(response).await["field"], "emails");
    let (_, calendar) = app.get_json(&format!("/calendar/{owner}")).await;
    assert_eq!(calendar["items"].as_array().unwrap().len(), 1, "no event was added");
    assert_eq!(calendar["items"][0]["title"], "Party", "the event is unchanged");
    assert_eq!(app.get_json(&format!("/event/{event}/participants")).await.1, json!([]));
}

#[tokio::test]
async fn an_id_in_another_spelling_is_no_event_and_no_user() {
    let feed = FeedServer::start(20).await;
    let db = TestDb::new().await;
    let settings = settings(&db, &feed, None);
    let app = spawn_with(db, settings).await;
    let owner = feed.create_contact("ann@example.org", "Ann", "Lee");
    app.wait_for_user(owner).await;
    let event = app.create_event(owner, "Party").await;
    let owner = owner.to_string();
    assert_eq!(app.get(&format!("/event/{event}")).await.status(), StatusCode::OK);
    for (id, paths) in [(&event, ["/event/", "/event/"]), (&owner, ["/users/", "/calendar/"])] {
        for other in test_support::hostile::other_spellings(id) {
            let other = other.replace('{', "%7B").replace('}', "%7D");
            for prefix in paths {
                let path = format!("{prefix}{other}");
                assert_eq!(app.get(&path).await.status(), StatusCode::NOT_FOUND, "GET {path}");
            }
        }
    }
    for other in test_support::hostile::other_spellings(&event) {
        let other = other.replace('{', "%7B").replace('}', "%7D");
        let response = app.http.delete(app.url(&format!("/event/{other}"))).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "DELETE /event/{other}");
    }
    assert_eq!(app.get(&format!("/event/{event}")).await.status(), StatusCode::OK, "still there");
}
