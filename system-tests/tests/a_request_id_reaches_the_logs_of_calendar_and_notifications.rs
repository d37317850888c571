//! Tracing across services: the request id a client sends with an invitation appears in
//! calendar's JSON log lines for that request and for the delivery it caused, and in
//! notifications' log lines for the job calendar sent it.

#![allow(clippy::unwrap_used)]

use harness::process::ServiceProcess;
use serde_json::{Value, json};
use system_tests::api::text;
use system_tests::{Mail, PATIENCE, TestSystem};
use test_support::wait_until;

/// The JSON log lines of `service` that carry `request_id`, in the request span or as a field.
fn lines_with(service: &ServiceProcess, request_id: &str) -> Vec<Value> {
    service
        .json_logs()
        .into_iter()
        .filter(|line| line["span"]["request_id"] == request_id || line["request_id"] == request_id)
        .collect()
}

#[tokio::test]
async fn the_request_id_of_an_invitation_shows_up_in_calendars_and_notifications_logs() {
    let mut system = TestSystem::start(Mail::Smtp).await;
    let owner = system.create_contact("Olivia", "Owner", "olivia@example.org").await;
    let guest = system.create_contact("Gus", "Guest", "gus@example.org").await;
    system.wait_for_users(&[&owner, &guest]).await;
    let event = system.create_event(&owner.id, json!({"title": "Traced", "date": "2027-02-03"})).await;

    let request_id = format!("e2e-{}", uuid::Uuid::new_v4());
    let response = system.invite(&text(&event, "id"), &[&guest.email], Some(&request_id)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-request-id"], request_id.as_str(), "the id is echoed");
    system.wait_until_every_invitation_is_sent(1).await;

    let calendar = wait_until("calendar's log lines of the request and the delivery", PATIENCE, || async {
        let lines = lines_with(&system.calendar, &request_id);
        let request = lines.iter().any(|l| {
            l["span"]["route"] == "/event/{id}/participants"
                && l["span"]["method"] == "POST"
                && l["status"] == 200
        });
        let delivery = lines.iter().any(|l| l["message"] == "invitation delivered");
        (request && delivery).then_some(lines)
    })
    .await;
    assert!(calendar.iter().all(|l| l["level"].is_string() && l["timestamp"].is_string()));

    let notifications = wait_until("notifications' log line of the job", PATIENCE, || async {
        let lines = lines_with(&system.notifications, &request_id);
        lines
            .iter()
            .any(|l| {
                l["span"]["route"] == "/notifications" && l["span"]["method"] == "POST" && l["status"] == 202
            })
            .then_some(lines)
    })
    .await;
    assert!(notifications.iter().any(|l| l["message"] == "job queued"), "{notifications:?}");
    assert!(
        lines_with(&system.contacts, &request_id).is_empty(),
        "contacts took no part in this request, so it has no line with its id"
    );
    system.stop().await;
}
