//! Cascading failure, the contacts side: with contacts killed, calendar keeps serving everything
//! it holds (users, calendars, events, participants, iCalendar), stays ready, and keeps taking
//! events and invitations for the users it knows; when contacts is back, calendar catches up.

#![allow(clippy::unwrap_used)]

use reqwest::StatusCode;
use serde_json::json;
use system_tests::api::text;
use system_tests::prometheus::value;
use system_tests::{Mail, PATIENCE, TestSystem};
use test_support::wait_until;

/// A GET's status and body (text), asking for JSON unless the path is an `.ics`.
async fn get(system: &TestSystem, path: &str) -> (StatusCode, String) {
    let response =
        system.http.get(system.calendar.url(path)).header("accept", "application/json").send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

async fn feed_errors(system: &TestSystem) -> f64 {
    let metrics = system.metrics(&system.calendar).await;
    ["connect", "timeout", "body", "http_status"]
        .iter()
        .filter_map(|kind| value(&metrics, "feed_errors_total", &[("kind", kind)]))
        .sum()
}

#[tokio::test]
async fn calendar_serves_its_users_calendars_events_and_ics_and_stays_ready_while_contacts_is_down() {
    let mut system = TestSystem::start(Mail::Smtp).await;
    let owner = system.create_contact("Olivia", "Owner", "olivia@example.org").await;
    let guest = system.create_contact("Gus", "Guest", "gus@example.org").await;
    let late = system.create_contact("Lea", "Late", "lea@example.org").await;
    system.wait_for_users(&[&owner, &guest, &late]).await;
    let event = system
        .create_event(
            &owner.id,
            json!({"title": "Offsite", "start": "2027-04-01T09:00:00Z", "end": "2027-04-01T17:00:00Z"}),
        )
        .await;
    let event_id = text(&event, "id");
    system.invite_ok(&event_id, &[&guest.email]).await;

    let paths = [
        "health/ready".to_string(),
        "users".into(),
        format!("users/{}", owner.id),
        format!("calendar/{}", owner.id),
        format!("calendar/{}.ics", owner.id),
        format!("calendar/{}.ics", guest.id),
        format!("event/{event_id}"),
        format!("event/{event_id}/participants"),
    ];
    let mut before = Vec::new();
    for path in &paths {
        let (status, body) = get(&system, path).await;
        assert_eq!(status, StatusCode::OK, "GET /{path} with contacts up");
        before.push(body);
    }

    let errors_before = feed_errors(&system).await;
    system.contacts.kill().await.unwrap();
    wait_until("calendar to fail fetching the feed from the dead contacts", PATIENCE, || async {
        (feed_errors(&system).await > errors_before).then_some(())
    })
    .await;

    for (path, earlier) in paths.iter().zip(&before) {
        let (status, body) = get(&system, path).await;
        assert_eq!(status, StatusCode::OK, "GET /{path} while contacts is down");
        if path.ends_with(".ics") {
            // DTSTAMP is the time of the export; everything else must be the same.
            let strip =
                |ics: &str| ics.lines().filter(|l| !l.starts_with("DTSTAMP")).collect::<Vec<_>>().join("\n");
            assert_eq!(strip(&body), strip(earlier), "GET /{path} answers what it answered before");
            assert!(body.contains(&format!("UID:{event_id}@calendar")), "the calendar lists the event");
        } else if path != "health/ready" {
            assert_eq!(body, *earlier, "GET /{path} answers what it answered before");
        }
    }
    // Its own data keeps changing: a new event, and an invitation of a user it already knows.
    let second = system.create_event(&owner.id, json!({"title": "Retro", "date": "2027-04-02"})).await;
    system.invite_ok(&text(&second, "id"), &[&guest.email, &late.email]).await;
    system.wait_until_every_invitation_is_sent(3).await;
    assert_eq!(get(&system, "health/ready").await.0, StatusCode::OK, "still ready");

    // contacts comes back; calendar picks up what happened since.
    system.contacts.restart().await.unwrap();
    let newcomer = system.create_contact("Nia", "New", "nia@example.org").await;
    system.wait_for_users(&[&newcomer]).await;
    system.stop().await;
}
