use serde_json::json;

use crate::helpers::{TOKEN, TestApp, notification};

async fn nothing_was_stored(app: &TestApp) {
    assert!(app.all_jobs().await.is_empty(), "no job may be stored without a valid token");
}

fn assert_unauthorized(response: &reqwest::Response) {
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
}

#[tokio::test]
async fn posting_without_a_token_is_refused_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let response = app
        .http
        .post(app.url("/notifications"))
        .json(&notification("ada@example.org", "Hi", "Hello"))
        .send()
        .await
        .unwrap();
    assert_unauthorized(&response);
    let body = test_support::json_body(response).await;
    assert_eq!(body["error"], "unauthorized");
    nothing_was_stored(&app).await;
}

#[tokio::test]
async fn posting_with_a_wrong_token_is_refused_and_stores_nothing() {
    let app = TestApp::spawn().await;
    for wrong in ["wrong-token", "test-toke", "test-token-", "TEST-TOKEN", ""] {
        let response = app
            .http
            .post(app.url("/notifications"))
            .header("Authorization", format!("Bearer {wrong}"))
            .json(&notification("ada@example.org", "Hi", "Hello"))
            .send()
            .await
            .unwrap();
        assert_unauthorized(&response);
    }
    nothing_was_stored(&app).await;
}

#[tokio::test]
async fn a_token_in_the_wrong_place_is_refused() {
    let app = TestApp::spawn().await;
    let attempts = [
        ("Authorization", TOKEN.to_string()),
        ("Authorization", format!("Token {TOKEN}")),
        ("Authorization", crate::helpers::basic("x", TOKEN)),
        ("X-Api-Key", TOKEN.to_string()),
        ("Bearer", TOKEN.to_string()),
    ];
    for (header, value) in attempts {
        let response = app
            .http
            .post(app.url("/notifications"))
            .header(header, value.as_str())
            .json(&notification("ada@example.org", "Hi", "Hello"))
            .send()
            .await
            .unwrap();
        assert_unauthorized(&response);
    }
    let response = app
        .http
        .post(app.url(&format!("/notifications?access_token={TOKEN}")))
        .json(&notification("ada@example.org", "Hi", "Hello"))
        .send()
        .await
        .unwrap();
    assert_unauthorized(&response);
    nothing_was_stored(&app).await;
}

#[tokio::test]
async fn the_token_is_checked_before_the_body() {
    let app = TestApp::spawn().await;
    let response = app
        .http
        .post(app.url("/notifications"))
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_unauthorized(&response);
}

#[tokio::test]
async fn reading_jobs_needs_the_token_too() {
    let app = TestApp::spawn().await;
    let job = app.queue(&notification("ada@example.org", "Hi", "Hello")).await;
    let id = crate::helpers::id_of(&job);
    for path in ["/notifications".to_string(), format!("/notifications/{id}")] {
        let response = app.http.get(app.url(&path)).send().await.unwrap();
        assert_unauthorized(&response);
        let response = app.http.get(app.url(&path)).bearer_auth("nope").send().await.unwrap();
        assert_unauthorized(&response);
    }
}

#[tokio::test]
async fn every_configured_token_is_accepted() {
    let app = TestApp::spawn_with(|s| {
        s.common.auth.tokens = vec![
            service_kit::config::Secret::new("calendar-token"),
            service_kit::config::Secret::new("ops-token"),
        ];
    })
    .await;
    for token in ["calendar-token", "ops-token"] {
        let response = app
            .http
            .post(app.url("/notifications"))
            .bearer_auth(token)
            .json(&json!({"email": "ada@example.org", "message": "Hello"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202);
    }
    let response = app
        .http
        .post(app.url("/notifications"))
        .bearer_auth(TOKEN)
        .json(&json!({"email": "ada@example.org", "message": "Hello"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401, "the default test token is not configured here");
}
