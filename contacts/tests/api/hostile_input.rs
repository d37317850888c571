//! Hostile input against contacts: markup in every field, forms posted from other sites,
//! spoofed `Host` headers, bodies over the limit; and one table-driven smoke test that runs the
//! shared checks of `test_support::hostile` over the service's routes (security headers on every
//! kind of answer, the server limits wired with the configured settings). How each server
//! protection behaves in detail is tested once, in `service-kit/tests/hostile_clients.rs`.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;
use test_support::client::form_body;
use test_support::hostile::{
    HOSTILE_HOST_HEADERS, HeaderCase, REBINDING, ServerLimits, assert_links_under,
    assert_security_headers_of, assert_security_headers_on, assert_server_limits,
};
use test_support::{TestDb, http_client, json_body};
use url::Url;

use crate::helpers::{Options, TestApp, error_code, spawn_app, spawn_configured};

const FIRST: &str = "<script>alert('first')</script>";
/// Ends an attribute value if it is not escaped.
const LAST: &str = "\"><img src=x onerror=alert('last')>";
/// A valid address (a quoted local part may hold markup).
const EMAIL: &str = "\"<svg/onload=alert('email')>\"@example.org";

/// maud's escaping of text and attribute values.
fn escaped(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

async fn page(app: &TestApp, path: &str) -> (StatusCode, String) {
    let response = app.get_with(path, &[("accept", "text/html")]).await;
    (response.status(), response.text().await.unwrap())
}

/// The page shows every payload as escaped text and contains no element a payload could make.
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
async fn markup_in_every_field_shows_as_text_on_every_page() {
    let app = spawn_app().await;
    let contact = app.create(FIRST, LAST, EMAIL).await;
    let path = TestApp::contact_path(&contact);
    for (what, page_path) in [
        ("the list", "/".to_string()),
        ("the list at /contacts", "/contacts".to_string()),
        ("the contact's page", path.clone()),
        ("the edit form", format!("{path}/edit")),
        ("the delete confirmation", format!("{path}/delete")),
    ] {
        let (status, page) = page(&app, &page_path).await;
        assert_eq!(status, StatusCode::OK, "{what}");
        assert_inert(what, &page, &[FIRST, LAST, EMAIL]);
    }

    // Input reflected into pages: a search, and a form shown again with its errors.
    let query = format!("/?q={}", url::form_urlencoded::byte_serialize(FIRST.as_bytes()).collect::<String>());
    let (_, search) = page(&app, &query).await;
    assert_inert("a search for markup", &search, &[FIRST]);
    let bad_email = "<script>alert('mail')</script>";
    let response = app
        .post_form("/contacts/new", &[("firstname", FIRST), ("lastname", LAST), ("email", bad_email)])
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_inert("the form shown again", &response.text().await.unwrap(), &[FIRST, LAST, bad_email]);

    // The feed carries the names as escaped XML text; nothing turns into markup.
    let feed = app.get("/feed").await.text().await.unwrap();
    assert!(!feed.contains("<script") && !feed.contains("<img") && !feed.contains("<svg"), "{feed}");
    let parsed = crate::helpers::parse_feed(&feed);
    let event = crate::helpers::event_of(&parsed.entries()[0]);
    assert_eq!(event["payload"]["firstname"], FIRST, "the feed keeps the text as it was given");
}

#[tokio::test]
async fn every_form_and_write_refuses_a_post_from_another_site_and_changes_nothing() {
    let app = spawn_app().await;
    let contact = app.create("Vic", "Tim", "vic@example.org").await;
    let id = contact["id"].as_str().unwrap();
    let form = form_body(&[("firstname", "Mal"), ("lastname", "Lory"), ("email", "mal@example.org")]);
    let forms = [
        (Method::POST, "/contacts/new".to_string(), "application/x-www-form-urlencoded", form.clone()),
        (Method::POST, format!("/contacts/{id}/edit"), "application/x-www-form-urlencoded", form.clone()),
        (Method::POST, format!("/contacts/{id}/delete"), "application/x-www-form-urlencoded", String::new()),
        // The JSON API too: a page can send these with fetch().
        (
            Method::POST,
            "/contacts".to_string(),
            "application/json",
            json!({"firstname": "M", "lastname": "L", "email": "m@example.org"}).to_string(),
        ),
        (Method::PUT, format!("/contacts/{id}"), "application/json", json!({"lastname": "Lory"}).to_string()),
        (Method::DELETE, format!("/contacts/{id}"), "application/json", String::new()),
    ];
    let foreign = [
        vec![("origin", "http://evil.example")],
        vec![("origin", "null")],
        vec![("sec-fetch-site", "cross-site")],
        vec![("sec-fetch-site", "same-site"), ("origin", "http://sub.localhost:3000")],
        // A browser always sends Sec-Fetch-Site when it has it; the Origin cannot talk it round.
        vec![("sec-fetch-site", "cross-site"), ("origin", &app.address)],
    ];
    let before = app.store.read_head().await.unwrap().sequence;
    for (method, path, content_type, body) in &forms {
        for headers in &foreign {
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
            assert_eq!(json_body(response).await["error"], "forbidden");
        }
    }
    // A page whose name was rebound to the service, and a page of another scheme.
    let https_origin = app.address.replacen("http://", "https://", 1);
    let https: [(&str, &str); 1] = [("origin", https_origin.as_str())];
    let refused: [(&[(&str, &str)], StatusCode); 2] =
        [(&REBINDING, StatusCode::MISDIRECTED_REQUEST), (&https, StatusCode::FORBIDDEN)];
    for (method, path, content_type, body) in &forms {
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
    assert_eq!(app.store.read_head().await.unwrap().sequence, before, "nothing was written");
    assert_eq!(app.store.all_contacts().await.unwrap().len(), 1);

    // The same form from the service's own page goes through.
    let response = app
        .http
        .post(app.url(&format!("/contacts/{id}/edit")))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("sec-fetch-site", "same-origin")
        .header("origin", &app.address)
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "a same-origin form post is accepted");
}

#[tokio::test]
async fn every_kind_of_answer_carries_the_security_headers_and_the_server_limits_hold() {
    let app = spawn_configured(|s| {
        s.feed_page_size = 1;
        s.common.header_read_timeout = Duration::from_secs(2);
        s.common.request_timeout = Duration::from_secs(2);
        s.common.max_connections_per_client = 4;
    })
    .await;

    // The limits first, while no pooled connection of the table's client counts against the
    // per-client cap.
    assert_server_limits(ServerLimits {
        addr: app.addr(),
        get: "/contacts",
        writes: vec![
            ("POST", "/contacts".into(), "application/json"),
            ("POST", "/contacts/new".into(), "application/x-www-form-urlencoded"),
        ],
        routes: {
            let id = uuid::Uuid::new_v4();
            vec![
                ("GET", "/".into()),
                ("GET", "/contacts".into()),
                ("POST", "/contacts".into()),
                ("GET", format!("/contacts/{id}")),
                ("PUT", format!("/contacts/{id}")),
                ("DELETE", format!("/contacts/{id}")),
                ("GET", "/contacts/new".into()),
                ("POST", "/contacts/new".into()),
                ("GET", format!("/contacts/{id}/edit")),
                ("POST", format!("/contacts/{id}/edit")),
                ("GET", format!("/contacts/{id}/delete")),
                ("POST", format!("/contacts/{id}/delete")),
                ("GET", "/feed".into()),
                ("GET", "/feed/archive/1".into()),
                ("GET", "/openapi.json".into()),
            ]
        },
        max_header_bytes: 32 * 1024,
        body_limit: 64 * 1024,
        header_read_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(2),
        connections_per_client: 4,
    })
    .await;
    assert_eq!(app.store.read_head().await.unwrap().sequence, 0, "nothing was written");

    let contact = app.create("Ann", "Lee", "ann@example.org").await;
    app.create("Bob", "Ray", "bob@example.org").await;
    let path = TestApp::contact_path(&contact);
    let html = ("accept", "text/html");
    let json = ("content-type", "application/json");
    let form = ("content-type", "application/x-www-form-urlencoded");
    let cases: Vec<HeaderCase<&str>> = vec![
        ("the home page", Method::GET, "/".into(), vec![html], String::new(), 200),
        ("a contact page", Method::GET, path.clone(), vec![html], String::new(), 200),
        ("the new-contact form", Method::GET, "/contacts/new".into(), vec![html], String::new(), 200),
        ("the edit form", Method::GET, format!("{path}/edit"), vec![html], String::new(), 200),
        ("a 404 page", Method::GET, "/contacts/nope/edit".into(), vec![html], String::new(), 404),
        (
            "a form redirect",
            Method::POST,
            "/contacts/new".into(),
            vec![form],
            form_body(&[("firstname", "C"), ("lastname", "D"), ("email", "cd@example.org")]),
            303,
        ),
        (
            "a form with errors",
            Method::POST,
            "/contacts/new".into(),
            vec![form],
            form_body(&[("firstname", "")]),
            422,
        ),
        ("the JSON list", Method::GET, "/contacts".into(), vec![], String::new(), 200),
        ("a contact as JSON", Method::GET, path.clone(), vec![], String::new(), 200),
        (
            "a creation",
            Method::POST,
            "/contacts".into(),
            vec![json],
            json!({"firstname": "E", "lastname": "F", "email": "ef@example.org"}).to_string(),
            201,
        ),
        (
            "a conflict",
            Method::POST,
            "/contacts".into(),
            vec![json],
            json!({"firstname": "E", "lastname": "F", "email": "ef@example.org"}).to_string(),
            409,
        ),
        (
            "an invalid field",
            Method::POST,
            "/contacts".into(),
            vec![json],
            json!({"firstname": "", "lastname": "F", "email": "x@example.org"}).to_string(),
            422,
        ),
        ("malformed JSON", Method::POST, "/contacts".into(), vec![json], "{".into(), 400),
        (
            "a wrong media type",
            Method::POST,
            "/contacts".into(),
            vec![("content-type", "text/plain")],
            "{}".into(),
            415,
        ),
        ("a body too large", Method::POST, "/contacts".into(), vec![json], "x".repeat(70_000), 413),
        ("a malformed id", Method::GET, "/contacts/nope".into(), vec![], String::new(), 404),
        (
            "an unknown contact",
            Method::GET,
            "/contacts/01900000-0000-7000-8000-000000000000".into(),
            vec![],
            String::new(),
            404,
        ),
        ("an unknown path", Method::GET, "/nothing/here".into(), vec![], String::new(), 404),
        ("a wrong method", Method::PATCH, "/contacts".into(), vec![], String::new(), 405),
        (
            "a cross-site refusal",
            Method::POST,
            "/contacts".into(),
            vec![json, ("origin", "http://evil.example")],
            "{}".into(),
            403,
        ),
        ("a deletion", Method::DELETE, path.clone(), vec![], String::new(), 204),
        ("the feed", Method::GET, "/feed".into(), vec![], String::new(), 200),
        (
            "the feed unchanged",
            Method::GET,
            "/feed".into(),
            vec![("if-none-match", "\"nothing-matches\"")],
            String::new(),
            200,
        ),
        ("an archive page", Method::GET, "/feed/archive/1".into(), vec![], String::new(), 200),
        ("a missing archive page", Method::GET, "/feed/archive/999".into(), vec![], String::new(), 404),
        ("the metrics", Method::GET, "/metrics".into(), vec![], String::new(), 200),
        ("liveness", Method::GET, "/health/live".into(), vec![], String::new(), 200),
        ("readiness", Method::GET, "/health/ready".into(), vec![], String::new(), 200),
        ("the OpenAPI document", Method::GET, "/openapi.json".into(), vec![], String::new(), 200),
        ("the stylesheet", Method::GET, "/assets/style.css".into(), vec![], String::new(), 200),
    ];
    assert_security_headers_on(&app.http, |path| app.url(path), cases).await;
    // A 304 has no body, but the same headers.
    let current = app.get("/feed").await.headers()["etag"].to_str().unwrap().to_string();
    let response = app.get_with("/feed", &[("if-none-match", &current)]).await;
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
    assert_security_headers_of("the feed's 304", response.headers());
}

#[tokio::test]
async fn a_spoofed_host_changes_no_published_link() {
    let public = "http://contacts.public.example:8080/";
    let options =
        Options { page_size: 2, public_url: Some(Url::parse(public).unwrap()), ..Options::default() };
    let app = TestApp::spawn(Arc::new(TestDb::new().await), options).await;
    let client = http_client();
    let spoofed = |method: Method, path: &str| {
        let mut request = client.request(method, app.url(path));
        for (name, value) in HOSTILE_HOST_HEADERS {
            request = request.header(name, value);
        }
        request
    };
    let mut published = Vec::new();
    let mut ids = Vec::new();
    for i in 0..5 {
        let response = spoofed(Method::POST, "/contacts")
            .json(&json!({"firstname": "Ann", "lastname": format!("Lee{i}"), "email": format!("ann{i}@example.org")}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        published.push(("a Location", response.headers()["location"].to_str().unwrap().to_string()));
        let body = json_body(response).await;
        ids.push(body["id"].as_str().unwrap().to_string());
        published.push(("a created contact", body.to_string()));
    }
    let response = spoofed(Method::POST, "/contacts/new")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(&[("firstname", "Bo"), ("lastname", "Form"), ("email", "bo@example.org")]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    published.push(("a form's redirect", response.headers()["location"].to_str().unwrap().to_string()));
    let response = spoofed(Method::POST, &format!("/contacts/{}/delete", ids[4]))
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    published.push(("a deletion's redirect", response.headers()["location"].to_str().unwrap().to_string()));
    let response = spoofed(Method::PUT, &format!("/contacts/{}", ids[0]))
        .json(&json!({"lastname": "Roe"}))
        .send()
        .await
        .unwrap();
    published.push(("an update", response.text().await.unwrap()));
    for (what, path, accept) in [
        ("a page of the list", "/contacts?limit=2".to_string(), "application/json"),
        ("a contact", format!("/contacts/{}", ids[1]), "application/json"),
        ("the feed", "/feed".to_string(), "application/atom+xml"),
        ("an archive page", "/feed/archive/1".to_string(), "application/atom+xml"),
        ("the home page", "/?limit=2".to_string(), "text/html"),
        ("a contact's page", format!("/contacts/{}", ids[1]), "text/html"),
    ] {
        let response = spoofed(Method::GET, &path).header("accept", accept).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{what}");
        published.push((what, response.text().await.unwrap()));
    }
    assert!(published.iter().any(|(_, text)| text.contains("prev-archive")), "the feed links its archives");
    // The page header links the other services at their configured public URLs (the defaults).
    let apps = service_kit::config::AppUrls::default();
    let (calendar, notifications) = (apps.calendar.to_string(), apps.notifications.to_string());
    for (what, text) in published {
        assert_links_under(
            what,
            &text,
            public,
            &[
                "http://www.w3.org/2005/Atom",
                "http://purl.org/syndication/history/1.0",
                &calendar,
                &notifications,
            ],
        );
    }
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused_on_every_write_and_change_nothing() {
    let app = spawn_app().await;
    let contact = app.create("Ann", "Lee", "ann@example.org").await;
    let id = contact["id"].as_str().unwrap();
    let huge_name = "x".repeat(70 * 1024);
    let json = json!({"firstname": huge_name, "lastname": "L", "email": "big@example.org"}).to_string();
    let form = form_body(&[("firstname", &huge_name), ("lastname", "L"), ("email", "big@example.org")]);
    for (method, path, content_type, body) in [
        (Method::POST, "/contacts".to_string(), "application/json", json.clone()),
        (Method::PUT, format!("/contacts/{id}"), "application/json", json),
        (Method::POST, "/contacts/new".to_string(), "application/x-www-form-urlencoded", form.clone()),
        (Method::POST, format!("/contacts/{id}/edit"), "application/x-www-form-urlencoded", form),
    ] {
        let response = app
            .http
            .request(method.clone(), app.url(&path))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let (status, error) = error_code(response).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{method} {path}: {error}");
        assert_eq!(error["error"], "payload_too_large", "{method} {path}");
    }
    assert_eq!(app.store.read_head().await.unwrap().sequence, 1, "only the first contact was written");
}

#[tokio::test]
async fn an_id_in_another_spelling_is_no_contact() {
    let app = spawn_app().await;
    let contact = app.create("Ann", "Lee", "ann@example.org").await;
    let id = contact["id"].as_str().unwrap();
    assert_eq!(app.get(&format!("/contacts/{id}")).await.status(), StatusCode::OK);
    for other in test_support::hostile::other_spellings(id) {
        let other = other.replace('{', "%7B").replace('}', "%7D");
        for path in [format!("/contacts/{other}"), format!("/contacts/{other}/edit")] {
            assert_eq!(app.get(&path).await.status(), StatusCode::NOT_FOUND, "GET {path}");
        }
        let response = app.http.delete(app.url(&format!("/contacts/{other}"))).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "DELETE /contacts/{other}");
    }
    assert_eq!(app.get(&format!("/contacts/{id}")).await.status(), StatusCode::OK, "still there");
}
