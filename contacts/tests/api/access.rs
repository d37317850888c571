//! Credentials: every write and every read of personal data needs them, and changes nothing
//! without them; the login page and its session cookie.

use reqwest::Method;
use serde_json::json;
use service_kit::auth::AuthSettings;
use test_support::auth::{self, Guarded, PASSWORD, TOKEN, USER};

use crate::helpers::{TestApp, spawn_configured};

async fn spawn_with_credentials() -> TestApp {
    spawn_configured(|s| {
        s.feed_page_size = 1;
        s.common.auth = AuthSettings::with_credentials(&[TOKEN], USER, Some(PASSWORD));
    })
    .await
}

/// Everything contacts serves that is not health, metrics, the stylesheet, the OpenAPI document
/// or the login page.
fn guarded(id: &str) -> Vec<Guarded> {
    let person = json!({"firstname": "Eve", "lastname": "Intruder", "email": "eve@example.org"});
    let fields = [("firstname", "Eve"), ("lastname", "Intruder"), ("email", "eve@example.org")];
    vec![
        Guarded::get("/"),
        Guarded::get("/contacts"),
        Guarded::get("/contacts?q=Ada"),
        Guarded::get(format!("/contacts/{id}")),
        Guarded::get("/feed"),
        Guarded::get("/feed/archive/1"),
        Guarded::get("/contacts/new"),
        Guarded::get(format!("/contacts/{id}/edit")),
        Guarded::get(format!("/contacts/{id}/delete")),
        Guarded::json(Method::POST, "/contacts", &person),
        Guarded::json(Method::PUT, format!("/contacts/{id}"), &json!({"lastname": "Changed"})),
        Guarded::delete(format!("/contacts/{id}")),
        Guarded::form("/contacts/new", &fields),
        Guarded::form(format!("/contacts/{id}/edit"), &fields),
        Guarded::form(format!("/contacts/{id}/delete"), &[]),
    ]
}

#[tokio::test]
async fn every_write_and_personal_read_without_credentials_is_401_and_changes_nothing() {
    let app = spawn_with_credentials().await;
    let created = app
        .http
        .post(app.url("/contacts"))
        .bearer_auth(TOKEN)
        .json(&json!({"firstname": "Ada", "lastname": "Lovelace", "email": "ada@example.org"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let ada = test_support::json_body(created).await;
    let id = ada["id"].as_str().unwrap().to_string();
    let before = app.store.all_contacts().await.unwrap();

    auth::every_route_refuses_without_credentials(&app, "contacts_session", &guarded(&id)).await;

    assert_eq!(app.store.all_contacts().await.unwrap(), before, "no contact changed");
    let feed = app.http.get(app.url("/feed")).bearer_auth(TOKEN).send().await.unwrap().text().await.unwrap();
    assert_eq!(feed.matches("<entry>").count(), 1, "one event only, the creation: {feed}");
    auth::every_route_lets_the_token_in(&app, &guarded(&id)).await;
}

#[tokio::test]
async fn health_metrics_assets_openapi_and_the_login_page_stay_open() {
    let app = spawn_with_credentials().await;
    for path in ["/health/live", "/health/ready", "/metrics", "/assets/style.css", "/openapi.json", "/login"]
    {
        assert_eq!(app.get(path).await.status(), 200, "{path}");
    }
}

#[tokio::test]
async fn the_login_sets_a_proper_cookie_and_logout_ends_the_session() {
    let app = spawn_with_credentials().await;
    auth::login_sets_a_proper_cookie_and_logout_ends_it(&app, "contacts_session", "/contacts", false).await;
}

#[tokio::test]
async fn the_session_cookie_is_secure_when_the_public_url_is_https() {
    let app = spawn_configured(|s| {
        s.common.auth = AuthSettings::with_credentials(&[TOKEN], USER, Some(PASSWORD));
        s.common.public_url = Some("https://contacts.example.org/".parse().unwrap());
    })
    .await;
    auth::login_sets_a_proper_cookie_and_logout_ends_it(&app, "contacts_session", "/contacts", true).await;
}

#[tokio::test]
async fn without_credentials_on_loopback_everyone_is_the_operator() {
    let app = crate::helpers::spawn_app().await;
    let response = app
        .post_json("/contacts", &json!({"firstname": "Lou", "lastname": "Local", "email": "lou@example.org"}))
        .await;
    assert_eq!(response.status(), 201, "open for local use");
}
