//! The breaker and the outbox gauge while notifications is down, in a test binary of its own:
//! `outbox_pending` and `circuit_breaker_state` are process-wide, and the dispatchers of the
//! other tests in `api` would set them too, so only here can they be asserted to the value this
//! test's outbox implies.

// Test servers and helpers panic on setup failures, like the tests themselves.
#![allow(clippy::unwrap_used)]

#[path = "api/feed_server.rs"]
#[allow(dead_code)]
mod feed_server;
#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;
#[path = "api/notifications_stub.rs"]
#[allow(dead_code)]
mod notifications_stub;

use std::time::Duration;

use serde_json::json;
use test_support::wait_until;
use tower_resilience_circuitbreaker::CircuitState;

use crate::feed_server::FeedServer;
use crate::helpers::{WAIT, app_with_notifications, breaker, owner_and_guests};
use crate::notifications_stub::NotificationsStub;

#[tokio::test]
async fn while_notifications_is_down_the_breaker_opens_and_invitations_wait_for_its_return() {
    let feed = FeedServer::start(20).await;
    let stub = NotificationsStub::start().await;
    let (owner, guests, last) = owner_and_guests(&feed, 6);
    let late = feed.create_contact("late@example.org", "Late", "L");
    let app = app_with_notifications(&feed, &stub, Duration::from_secs(2)).await;
    app.wait_for_user(last).await;
    app.wait_for_user(late).await;
    let event = app.create_event(owner, "Launch").await;
    assert_eq!(breaker(&app.dispatcher), CircuitState::Closed);

    stub.go_down().await;
    let response = app.post_json(&format!("/event/{event}/participants"), &json!(guests)).await;
    assert_eq!(response.status(), 200, "adding participants does not wait for notifications");
    wait_until("the breaker to open", WAIT, || async {
        (breaker(&app.dispatcher) == CircuitState::Open).then_some(())
    })
    .await;
    wait_until("circuit_breaker_state to say open", WAIT, || async {
        app.metric("circuit_breaker_state{target=\"notifications\"}").await.filter(|v| *v == 1.0)
    })
    .await;

    // The API keeps answering while the circuit is open, and new invitations queue up.
    assert_eq!(app.get_json(&format!("/event/{event}")).await.0, 200);
    assert_eq!(
        app.post_json(&format!("/event/{event}/participants"), &json!(["late@example.org"])).await.status(),
        200
    );
    let page = app.get_accept(&format!("/event/{event}"), "text/html").await.text().await.unwrap();
    assert_eq!(page.matches(">pending<").count(), 7, "every invitation is still pending");
    // The gauge follows the outbox at each dispatcher round: waited for, then exactly the seven.
    wait_until("outbox_pending to count the seven waiting invitations", WAIT, || async {
        app.metric("outbox_pending").await.filter(|v| *v == 7.0)
    })
    .await;

    stub.come_back().await;
    let accepted = wait_until("all seven invitations delivered", WAIT, || async {
        let accepted = stub.accepted();
        (accepted.len() >= 7).then_some(accepted)
    })
    .await;
    let mut emails: Vec<_> = accepted.iter().map(|j| j.body["email"].as_str().unwrap().to_string()).collect();
    emails.sort();
    let mut expected: Vec<_> = guests.iter().cloned().chain(["late@example.org".to_string()]).collect();
    expected.sort();
    assert_eq!(emails, expected, "each invitation once");
    wait_until("the breaker to close", WAIT, || async {
        (breaker(&app.dispatcher) == CircuitState::Closed).then_some(())
    })
    .await;
    wait_until("every row sent", WAIT, || async {
        let page = app.get_accept(&format!("/event/{event}"), "text/html").await.text().await.unwrap();
        (page.matches(">sent<").count() == 7).then_some(())
    })
    .await;
    wait_until("outbox_pending back to 0", WAIT, || async {
        app.metric("outbox_pending").await.filter(|v| *v == 0.0)
    })
    .await;
    app.stop().await;
}
