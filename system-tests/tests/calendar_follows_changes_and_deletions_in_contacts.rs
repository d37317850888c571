//! calendar's users are a replica of contacts, kept up to date from contacts' feed: a changed
//! e-mail address changes who can be invited, a deleted contact can no longer be invited.

#![allow(clippy::unwrap_used)]

use reqwest::StatusCode;
use serde_json::json;
use system_tests::api::text;
use system_tests::{Mail, TestSystem};
use test_support::json_body;

#[tokio::test]
async fn a_changed_email_is_invitable_in_calendar_and_the_old_one_is_refused_by_name() {
    let mut system = TestSystem::start(Mail::Smtp).await;
    let owner = system.create_contact("Olivia", "Owner", "olivia@example.org").await;
    let carl = system.create_contact("Carl", "Changer", "carl@old.example").await;
    system.wait_for_users(&[&owner, &carl]).await;

    system.update_contact(&carl.id, json!({"email": "carl@new.example", "lastname": "Moved"})).await;
    let user = system
        .wait_for_user(&carl.id, "carl's new e-mail in calendar", |u| u["email"] == "carl@new.example")
        .await;
    assert_eq!(user["lastname"], "Moved", "other changed fields follow too");
    assert_eq!(user["firstname"], "Carl", "unchanged fields stay");

    let event = system.create_event(&owner.id, json!({"title": "Lunch", "date": "2027-05-06"})).await;
    let event_id = text(&event, "id");

    let refused = system.invite(&event_id, &["carl@old.example"], None).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = json_body(refused).await;
    assert_eq!(body["error"], "unknown_participants", "{body}");
    assert_eq!(body["unknown"], json!(["carl@old.example"]), "the refusal names the old address: {body}");
    assert!(body["message"].as_str().unwrap().contains("carl@old.example"), "{body}");
    let participants =
        system.http.get(system.calendar.url(&format!("event/{event_id}/participants"))).send().await.unwrap();
    assert_eq!(json_body(participants).await, json!([]), "nobody was added");

    let added = system.invite_ok(&event_id, &["carl@new.example"]).await;
    assert_eq!(added.len(), 1);
    assert!(added[0].ends_with(&format!("/users/{}", carl.id)), "{added:?}");

    system.wait_until_every_invitation_is_sent(1).await;
    let messages = system.smtp().messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].rcpt_to, ["carl@new.example"], "the invitation goes to the new address");
    system.stop().await;
}

#[tokio::test]
async fn a_deleted_contact_disappears_from_calendar_and_cannot_be_invited() {
    let mut system = TestSystem::start(Mail::Smtp).await;
    let owner = system.create_contact("Olivia", "Owner", "olivia@example.org").await;
    let dora = system.create_contact("Dora", "Gone", "dora@example.org").await;
    let eve = system.create_contact("Eve", "Stays", "eve@example.org").await;
    system.wait_for_users(&[&owner, &dora, &eve]).await;

    system.delete_contact(&dora.id).await;
    test_support::wait_until("dora gone from calendar", system_tests::PATIENCE, || async {
        system.calendar_user(&dora.id).await.is_none().then_some(())
    })
    .await;
    let mut users = system.all_users().await;
    users.sort();
    let mut expected = vec![owner.clone(), eve.clone()];
    expected.sort();
    assert_eq!(users, expected, "calendar's users are contacts' contacts");
    let mut contacts = system.all_contacts().await;
    contacts.sort();
    assert_eq!(contacts, expected);

    let event =
        system.create_event(&owner.id, json!({"title": "Retro", "day": 7, "month": 6, "year": 2027})).await;
    let refused = system.invite(&text(&event, "id"), &["eve@example.org", "dora@example.org"], None).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = json_body(refused).await;
    assert_eq!(body["unknown"], json!(["dora@example.org"]), "{body}");
    let calendar =
        system.http.get(system.calendar.url(&format!("calendar/{}", dora.id))).send().await.unwrap();
    assert_eq!(calendar.status(), StatusCode::NOT_FOUND, "a deleted user has no calendar");
    system.stop().await;
}
