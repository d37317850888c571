//! Credentials: every write and every read of personal data needs them, and changes nothing
//! without them; the login page and its session cookie; calendar's own token to contacts.

use reqwest::Method;
use serde_json::json;
use service_kit::auth::AuthSettings;
use service_kit::config::Secret;
use test_support::auth::{self, Guarded, PASSWORD, TOKEN, USER};
use test_support::{TestClient, TestDb};

use crate::feed_server::FeedServer;
use crate::helpers::{TestApp, WAIT, settings, spawn_with};

/// calendar with credentials, following `feed` with `CONTACTS_TOKEN`; its client sends the token.
async fn spawn_with_credentials(feed: &FeedServer) -> TestApp {
    let db = TestDb::new().await;
    let mut settings = settings(&db, feed, None);
    settings.common.auth = AuthSettings::with_credentials(&[TOKEN], USER, Some(PASSWORD));
    settings.feed.token = Some(Secret::new("token-for-contacts-0123456789"));
    let mut app = spawn_with(db, settings).await;
    app.client.http = test_support::http_client_with_token(TOKEN);
    app
}

/// Everything calendar serves that is not health, metrics, the stylesheet, the OpenAPI
/// document, the login page or the front page's redirect.
fn guarded(user: &str, guest: &str, event: &str) -> Vec<Guarded> {
    let new_event = json!({"title": "Intrusion", "day": 1, "month": 1, "year": 2027});
    vec![
        Guarded::get("/users"),
        Guarded::get(format!("/users/{user}")),
        Guarded::get(format!("/calendar/{user}")),
        Guarded::get(format!("/event/{event}")),
        Guarded::get(format!("/event/{event}/participants")),
        Guarded::get("/feed/parked"),
        Guarded::json(Method::POST, format!("/calendar/{user}"), &new_event),
        Guarded::json(Method::PUT, format!("/event/{event}"), &new_event),
        Guarded::delete(format!("/event/{event}")),
        Guarded::json(Method::POST, format!("/event/{event}/participants"), &json!(["eve@example.org"])),
        Guarded::delete(format!("/event/{event}/participants/{guest}")),
        Guarded::json(Method::POST, "/feed/parked/some-entry/retry", &json!({})),
        Guarded::form(format!("/calendar/{user}/new"), &[("title", "Intrusion"), ("date", "2027-01-01")]),
        Guarded::form(format!("/event/{event}/edit"), &[("title", "Intrusion"), ("date", "2027-01-01")]),
        Guarded::form(format!("/event/{event}/delete"), &[]),
        Guarded::form(format!("/event/{event}/invite"), &[("emails", "eve@example.org")]),
        Guarded::form(format!("/event/{event}/participants/{guest}/remove"), &[]),
    ]
}

#[tokio::test]
async fn every_write_and_personal_read_without_credentials_is_401_and_changes_nothing() {
    let feed = FeedServer::start(20).await;
    let owner = feed.create_contact("ada@example.org", "Ada", "Lovelace");
    let guest = feed.create_contact("bob@example.org", "Bob", "Kahn");
    let app = spawn_with_credentials(&feed).await;
    app.wait_for_user(owner).await;
    app.wait_for_user(guest).await;
    let event = app.create_event(owner, "Private").await;
    let invited = app.post_json(&format!("/event/{event}/participants"), &json!(["bob@example.org"])).await;
    assert!(invited.status().is_success(), "{}", invited.status());
    let before = (app.get_json(&format!("/event/{event}")).await, app.all_users().await);

    let anonymous = TestClient::new(app.address.clone());
    auth::every_route_refuses_without_credentials(
        &anonymous,
        "calendar_session",
        &guarded(&owner.to_string(), &guest.to_string(), &event),
    )
    .await;

    let after = (app.get_json(&format!("/event/{event}")).await, app.all_users().await);
    assert_eq!(after, before, "the event, its participants and the users are unchanged");
    let calendar = app.get_json(&format!("/calendar/{owner}")).await.1.to_string();
    assert!(!calendar.contains("Intrusion"), "no event was added: {calendar}");
}

#[tokio::test]
async fn the_feed_follower_sends_its_contacts_token() {
    let feed = FeedServer::start(20).await;
    let owner = feed.create_contact("ada@example.org", "Ada", "Lovelace");
    let app = spawn_with_credentials(&feed).await;
    app.wait_for_user(owner).await;
    test_support::wait_until("a feed request", WAIT, || async { feed.feed_authorization() }).await;
    assert_eq!(feed.feed_authorization().as_deref(), Some("Bearer token-for-contacts-0123456789"));
}

#[tokio::test]
async fn the_login_sets_a_proper_cookie_and_logout_ends_the_session() {
    let feed = FeedServer::start(20).await;
    let app = spawn_with_credentials(&feed).await;
    let browser = TestClient::new(app.address.clone());
    auth::login_sets_a_proper_cookie_and_logout_ends_it(&browser, "calendar_session", "/users", false).await;
}
