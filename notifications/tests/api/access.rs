//! The shared credential checks (service-kit's auth) on notifications: the login page and its
//! session cookie, and every route refused without credentials.

use reqwest::Method;
use service_kit::auth::AuthSettings;
use test_support::auth::{self, Guarded, PASSWORD, TOKEN, USER};

use crate::helpers::{TestApp, id_of, notification};

async fn spawn_with_credentials() -> TestApp {
    TestApp::spawn_with(|s| s.common.auth = AuthSettings::with_credentials(&[TOKEN], USER, Some(PASSWORD)))
        .await
}

#[tokio::test]
async fn every_write_and_personal_read_without_credentials_is_401_and_changes_nothing() {
    let app = spawn_with_credentials().await;
    let queued = app
        .http
        .post(app.url("/notifications"))
        .bearer_auth(TOKEN)
        .json(&notification("ada@example.org", "Hi", "Hello"))
        .send()
        .await
        .unwrap();
    assert_eq!(queued.status(), 202);
    let id = id_of(&test_support::json_body(queued).await);
    let routes = [
        Guarded::get("/notifications"),
        Guarded::get(format!("/notifications/{id}")),
        Guarded::get("/mailbox"),
        Guarded::json(Method::POST, "/notifications", &notification("eve@example.org", "Spam", "Buy")),
    ];
    auth::every_route_refuses_without_credentials(&app, "notifications_session", &routes).await;
    let jobs = app.http.get(app.url("/notifications")).bearer_auth(TOKEN).send().await.unwrap();
    let jobs = test_support::json_body(jobs).await;
    assert_eq!(jobs["items"].as_array().unwrap().len(), 1, "no job was added: {jobs}");
}

#[tokio::test]
async fn the_login_sets_a_proper_cookie_and_logout_ends_the_session() {
    let app = spawn_with_credentials().await;
    auth::login_sets_a_proper_cookie_and_logout_ends_it(&app, "notifications_session", "/mailbox", false)
        .await;
}
