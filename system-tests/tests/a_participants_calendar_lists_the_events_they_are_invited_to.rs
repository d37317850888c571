//! A calendar subscription (`.ics`) shows what its user takes part in: the events they own and
//! the events they were invited to, and nothing else.

#![allow(clippy::unwrap_used)]

use reqwest::StatusCode;
use serde_json::json;
use system_tests::api::text;
use system_tests::{Mail, TestSystem};

async fn calendar_ics(system: &TestSystem, user: &str) -> String {
    let response =
        system.http.get(system.calendar.url(&format!("calendar/{user}.ics"))).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.unwrap()
}

fn lists(ics: &str, event_id: &str, title: &str) -> bool {
    ics.contains(&format!("UID:{event_id}@calendar\r\n")) && ics.contains(&format!("SUMMARY:{title}\r\n"))
}

#[tokio::test]
async fn the_ics_of_each_invited_participant_lists_the_event_and_nobody_elses_does() {
    let mut system = TestSystem::start(Mail::Smtp).await;
    let owner = system.create_contact("Olivia", "Owner", "olivia@example.org").await;
    let ann = system.create_contact("Ann", "Guest", "ann@example.org").await;
    let bob = system.create_contact("Bob", "Guest", "bob@example.org").await;
    let stranger = system.create_contact("Sam", "Stranger", "sam@example.org").await;
    system.wait_for_users(&[&owner, &ann, &bob, &stranger]).await;
    let event = system.create_event(&owner.id, json!({"title": "Kick-off", "date": "2027-03-05"})).await;
    let event_id = text(&event, "id");
    system.invite_ok(&event_id, &[&ann.email, &bob.email]).await;

    for guest in [&ann, &bob] {
        let ics = calendar_ics(&system, &guest.id).await;
        assert!(
            lists(&ics, &event_id, "Kick-off"),
            "{}'s calendar (.ics) lists the event:\n{ics}",
            guest.email
        );
    }
    let ics = calendar_ics(&system, &stranger.id).await;
    assert!(!ics.contains("Kick-off"), "a user not invited does not get the event:\n{ics}");
    system.stop().await;
}
