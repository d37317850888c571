use serde_json::{Value, json};
use test_support::json_body;

use crate::helpers::{TOKEN, TestApp};

/// Posts `body` as JSON and returns status and error JSON.
async fn post_raw(app: &TestApp, content_type: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
    let response = app
        .http
        .post(app.url("/notifications"))
        .bearer_auth(TOKEN)
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .expect("POST");
    let status = response.status().as_u16();
    (status, json_body(response).await)
}

async fn rejected(app: &TestApp, body: Value) -> (u16, Value) {
    let response = app.post(&body, None).await;
    let status = response.status().as_u16();
    (status, json_body(response).await)
}

#[tokio::test]
async fn malformed_json_is_400() {
    let app = TestApp::spawn().await;
    let (status, body) = post_raw(&app, "application/json", "{\"email\": ").await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "malformed_json");
    assert!(app.all_jobs().await.is_empty());
}

#[tokio::test]
async fn a_body_that_is_not_json_is_415() {
    let app = TestApp::spawn().await;
    let (status, body) = post_raw(&app, "text/plain", "email=ada@example.org").await;
    assert_eq!(status, 415);
    assert_eq!(body["error"], "unsupported_media_type");
    let (status, _) = post_raw(&app, "application/x-www-form-urlencoded", "email=a%40b.org&message=x").await;
    assert_eq!(status, 415);
    assert!(app.all_jobs().await.is_empty());
}

#[tokio::test]
async fn a_huge_body_is_413() {
    let app = TestApp::spawn().await;
    let big = json!({"email": "ada@example.org", "message": "x".repeat(notifications::startup::BODY_LIMIT)})
        .to_string();
    let (status, body) = post_raw(&app, "application/json", big).await;
    assert_eq!(status, 413);
    assert_eq!(body["error"], "payload_too_large");
    // Under the body limit, the message's own limit answers.
    let long = json!({"email": "ada@example.org", "message": "x".repeat(100 * 1024)}).to_string();
    let (status, body) = post_raw(&app, "application/json", long).await;
    assert_eq!(status, 422);
    assert_eq!(body["field"], "message");
    assert!(app.all_jobs().await.is_empty());
}

#[tokio::test]
async fn the_longest_valid_notification_fits_even_fully_escaped() {
    let app = TestApp::spawn().await;
    // Every character as a \u escaped surrogate pair: 12 bytes each.
    let escaped = |n: usize| "\\ud83d\\ude00".repeat(n);
    let recipients: Vec<String> =
        (0..50).map(|i| format!("\"{}{i:02}@example.org\"", "a".repeat(50))).collect();
    let body = format!(
        "{{\"recipients\": [{}], \"subject\": \"{}\", \"message\": \"{}\"}}",
        recipients.join(", "),
        escaped(255),
        escaped(20_000)
    );
    assert!(body.len() > 64 * 1024);
    let (status, job) = post_raw(&app, "application/json", body).await;
    assert_eq!(status, 202, "{job}");
    assert_eq!(job["message"].as_str().unwrap().chars().count(), 20_000);
}

#[tokio::test]
async fn wrong_types_missing_and_unknown_fields_are_422_naming_the_field() {
    let app = TestApp::spawn().await;
    let cases = [
        (json!({"email": 5, "message": "m"}), "email"),
        (json!({"email": "ada@example.org", "message": ["m"]}), "message"),
        (json!({"email": "ada@example.org"}), "message"),
        (json!({"email": "ada@example.org", "message": "m", "bcc": "eve@example.org"}), "bcc"),
        (json!({"recipients": "ada@example.org", "message": "m"}), "recipients"),
        (json!({"message": "m"}), "email"),
        (json!([1, 2]), ""),
    ];
    for (body, field) in cases {
        let (status, error) = rejected(&app, body.clone()).await;
        assert_eq!(status, 422, "{body} -> {error}");
        if !field.is_empty() {
            assert_eq!(error["field"], field, "{body} -> {error}");
        }
    }
    assert!(app.all_jobs().await.is_empty());
}

