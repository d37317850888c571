//! The main path through the whole system, over HTTP only: contacts created at contacts appear
//! in calendar; an event of one of them, two others invited by e-mail; the e-mails reach the SMTP
//! server with the right envelope, subject and a link to the event page that works, and carry an
//! iMIP invitation (read by Python's `email`, icalendar and vobject); the owner's and the
//! participants' calendars (`.ics`) list the event.

#![allow(clippy::unwrap_used)]

use reqwest::StatusCode;
use serde_json::json;
use system_tests::api::text;
use system_tests::{Mail, TestSystem};

async fn calendar_ics(system: &TestSystem, user: &str) -> String {
    let response =
        system.http.get(system.calendar.url(&format!("calendar/{user}.ics"))).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/calendar"));
    response.text().await.unwrap()
}

fn lists(ics: &str, event_id: &str, title: &str) -> bool {
    ics.contains(&format!("UID:{event_id}@calendar\r\n")) && ics.contains(&format!("SUMMARY:{title}\r\n"))
}

#[tokio::test]
async fn contacts_appear_in_calendar_and_invited_participants_get_an_email_linking_to_the_event() {
    let mut system = TestSystem::start(Mail::Smtp).await;
    let owner = system.create_contact("Olivia", "Owner", "olivia@example.org").await;
    let ann = system.create_contact("Ann", "Ärger", "ann@example.org").await;
    let bob = system.create_contact("Bob", "O'Brien", "Bob.OBrien@example.net").await;

    system.wait_for_users(&[&owner, &ann, &bob]).await;
    let replicated = system.calendar_user(&ann.id).await.unwrap();
    assert_eq!(
        (replicated["firstname"].as_str(), replicated["lastname"].as_str()),
        (Some("Ann"), Some("Ärger"))
    );
    assert_eq!(
        replicated["contact"],
        system.public_url(&system.contacts, &format!("contacts/{}", ann.id)),
        "the user links to the contact"
    );

    let event = system
        .create_event(
            &owner.id,
            json!({"title": "Design review", "start": "2027-03-04T09:00:00Z", "end": "2027-03-04T10:30:00Z",
                   "location": "Room 4"}),
        )
        .await;
    let event_id = text(&event, "id");
    let event_url = text(&event, "self");
    let participants = system.invite_ok(&event_id, &[&ann.email, &bob.email]).await;
    let mut expected: Vec<String> = [&ann, &bob]
        .iter()
        .map(|c| system.public_url(&system.calendar, &format!("users/{}", c.id)))
        .collect();
    expected.sort();
    let mut participants = participants;
    participants.sort();
    assert_eq!(participants, expected, "the participants are the two invited users");

    system.wait_until_every_invitation_is_sent(2).await;
    let messages = system.smtp().messages();
    assert_eq!(messages.len(), 2, "one e-mail per invited participant");
    for guest in [&ann, &bob] {
        let mail: Vec<_> = messages.iter().filter(|m| m.rcpt_to == [guest.email.clone()]).collect();
        assert_eq!(
            mail.len(),
            1,
            "exactly one e-mail to {} only; envelopes: {:?}",
            guest.email,
            messages.iter().map(|m| &m.rcpt_to).collect::<Vec<_>>()
        );
        let mail = mail[0];
        assert_eq!(mail.subject().as_deref(), Some("Invitation: Design review"));
        assert!(mail.raw_header("to").unwrap().contains(&guest.email), "To: names {}", guest.email);
        let body = mail.text_body().unwrap();
        assert!(body.contains("Olivia Owner"), "the e-mail names the host: {body}");
        let link = body
            .split_whitespace()
            .find(|word| word.starts_with("http") && word.contains("/event/"))
            .unwrap_or_else(|| panic!("no link to the event in: {body}"));
        assert_eq!(link, event_url, "the link is the event's address");

        let page = system.http.get(link).header("accept", "text/html").send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK, "the link in the e-mail works");
        let html = page.text().await.unwrap();
        assert!(html.contains("<h1>Design review</h1>"), "the linked page shows the event: {html}");
        assert!(html.contains(&guest.email), "the event page lists {} as a participant", guest.email);

        // iMIP (RFC 6047): a mail client reads an invitation it can accept or decline.
        if let Some(check) = test_support::python::imip_check(&mail.data) {
            let report = &check.report;
            assert!(check.accepted, "{report}\n{}", check.stderr);
            assert_eq!(
                report["parts"],
                json!(["multipart/alternative", "text/plain", "text/calendar"]),
                "the text and the invitation are alternatives: {report}"
            );
            assert_eq!(report["method"], "REQUEST", "{report}");
            assert_eq!(report["disposition"], serde_json::Value::Null, "not an attachment: {report}");
            assert_eq!(report["calendar"]["method"], "REQUEST", "{report}");
            let vevent = &report["calendar"]["events"][0];
            assert_eq!(vevent["uid"], format!("{event_id}@calendar"), "the subscription's UID: {report}");
            assert_eq!(vevent["rsvp"], json!(["TRUE"]), "{report}");
            for reader in ["icalendar", "vobject"] {
                let read = &report[reader]["events"][0];
                assert_eq!(read["summary"], "Design review", "{reader}: {report}");
                assert_eq!(read["location"], "Room 4", "{reader}: {report}");
                assert_eq!(read["organizer"]["address"], "mailto:olivia@example.org", "{reader}: {report}");
                assert_eq!(read["organizer"]["cn"], "Olivia Owner", "{reader}: {report}");
                let attendees = read["attendees"].as_array().unwrap();
                assert_eq!(attendees.len(), 1, "only the invitee is named: {report}");
                assert_eq!(
                    attendees[0]["address"].as_str().map(str::to_lowercase),
                    Some(format!("mailto:{}", guest.email.to_lowercase())),
                    "{reader}: {report}"
                );
                assert_eq!(attendees[0]["partstat"], "NEEDS-ACTION", "{reader}: {report}");
            }
        }
    }

    let ics = calendar_ics(&system, &owner.id).await;
    assert!(lists(&ics, &event_id, "Design review"), "the owner's calendar (.ics) lists the event:\n{ics}");
    system.stop().await;
}
