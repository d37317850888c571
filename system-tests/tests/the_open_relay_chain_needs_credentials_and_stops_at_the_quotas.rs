//! The open relay of the threat model, replayed through all three services: create contacts with
//! the victims' addresses, an event titled like a phishing mail, invite the victims. Without
//! credentials every step is `401` and nothing changes. With them, calendar's
//! `QUOTA_INVITATIONS_PER_HOUR` stops one organizer (`429`, nobody added), and notifications'
//! `QUOTA_JOBS_PER_HOUR` on calendar's token bounds what all organizers together get sent: the
//! SMTP server receives exactly as many mails as that quota allows, and no more later.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use system_tests::api::text;
use system_tests::prometheus::value;
use system_tests::{Mail, TestSystem};
use test_support::wait_until;

const INVITATIONS_PER_ORGANIZER: usize = 4;
const JOBS_AT_NOTIFICATIONS: usize = 6;
const PHISH: &str = "URGENT: verify your account at http://phish.example/login";

#[tokio::test]
async fn the_relay_chain_is_401_without_credentials_and_bounded_by_the_quotas_with_them() {
    let mut system = TestSystem::start_with(
        Mail::Smtp,
        &[
            ("calendar", "QUOTA_INVITATIONS_PER_HOUR", &INVITATIONS_PER_ORGANIZER.to_string()),
            ("notifications", "QUOTA_JOBS_PER_HOUR", &JOBS_AT_NOTIFICATIONS.to_string()),
        ],
    )
    .await;
    let victims: Vec<String> = (0..8).map(|i| format!("victim{i}@example.net")).collect();

    // Without credentials: no contact, no event, no invitation.
    let anonymous = reqwest::Client::builder().no_proxy().build().unwrap();
    let contact = json!({"firstname": "Vic", "lastname": "Tim", "email": victims[0]});
    let response = anonymous.post(system.contacts.url("contacts")).json(&contact).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "contacts");
    assert!(system.all_contacts().await.is_empty(), "nothing was stored at contacts");

    let mallory = system.create_contact("Mallory", "One", "mallory@example.org").await;
    let trudy = system.create_contact("Trudy", "Two", "trudy@example.org").await;
    let mut guests = Vec::new();
    for (i, address) in victims.iter().enumerate() {
        guests.push(system.create_contact("Vic", &format!("Tim{i}"), address).await);
    }
    let everyone: Vec<_> = [&mallory, &trudy].into_iter().chain(guests.iter()).collect();
    system.wait_for_users(&everyone).await;
    let event = json!({"title": PHISH, "start": "2027-01-04T09:00:00Z", "end": "2027-01-04T10:00:00Z"});
    let response = anonymous
        .post(system.calendar.url(&format!("calendar/{}", mallory.id)))
        .json(&event)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "calendar event");
    let first = text(&system.create_event(&mallory.id, event.clone()).await, "id");
    let response = anonymous
        .post(system.calendar.url(&format!("event/{first}/participants")))
        .json(&victims[..2])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "calendar invitation");
    let job = json!({"email": victims[0], "subject": PHISH, "message": "hi"});
    let response = anonymous.post(system.notifications.url("notifications")).json(&job).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "notifications");

    // With credentials: one organizer stops at calendar's quota, across their events.
    let second = text(&system.create_event(&mallory.id, event.clone()).await, "id");
    let addresses: Vec<&str> = victims.iter().map(String::as_str).collect();
    system.invite_ok(&first, &addresses[0..3]).await;
    system.invite_ok(&second, &addresses[3..4]).await;
    let refused = system.invite(&second, &addresses[4..5], None).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS, "the organizer's fifth invitation");
    assert!(refused.headers().contains_key("retry-after"));
    let calendar_metrics = system.metrics(&system.calendar).await;
    assert_eq!(value(&calendar_metrics, "quota_refusals_total", &[("quota", "invitations")]), Some(1.0));

    // A second organizer has their own quota; notifications' quota on calendar's token stops the
    // total: 4 + 4 invitations, 6 mails.
    let third = text(&system.create_event(&trudy.id, event).await, "id");
    system.invite_ok(&third, &addresses[4..8]).await;
    wait_until("notifications refused calendar's jobs over its quota", Duration::from_secs(60), || async {
        let metrics = system.metrics(&system.notifications).await;
        let refused = value(&metrics, "quota_refusals_total", &[("quota", "jobs")]).unwrap_or(0.0);
        (refused >= 1.0 && system.smtp().messages().len() == JOBS_AT_NOTIFICATIONS).then_some(())
    })
    .await;
    // Calendar keeps the refused invitations in its outbox to retry after `Retry-After` (an hour):
    // nothing more reaches the SMTP server meanwhile.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let messages = system.smtp().messages();
    assert_eq!(messages.len(), JOBS_AT_NOTIFICATIONS, "no more mail than the quota allows");
    assert!(messages.iter().all(|m| m.rcpt_to.len() == 1 && victims.contains(&m.rcpt_to[0])));
    let pending = value(&system.metrics(&system.calendar).await, "outbox_pending", &[]);
    assert_eq!(
        pending,
        Some((2 * INVITATIONS_PER_ORGANIZER - JOBS_AT_NOTIFICATIONS) as f64),
        "kept to retry"
    );
    system.stop().await;
}
