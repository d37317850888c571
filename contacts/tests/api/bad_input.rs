use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_code, spawn_app};

/// Sends `body` as JSON text with the given content type.
async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    content_type: &str,
    body: String,
) -> (StatusCode, Value) {
    let response = app
        .http
        .request(method, app.url(path))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    error_code(response).await
}

/// What the log and the read model hold: nothing may change on a refused request.
async fn state(app: &TestApp) -> (i64, usize) {
    let head = app.store.read_head().await.unwrap();
    (head.sequence, app.store.all_contacts().await.unwrap().len())
}

/// What is wrong, content type, body, expected status, error code and field.
type CreateCase = (&'static str, &'static str, String, StatusCode, &'static str, Option<&'static str>);

#[tokio::test]
async fn every_malformed_create_gets_its_status_and_error_shape_and_writes_nothing() {
    let app = spawn_app().await;
    let json = "application/json";
    let valid = r#"{"firstname":"Jane","lastname":"Doe","email":"jane@example.org"}"#;
    let cases: Vec<CreateCase> = vec![
        ("malformed JSON", json, r#"{"firstname": "#.into(), StatusCode::BAD_REQUEST, "malformed_json", None),
        ("not an object", json, "[1,2]".into(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", None),
        (
            "wrong type",
            json,
            r#"{"firstname":1,"lastname":"Doe","email":"jane@example.org"}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            Some("firstname"),
        ),
        (
            "unknown field",
            json,
            r#"{"firstname":"Jane","lastname":"Doe","email":"jane@example.org","age":3}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            Some("age"),
        ),
        (
            "missing field",
            json,
            r#"{"firstname":"Jane","lastname":"Doe"}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            Some("email"),
        ),
        (
            "null field",
            json,
            r#"{"firstname":null,"lastname":"Doe","email":"jane@example.org"}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            Some("firstname"),
        ),
        (
            "blank name",
            json,
            r#"{"firstname":"  ","lastname":"Doe","email":"jane@example.org"}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("firstname"),
        ),
        (
            "long name",
            json,
            json!({"firstname": "Jane", "lastname": "x".repeat(101), "email": "jane@example.org"})
                .to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("lastname"),
        ),
        (
            "control character",
            json,
            json!({"firstname": "Ja\u{0}ne", "lastname": "Doe", "email": "jane@example.org"}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("firstname"),
        ),
        (
            "invalid email",
            json,
            r#"{"firstname":"Jane","lastname":"Doe","email":"jane at example"}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("email"),
        ),
        (
            "wrong content type",
            "text/plain",
            valid.into(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            None,
        ),
        (
            "a form",
            "application/x-www-form-urlencoded",
            "firstname=Jane".into(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            None,
        ),
        (
            "too large",
            json,
            json!({"firstname": "x".repeat(70 * 1024), "lastname": "Doe", "email": "jane@example.org"})
                .to_string(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            None,
        ),
    ];
    for (what, content_type, body, status, code, field) in cases {
        let (got, body) = send(&app, reqwest::Method::POST, "/contacts", content_type, body).await;
        assert_eq!(got, status, "{what}: {body}");
        assert_eq!(body["error"], code, "{what}: {body}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{what}: {body}");
        if let Some(field) = field {
            assert_eq!(body["field"], field, "{what}: {body}");
        }
    }
    assert_eq!(state(&app).await, (0, 0), "nothing was written");
}

#[tokio::test]
async fn every_malformed_update_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let contact = app.create("Jane", "Doe", "jane@example.org").await;
    let path = TestApp::contact_path(&contact);
    let before = state(&app).await;
    let json = "application/json";
    let cases: Vec<(&str, &str, &str, &str, StatusCode, &str)> = vec![
        ("malformed JSON", &path, json, "{", StatusCode::BAD_REQUEST, "malformed_json"),
        ("null", &path, json, r#"{"email":null}"#, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
        (
            "wrong type",
            &path,
            json,
            r#"{"lastname":["x"]}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            "unknown field",
            &path,
            json,
            r#"{"nickname":"J"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        ("blank name", &path, json, r#"{"firstname":""}"#, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
        ("bad email", &path, json, r#"{"email":"nope"}"#, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
        (
            "wrong content type",
            &path,
            "text/plain",
            r#"{"firstname":"X"}"#,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "invalid UUID",
            "/contacts/not-a-uuid",
            json,
            r#"{"firstname":"X"}"#,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "unknown id",
            "/contacts/01900000-0000-7000-8000-000000000000",
            json,
            r#"{"firstname":"X"}"#,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
    ];
    for (what, target, content_type, body, status, code) in cases {
        let (got, body) = send(&app, reqwest::Method::PUT, target, content_type, body.into()).await;
        assert_eq!(got, status, "{what}: {body}");
        assert_eq!(body["error"], code, "{what}: {body}");
    }
    assert_eq!(state(&app).await, before);
    let unchanged = crate::helpers::error_code(app.get(&path).await).await.1;
    assert_eq!(unchanged, contact);
}

#[tokio::test]
async fn unknown_and_malformed_ids_are_both_404() {
    let app = spawn_app().await;
    let unknown = "/contacts/01900000-0000-7000-8000-000000000000";
    for response in [app.get(unknown).await, app.delete(unknown).await] {
        let (status, body) = error_code(response).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    }
    for response in [app.get("/contacts/123").await, app.delete("/contacts/%00").await] {
        let (status, body) = error_code(response).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    }
}

#[tokio::test]
async fn bad_listing_parameters_are_refused() {
    let app = spawn_app().await;
    for (query, status, field) in [
        ("limit=0", StatusCode::UNPROCESSABLE_ENTITY, Some("limit")),
        ("limit=201", StatusCode::UNPROCESSABLE_ENTITY, Some("limit")),
        ("limit=ten", StatusCode::BAD_REQUEST, None),
        ("limit=-1", StatusCode::BAD_REQUEST, None),
        ("cursor=zzz", StatusCode::NOT_FOUND, Some("cursor")),
        ("cursor=6162", StatusCode::NOT_FOUND, Some("cursor")),
        ("q=a%00b", StatusCode::UNPROCESSABLE_ENTITY, Some("q")),
        ("q=%0D%0A", StatusCode::UNPROCESSABLE_ENTITY, Some("q")),
    ] {
        let (got, body) = error_code(app.get(&format!("/contacts?{query}")).await).await;
        assert_eq!(got, status, "{query}: {body}");
        if let Some(field) = field {
            assert_eq!(body["field"], field, "{query}");
        }
    }
}

#[tokio::test]
async fn bad_archive_page_numbers_are_refused() {
    let app = spawn_app().await;
    for (path, status) in [
        ("/feed/archive/0", StatusCode::NOT_FOUND),
        ("/feed/archive/1", StatusCode::NOT_FOUND),
        ("/feed/archive/99999999999999999999", StatusCode::NOT_FOUND),
        ("/feed/archive/-1", StatusCode::NOT_FOUND),
        ("/feed/archive/x", StatusCode::NOT_FOUND),
    ] {
        let (got, body) = error_code(app.get(path).await).await;
        assert_eq!(got, status, "{path}: {body}");
    }
}

/// A name or address holding a character XML 1.0 cannot carry (U+FFFE, U+FFFF, the other
/// noncharacters) would make every feed page that holds it ill-formed, for ever once archived:
/// it is refused with a `422` naming the field, through the API and the forms, and the feed
/// stays well-formed for expat and feedparser.
#[tokio::test]
async fn a_character_xml_cannot_carry_is_refused_in_every_field_and_the_feed_stays_well_formed() {
    let app = spawn_app().await;
    let contact = app.create("Ann", "Lee", "ann@example.org").await;
    let path = TestApp::contact_path(&contact);
    let json = "application/json";
    for (field, body) in [
        ("firstname", json!({"firstname": "Do\u{FFFE}e", "lastname": "Doe", "email": "a@example.org"})),
        ("lastname", json!({"firstname": "Jane", "lastname": "Do\u{FFFF}", "email": "a@example.org"})),
        ("email", json!({"firstname": "Jane", "lastname": "Doe", "email": "ja\u{FDD0}ne@example.org"})),
        ("lastname", json!({"firstname": "Jane", "lastname": "\u{10FFFE}", "email": "a@example.org"})),
    ] {
        let (status, error) = send(&app, reqwest::Method::POST, "/contacts", json, body.to_string()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {error}");
        assert_eq!((error["error"].as_str(), error["field"].as_str()), (Some("invalid_field"), Some(field)));
        let (status, error) = send(&app, reqwest::Method::PUT, &path, json, body.to_string()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "PUT {body}: {error}");
        assert_eq!(error["field"], field);
    }
    let response = app
        .post_form(
            "/contacts/new",
            &[("firstname", "Jane"), ("lastname", "Do\u{FFFE}e"), ("email", "f@example.org")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "the form refuses it too");
    // JSON cannot smuggle a surrogate in: a lone `\ud800` escape is malformed JSON, not a 500.
    let (status, error) = send(
        &app,
        reqwest::Method::POST,
        "/contacts",
        json,
        r#"{"firstname":"Ja\ud800ne","lastname":"Doe","email":"s@example.org"}"#.into(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(state(&app).await, (1, 1), "nothing was written");

    let feed = app.get("/feed").await.bytes().await.unwrap();
    if let Some(check) = test_support::python::atom_check(&feed) {
        assert!(check.accepted, "{}\n{}", check.report, check.stderr);
        assert_eq!(check.report["entries"].as_array().unwrap().len(), 1);
    }
}