#[tokio::test]
async fn invalid_addresses_are_422() {
    let app = TestApp::spawn().await;
    for email in
        ["not-an-address", "ada@", "@example.org", "ada example@example.org", "", "<ada@example.org>"]
    {
        let (status, error) = rejected(&app, json!({"email": email, "message": "m"})).await;
        assert_eq!(status, 422, "{email:?} -> {error}");
        assert_eq!(error["field"], "email");
    }
    let (status, error) =
        rejected(&app, json!({"recipients": ["ada@example.org", "nope"], "message": "m"})).await;
    assert_eq!(status, 422);
    assert_eq!(error["field"], "recipients[1]");
    assert!(app.all_jobs().await.is_empty());
}

#[tokio::test]
async fn header_injection_attempts_are_rejected() {
    let app = TestApp::spawn().await;
    let cases = [
        (
            json!({"email": "ada@example.org", "subject": "Hi\r\nBcc: eve@example.org", "message": "m"}),
            "subject",
        ),
        (
            json!({"email": "ada@example.org", "subject": "Hi\nBcc: eve@example.org", "message": "m"}),
            "subject",
        ),
        (
            json!({"email": "ada@example.org", "subject": "Hi\rBcc: eve@example.org", "message": "m"}),
            "subject",
        ),
        (json!({"email": "ada@example.org", "subject": "Hi\u{0}", "message": "m"}), "subject"),
        (json!({"email": "ada@example.org\r\nBcc: eve@example.org", "message": "m"}), "email"),
        (json!({"email": "ada@example.org\nBcc: eve@example.org", "message": "m"}), "email"),
        (
            json!({"recipients": ["ada@example.org", "bob@example.org\r\nBcc: eve@example.org"], "message": "m"}),
            "recipients[1]",
        ),
        (json!({"email": "ada@example.org", "message": "body with a \u{1b}[31m terminal escape"}), "message"),
    ];
    for (body, field) in cases {
        let (status, error) = rejected(&app, body.clone()).await;
        assert_eq!(status, 422, "{body} -> {error}");
        assert_eq!(error["field"], field, "{body} -> {error}");
    }
    assert!(app.all_jobs().await.is_empty());
}

#[tokio::test]
async fn recipients_are_limited_to_fifty_per_job() {
    let app = TestApp::spawn().await;
    let list = |n: usize| (0..n).map(|i| format!("person{i}@example.org")).collect::<Vec<_>>();
    let (status, error) = rejected(&app, json!({"recipients": list(51), "message": "m"})).await;
    assert_eq!(status, 422);
    assert_eq!(error["field"], "recipients");
    let (status, _) = rejected(&app, json!({"recipients": list(0), "message": "m"})).await;
    assert_eq!(status, 422);
    assert!(app.all_jobs().await.is_empty());
    let job = app.queue(&json!({"recipients": list(50), "message": "m"})).await;
    assert_eq!(job["recipients"].as_array().unwrap().len(), 50);
}

#[tokio::test]
async fn lengths_are_bounded() {
    let app = TestApp::spawn().await;
    let cases = [
        (json!({"email": "ada@example.org", "subject": "s".repeat(256), "message": "m"}), "subject"),
        (json!({"email": "ada@example.org", "message": "m".repeat(20_001)}), "message"),
        (json!({"email": format!("{}@example.org", "a".repeat(250)), "message": "m"}), "email"),
        (json!({"email": "ada@example.org", "subject": "   ", "message": "m"}), "subject"),
        (json!({"email": "ada@example.org", "message": " \n "}), "message"),
    ];
    for (body, field) in cases {
        let (status, error) = rejected(&app, body).await;
        assert_eq!(status, 422, "{error}");
        assert_eq!(error["field"], field, "{error}");
    }
    assert!(app.all_jobs().await.is_empty());
}

#[tokio::test]
async fn a_malformed_idempotency_key_is_400() {
    let app = TestApp::spawn().await;
    let body = json!({"email": "ada@example.org", "message": "m"});
    for key in ["with space".to_string(), "k".repeat(256)] {
        let response = app.post(&body, Some(&key)).await;
        assert_eq!(response.status(), 400);
        let error = json_body(response).await;
        assert_eq!(error["field"], "Idempotency-Key", "{error}");
    }
    assert!(app.all_jobs().await.is_empty());
}
