//! notifications stops (SIGTERM) while people are being invited: calendar keeps answering, its
//! circuit breaker opens, the invitations wait in its outbox; notifications starts again on the
//! same port and every invitation arrives exactly once.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use system_tests::api::{Contact, text};
use system_tests::prometheus::value;
use system_tests::{Mail, PATIENCE, TestSystem};
use test_support::wait_until;

async fn breaker_state(system: &TestSystem) -> Option<f64> {
    value(&system.metrics(&system.calendar).await, "circuit_breaker_state", &[("target", "notifications")])
}

#[tokio::test]
async fn invitations_made_while_notifications_is_stopped_arrive_exactly_once_after_its_restart() {
    let mut system = TestSystem::start(Mail::Smtp).await;
    let owner = system.create_contact("Olivia", "Owner", "olivia@example.org").await;
    let mut guests: Vec<Contact> = Vec::new();
    for i in 0..7 {
        guests.push(
            system.create_contact(&format!("Guest{i}"), "Waiting", &format!("guest{i}@example.org")).await,
        );
    }
    let everyone: Vec<&Contact> = std::iter::once(&owner).chain(&guests).collect();
    system.wait_for_users(&everyone).await;
    let planning =
        text(&system.create_event(&owner.id, json!({"title": "Planning", "date": "2027-01-11"})).await, "id");
    let party =
        text(&system.create_event(&owner.id, json!({"title": "Party", "date": "2027-01-12"})).await, "id");

    // While notifications is up, the path works and the breaker is closed.
    system.invite_ok(&planning, &[&guests[0].email]).await;
    system.wait_until_every_invitation_is_sent(1).await;
    assert_eq!(breaker_state(&system).await, Some(0.0), "closed while notifications answers");

    let status = system.notifications.stop(Duration::from_secs(40)).await.unwrap();
    assert!(status.success(), "notifications exits cleanly on SIGTERM: {status}");

    system.invite_ok(&planning, &[&guests[1].email, &guests[2].email, &guests[3].email]).await;
    system.invite_ok(&party, &[&guests[4].email]).await;
    system.invite_ok(&party, &[&guests[5].email]).await;
    wait_until("calendar's breaker for notifications to open", PATIENCE, || async {
        (breaker_state(&system).await == Some(1.0)).then_some(())
    })
    .await;

    // calendar keeps answering while its breaker is open, and keeps accepting invitations.
    system.invite_ok(&party, &[&guests[6].email]).await;
    for path in [
        "health/ready".to_string(),
        "users".into(),
        format!("event/{party}"),
        format!("calendar/{}", owner.id),
    ] {
        let response = system.http.get(system.calendar.url(&path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "GET /{path} while notifications is down");
    }
    wait_until("every invitation made meanwhile (6) pending in calendar's outbox", PATIENCE, || async {
        let pending = value(&system.metrics(&system.calendar).await, "outbox_pending", &[]);
        (pending == Some(6.0)).then_some(())
    })
    .await;
    assert_eq!(system.smtp().messages().len(), 1, "nothing was sent meanwhile");

    system.notifications.restart().await.unwrap();
    system.wait_until_every_invitation_is_sent(7).await;
    let messages = system.smtp().messages();
    for guest in &guests {
        let received = messages.iter().filter(|m| m.rcpt_to == [guest.email.clone()]).count();
        assert_eq!(received, 1, "{} gets exactly one invitation", guest.email);
    }
    assert_eq!(messages.len(), guests.len(), "no other e-mail was sent");
    wait_until("calendar's breaker to close again", PATIENCE, || async {
        (breaker_state(&system).await == Some(0.0)).then_some(())
    })
    .await;
    system.stop().await;
}
