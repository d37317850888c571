//! Participants and invitations: all-or-nothing adds, the outbox, the circuit breaker, and
//! delivery to notifications once it is reachable again. The outage test that reads the
//! process-wide gauges (`outbox_pending`, `circuit_breaker_state`) is a binary of its own,
//! `tests/breaker_and_outbox_gauges.rs`.

use std::time::Duration;

use serde_json::json;
use test_support::{TestDb, json_body, wait_until};
use tower_resilience_circuitbreaker::CircuitState;

use crate::feed_server::FeedServer;
use crate::helpers::{
    TestApp, WAIT, app_with_notifications, breaker, owner_and_guests, settings, spawn_app, spawn_with,
};
use crate::notifications_stub::{Mode, NotificationsStub};

#[tokio::test]
async fn inviting_an_unknown_email_adds_nobody() {
    let feed = FeedServer::start(20).await;
    let ann = feed.create_contact("ann@example.org", "Ann", "Lee");
    let bob = feed.create_contact("bob@example.org", "Bob", "Ray");
    let app = spawn_app(&feed).await;
    app.wait_for_user(ann).await;
    app.wait_for_user(bob).await;
    let event = app.create_event(ann, "Party").await;
    let path = format!("/event/{event}/participants");

    let response =
        app.post_json(&path, &json!(["BOB@example.org", "nobody@example.org", "ghost@example.org"])).await;
    assert_eq!(response.status(), 422);
    let error = json_body(response).await;
    assert_eq!(error["error"], "unknown_participants");
    assert_eq!(error["unknown"], json!(["nobody@example.org", "ghost@example.org"]));
    assert!(error["message"].as_str().unwrap().contains("nobody@example.org"));
    assert_eq!(app.get_json(&path).await.1, json!([]), "nobody was added");

    let malformed = app.post_json(&path, &json!(["not an address"])).await;
    assert_eq!(malformed.status(), 422);
    assert_eq!(json_body(malformed).await["field"], "emails");
    assert_eq!(
        app.post_json(&path, &json!({"emails": []})).await.status(),
        422,
        "the original body is an array"
    );
    assert_eq!(
        app.post_json(&format!("/event/{}/participants", uuid::Uuid::now_v7()), &json!([])).await.status(),
        404
    );

    // Case does not matter; adding someone twice keeps one participation.
    assert_eq!(app.post_json(&path, &json!(["BOB@example.org"])).await.status(), 200);
    assert_eq!(app.post_json(&path, &json!(["bob@example.org", "ann@example.org"])).await.status(), 200);
    assert_eq!(app.get_json(&path).await.1.as_array().unwrap().len(), 2);

    let remove = app.http.delete(app.url(&format!("{path}/{bob}"))).send().await.unwrap();
    assert_eq!(remove.status(), 204);
    assert_eq!(app.http.delete(app.url(&format!("{path}/{bob}"))).send().await.unwrap().status(), 404);
    assert_eq!(app.get_json(&path).await.1.as_array().unwrap().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn invitations_reach_notifications_once_with_key_token_and_request_id() {
    let feed = FeedServer::start(20).await;
    let stub = NotificationsStub::start().await;
    let ann = feed.create_contact("ann@example.org", "Ann", "Lee");
    let bob = feed.create_contact("bob@example.org", "Bob", "Ray");
    let app = app_with_notifications(&feed, &stub, Duration::from_millis(300)).await;
    app.wait_for_user(bob).await;
    app.wait_for_user(ann).await;
    let event = app.create_event(ann, "Party").await;

    let response = app
        .http
        .post(app.url(&format!("/event/{event}/participants")))
        .header("x-request-id", "invite-request-1")
        .json(&json!(["bob@example.org"]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let accepted = wait_until("the invitation at notifications", WAIT, || async {
        let accepted = stub.accepted();
        (!accepted.is_empty()).then_some(accepted)
    })
    .await;
    let job = &accepted[0];
    assert_eq!(job.body["email"], "bob@example.org");
    assert_eq!(job.body["subject"], "Invitation: Party");
    let message = job.body["message"].as_str().unwrap();
    assert!(
        message
            .contains(&format!("http://localhost:{}/event/{event}", app.address.rsplit(':').next().unwrap())),
        "{message}"
    );
    assert!(message.contains("Ann Lee"), "{message}");
    let attachments = job.body["attachments"].as_array().expect("the iMIP part");
    assert_eq!(attachments.len(), 1);
    assert_eq!(attachments[0]["content_type"], "text/calendar; method=REQUEST");
    assert!(attachments[0].get("filename").is_none(), "an alternative of the text, not an attachment");
    let imip = attachments[0]["content"].as_str().unwrap().replace("\r\n ", "");
    for line in [
        "METHOD:REQUEST\r\n".to_string(),
        format!("UID:{event}@calendar\r\n"),
        "ORGANIZER;CN=Ann Lee:mailto:ann@example.org\r\n".to_string(),
        "ATTENDEE;CN=Bob Ray;PARTSTAT=NEEDS-ACTION;ROLE=REQ-PARTICIPANT;RSVP=TRUE:mailto:bob@example.org\r\n"
            .to_string(),
    ] {
        assert!(imip.contains(&line), "{line:?} in {imip}");
    }
    assert_eq!(job.request_id.as_deref(), Some("invite-request-1"));
    assert_eq!(
        app.outbox_ids(&event).await,
        std::slice::from_ref(&job.key),
        "the outbox row's id is the key"
    );

    // Adding the same participant again sends nothing new.
    assert_eq!(
        app.post_json(&format!("/event/{event}/participants"), &json!(["bob@example.org"])).await.status(),
        200
    );
    let page = app.get_accept(&format!("/event/{event}"), "text/html").await.text().await.unwrap();
    assert!(page.contains(">sent<"), "the event page shows the delivery");
    let link = format!("href=\"http://localhost:3003/notifications/{}\"", job.job_id);
    assert!(page.contains(&link), "the invitation links to its job at notifications: {link} in {page}");
    assert_eq!(stub.accepted().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn server_errors_are_retried_with_the_same_key_until_accepted() {
    let feed = FeedServer::start(20).await;
    let stub = NotificationsStub::start().await;
    let ann = feed.create_contact("ann@example.org", "Ann", "Lee");
    let app = app_with_notifications(&feed, &stub, Duration::from_millis(200)).await;
    app.wait_for_user(ann).await;
    let event = app.create_event(ann, "Retry").await;
    stub.set_mode(Mode::Status(503));
    app.post_json(&format!("/event/{event}/participants"), &json!(["ann@example.org"])).await;
    wait_until("a few failed attempts", WAIT, || async { (stub.attempts() >= 2).then_some(()) }).await;
    stub.set_mode(Mode::Up);
    wait_until("the invitation accepted", WAIT, || async { (stub.accepted().len() == 1).then_some(()) })
        .await;
    let row = app.outbox_ids(&event).await;
    let keys = stub.attempt_keys();
    assert!(keys.len() >= 3, "two refused attempts and the accepted one: {keys:?}");
    assert!(
        keys.iter().all(|k| k.as_deref() == Some(row[0].as_str())),
        "every attempt had key {row:?}: {keys:?}"
    );
    app.stop().await;
}

/// While notifications cannot take them, queued invitations follow the participants: a changed
/// address is the one the invitation goes to, and a removed participant or a deleted contact
/// gets nothing, ever.
#[tokio::test]
async fn an_undelivered_invitation_goes_to_the_current_address_and_only_to_current_participants() {
    let feed = FeedServer::start(20).await;
    let stub = NotificationsStub::start().await;
    let ann = feed.create_contact("ann@example.org", "Ann", "Lee");
    let bob = feed.create_contact("bob@example.org", "Bob", "Ray");
    let cy = feed.create_contact("cy@example.org", "Cy", "Dee");
    let di = feed.create_contact("di@example.org", "Di", "Eve");
    let app = app_with_notifications(&feed, &stub, Duration::from_millis(200)).await;
    app.wait_for_user(di).await;
    let event = app.create_event(ann, "Moving day").await;
    stub.set_mode(Mode::Status(503));
    let path = format!("/event/{event}/participants");
    let added = app.post_json(&path, &json!(["bob@example.org", "cy@example.org", "di@example.org"])).await;
    assert_eq!(added.status(), 200);
    wait_until("a refused attempt", WAIT, || async { (stub.attempts() >= 1).then_some(()) }).await;

    feed.update_contact(bob, json!({"email": "bob@new.example.org"}));
    assert_eq!(app.delete(&format!("{path}/{cy}")).await.status(), 204);
    feed.delete_contact(di);
    app.wait_for_no_user(di).await;
    wait_until("calendar has Bob's new address", WAIT, || async {
        (app.wait_for_user(bob).await["email"] == "bob@new.example.org").then_some(())
    })
    .await;
    let rows = app.outbox_rows(&event).await;
    // The pending row keeps the last refusal it got, if any; a cancelled one says why.
    let expected = [
        ("bob@new.example.org", "pending", None),
        ("cy@example.org", "cancelled", Some("the participant was removed")),
        ("di@example.org", "cancelled", Some("the contact was deleted")),
    ];
    let mut seen: Vec<(&str, &str, Option<&str>)> = rows
        .iter()
        .map(|(_, e, s, r)| (e.as_str(), s.as_str(), if s == "cancelled" { r.as_deref() } else { None }))
        .collect();
    seen.sort();
    assert_eq!(seen, expected, "the outbox while notifications is down");

    stub.set_mode(Mode::Up);
    wait_until("the invitation accepted", WAIT, || async { (!stub.accepted().is_empty()).then_some(()) })
        .await;
    let accepted = stub.accepted();
    assert_eq!(accepted.len(), 1, "one invitation delivered: {accepted:?}");
    assert_eq!(accepted[0].body["email"], "bob@new.example.org", "to the current address");
    assert!(
        accepted[0].body.get("attachments").is_none(),
        "the iMIP part named the old address as the attendee, so the readdressed mail goes without it"
    );
    // The cancelled rows are settled: no dispatch takes them up again.
    let mut rows: Vec<_> = app.outbox_rows(&event).await.into_iter().map(|(_, e, s, _)| (e, s)).collect();
    rows.sort();
    assert_eq!(rows[0].1, "sent");
    assert!(rows[1..].iter().all(|(_, status)| status == "cancelled"), "{rows:?}");
    let page = app.get_accept(&format!("/event/{event}"), "text/html").await.text().await.unwrap();
    assert!(
        page.contains("the participant was removed") && page.contains("the contact was deleted"),
        "{page}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_refused_invitation_is_marked_failed_not_retried_forever() {
    let feed = FeedServer::start(20).await;
    let stub = NotificationsStub::start().await;
    let ann = feed.create_contact("ann@example.org", "Ann", "Lee");
    let app = app_with_notifications(&feed, &stub, Duration::from_millis(200)).await;
    app.wait_for_user(ann).await;
    let event = app.create_event(ann, "Conflict").await;
    stub.set_mode(Mode::Status(409));
    app.post_json(&format!("/event/{event}/participants"), &json!(["ann@example.org"])).await;
    wait_until("the invitation marked failed", WAIT, || async {
        let page = app.get_accept(&format!("/event/{event}"), "text/html").await.text().await.unwrap();
        page.contains(">failed<").then_some(())
    })
    .await;
    let attempts = stub.attempts();
    assert_eq!(attempts, 1, "a 409 is final");
    assert_eq!(breaker(&app.dispatcher), CircuitState::Closed, "a refusal is not an outage");
    app.stop().await;
}

#[tokio::test]
async fn a_refused_token_keeps_invitations_pending_until_the_configuration_is_fixed() {
    let feed = FeedServer::start(20).await;
    let stub = NotificationsStub::start().await;
    let ann = feed.create_contact("ann@example.org", "Ann", "Lee");
    let app = app_with_notifications(&feed, &stub, Duration::from_millis(200)).await;
    app.wait_for_user(ann).await;
    let event = app.create_event(ann, "Misconfigured").await;
    stub.set_mode(Mode::Status(401));
    app.post_json(&format!("/event/{event}/participants"), &json!(["ann@example.org"])).await;
    wait_until("several refused attempts", WAIT, || async { (stub.attempts() >= 2).then_some(()) }).await;
    let page = app.get_accept(&format!("/event/{event}"), "text/html").await.text().await.unwrap();
    assert!(page.contains(">pending<") && !page.contains(">failed<"), "a 401 must not fail the invitation");
    stub.set_mode(Mode::Up);
    wait_until("the invitation accepted once the token works", WAIT, || async {
        (stub.accepted().len() == 1).then_some(())
    })
    .await;
    app.stop().await;
}

#[tokio::test]
async fn with_notifications_off_invitations_stay_in_the_outbox() {
    let feed = FeedServer::start(20).await;
    let ann = feed.create_contact("ann@example.org", "Ann", "Lee");
    let app = spawn_app(&feed).await;
    app.wait_for_user(ann).await;
    let event = app.create_event(ann, "Quiet").await;
    assert_eq!(
        app.post_json(&format!("/event/{event}/participants"), &json!(["ann@example.org"])).await.status(),
        200
    );
    assert!(app.dispatcher.breaker_state().is_none());
    let page = app.get_accept(&format!("/event/{event}"), "text/html").await.text().await.unwrap();
    assert!(page.contains(">pending<"), "kept for a later configuration to deliver");
    app.stop().await;
}

#[tokio::test]
async fn slow_notifications_time_out_without_holding_up_the_api() {
    let feed = FeedServer::start(20).await;
    let stub = NotificationsStub::start().await;
    let ann = feed.create_contact("ann@example.org", "Ann", "Lee");
    let app = app_with_notifications(&feed, &stub, Duration::from_millis(200)).await;
    app.wait_for_user(ann).await;
    let event = app.create_event(ann, "Slow").await;
    stub.set_mode(Mode::Slow(Duration::from_secs(3)));
    assert_eq!(
        app.post_json(&format!("/event/{event}/participants"), &json!(["ann@example.org"])).await.status(),
        200
    );
    wait_until("a delivery attempt in flight", WAIT, || async { (stub.attempts() >= 1).then_some(()) }).await;
    assert_eq!(app.get_json(&format!("/event/{event}")).await.0, 200, "the API answers while delivery hangs");
    wait_until("the attempt to time out", WAIT, || async {
        let page = app.get_accept(&format!("/event/{event}"), "text/html").await.text().await.unwrap();
        page.contains("timed out").then_some(())
    })
    .await;
    stub.set_mode(Mode::Up);
    wait_until("the invitation delivered", WAIT, || async {
        let page = app.get_accept(&format!("/event/{event}"), "text/html").await.text().await.unwrap();
        page.contains(">sent<").then_some(())
    })
    .await;
    assert_eq!(stub.accepted().len(), 1, "the timed-out attempt and its retry are one job (same key)");
    let row = app.outbox_ids(&event).await;
    let keys = stub.attempt_keys();
    assert!(keys.len() >= 2, "the timed-out attempt and the retry: {keys:?}");
    assert!(
        keys.iter().all(|k| k.as_deref() == Some(row[0].as_str())),
        "every attempt had key {row:?}: {keys:?}"
    );
    app.stop().await;
}

/// `QUOTA_INVITATIONS_PER_HOUR` per organizer, across their events, through the API and the
/// form: `429` with `Retry-After`, nobody added, counted in `quota_refusals_total`; another
/// organizer keeps their own quota.
#[tokio::test]
async fn an_organizer_inviting_more_than_the_hourly_quota_gets_429_and_invites_nobody() {
    let feed = FeedServer::start(20).await;
    let ann = feed.create_contact("ann@example.org", "Ann", "Lee");
    let bob = feed.create_contact("bob@example.org", "Bob", "Ray");
    let guests: Vec<_> = (0..6)
        .map(|i| (feed.create_contact(&format!("g{i}@example.org"), "Guest", &i.to_string()), i))
        .collect();
    let db = TestDb::new().await;
    let mut settings = settings(&db, &feed, None);
    settings.notifications.invitations_per_hour = 4;
    let app = spawn_with(db, settings).await;
    for (id, _) in &guests {
        app.wait_for_user(*id).await;
    }
    app.wait_for_user(ann).await;
    app.wait_for_user(bob).await;
    let party = app.create_event(ann, "Party").await;
    let dinner = app.create_event(ann, "Dinner").await;
    let app = &app;
    let invite = |event: &str, emails: &[&str]| {
        let path = format!("/event/{event}/participants");
        let emails = json!(emails);
        async move { app.post_json(&path, &emails).await }
    };
    assert_eq!(invite(&party, &["g0@example.org", "g1@example.org", "g2@example.org"]).await.status(), 200);
    let refused = invite(&dinner, &["g3@example.org", "g4@example.org"]).await;
    assert_eq!(refused.status(), 429, "3 + 2 is over 4, across the organizer's events");
    let retry_after: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((3500..=3600).contains(&retry_after), "Retry-After {retry_after}");
    assert_eq!(json_body(refused).await["error"], "quota_exceeded");
    assert_eq!(app.get_json(&format!("/event/{dinner}/participants")).await.1, json!([]), "nobody was added");
    assert_eq!(invite(&dinner, &["g3@example.org"]).await.status(), 200, "one more still fits");
    let form = app.post_form(&format!("/event/{party}/invite"), &[("emails", "g5@example.org")]).await;
    assert_eq!(form.status(), 429, "the form says so on the event page");
    assert!(form.text().await.unwrap().contains("retry after"));
    assert_eq!(app.metric(r#"quota_refusals_total{quota="invitations"}"#).await, Some(2.0));

    let bobs = app.create_event(bob, "Bob's").await;
    assert_eq!(invite(&bobs, &["g4@example.org", "g5@example.org"]).await.status(), 200, "another organizer");
}

/// What the breaker lets through, counted at the stand-in: nothing while open, exactly one probe
/// when half-open (which, failing, opens it again), and everything once a probe succeeds.
/// The absence of calls is observed for 1 s of a 3 s `BREAKER_OPEN_MS`.
#[tokio::test]
async fn the_breaker_lets_no_call_through_while_open_one_probe_when_half_open_and_all_once_closed() {
    const OPEN_FOR: Duration = Duration::from_secs(3);
    const QUIET: Duration = Duration::from_secs(1);
    let feed = FeedServer::start(20).await;
    let stub = NotificationsStub::start().await;
    let (owner, guests, last) = owner_and_guests(&feed, 6);
    let app = app_with_notifications(&feed, &stub, OPEN_FOR).await;
    app.wait_for_user(last).await;
    let event = app.create_event(owner, "Breaker").await;
    stub.set_mode(Mode::Status(503));
    assert_eq!(app.post_json(&format!("/event/{event}/participants"), &json!(guests)).await.status(), 200);
    let open = |app: &TestApp| breaker(&app.dispatcher) == CircuitState::Open;
    wait_until("the breaker to open", WAIT, || async { open(&app).then_some(()) }).await;
    let when_opened = stub.attempts();
    tokio::time::sleep(QUIET).await;
    assert!(open(&app));
    assert_eq!(stub.attempts(), when_opened, "no call while the breaker is open");

    // Half-open: one probe, which fails and opens the breaker again.
    wait_until("the half-open probe", WAIT, || async { (stub.attempts() > when_opened).then_some(()) }).await;
    wait_until("the breaker open again", WAIT, || async { open(&app).then_some(()) }).await;
    tokio::time::sleep(QUIET).await;
    assert_eq!(stub.attempts(), when_opened + 1, "exactly one probe when half-open");

    // The next probe succeeds: the breaker closes and every invitation goes, once.
    stub.set_mode(Mode::Up);
    wait_until("all six accepted", WAIT, || async { (stub.accepted().len() == guests.len()).then_some(()) })
        .await;
    assert_eq!(breaker(&app.dispatcher), CircuitState::Closed);
    let attempts = stub.attempts();
    assert_eq!(attempts, when_opened + 1 + guests.len(), "after closing, one call per invitation");
    app.stop().await;
}

/// The jobs notifications accepted, once there are `n`.
async fn accepted_jobs(stub: &NotificationsStub, n: usize) -> Vec<crate::notifications_stub::Received> {
    wait_until(&format!("{n} jobs accepted"), WAIT, || async {
        Some(stub.accepted()).filter(|a| a.len() == n)
    })
    .await
}

/// With notifications refusing every job, invites `email` to the event at `path` and waits for
/// the refusal of its invitation, which then stays in the outbox.
async fn invite_while_refused(app: &TestApp, stub: &NotificationsStub, path: &str, email: &str) {
    stub.set_mode(Mode::Status(503));
    let attempts = stub.attempts();
    assert_eq!(app.post_json(&format!("{path}/participants"), &json!([email])).await.status(), 200);
    wait_until("a refused attempt", WAIT, || async { (stub.attempts() > attempts).then_some(()) }).await;
}

/// The `SEQUENCE` and `UID` of the iMIP part of a job sent to notifications.
fn imip_sequence_and_uid(body: &serde_json::Value) -> (u32, String) {
    let imip = body["attachments"][0]["content"].as_str().expect("an iMIP part").replace("\r\n ", "");
    let value = |name: &str| {
        imip.lines()
            .find_map(|line| line.strip_prefix(name))
            .unwrap_or_else(|| panic!("{name} in {imip}"))
            .trim_end()
            .to_string()
    };
    (value("SEQUENCE:").parse().unwrap(), value("UID:"))
}

#[tokio::test]
async fn a_change_of_title_time_or_place_sends_participants_an_updated_request_that_supersedes_an_undelivered_one()
 {
    let feed = FeedServer::start(20).await;
    let stub = NotificationsStub::start().await;
    let ann = feed.create_contact("ann@example.org", "Ann", "Lee");
    let bob = feed.create_contact("bob@example.org", "Bob", "Ray");
    let cy = feed.create_contact("cy@example.org", "Cy", "Dee");
    let app = app_with_notifications(&feed, &stub, Duration::from_millis(200)).await;
    for user in [ann, bob, cy] {
        app.wait_for_user(user).await;
    }
    let event = app.create_event(ann, "Party").await;
    let path = format!("/event/{event}");
    assert_eq!(
        app.post_json(&format!("{path}/participants"), &json!(["bob@example.org"])).await.status(),
        200
    );
    wait_until("the invitation", WAIT, || async { (stub.accepted().len() == 1).then_some(()) }).await;

    let same = json!({"title": "Party", "date": "2026-12-24", "description": "Bring a dish"});
    assert_eq!(app.put_json(&path, &same).await.status(), 200);
    assert_eq!(app.outbox_ids(&event).await.len(), 1, "a new description alone is no news to send");

    let moved = json!({"title": "Party", "date": "2026-12-26", "description": "Bring a dish"});
    assert_eq!(app.put_json(&path, &moved).await.status(), 200);
    let accepted = accepted_jobs(&stub, 2).await;
    let (first, update) = (&accepted[0].body, &accepted[1].body);
    assert_eq!(update["email"], "bob@example.org");
    assert_eq!(update["subject"], "Updated invitation: Party");
    assert!(update["message"].as_str().unwrap().contains("Saturday, 26 December 2026"), "{update}");
    let (sequence, uid) = imip_sequence_and_uid(first);
    let (new_sequence, new_uid) = imip_sequence_and_uid(update);
    assert_eq!(new_uid, uid, "the same event for the calendar app");
    assert!(new_sequence > sequence, "a higher SEQUENCE replaces the earlier request");

    // With notifications down, a new invitation and then a change: one mail each, the current one.
    invite_while_refused(&app, &stub, &path, "cy@example.org").await;
    let placed = json!({"title": "Party", "date": "2026-12-26", "location": "Ann's garden"});
    assert_eq!(app.put_json(&path, &placed).await.status(), 200);
    let rows = app.outbox_rows(&event).await;
    let superseded: Vec<_> = rows.iter().filter(|(_, _, status, _)| status == "cancelled").collect();
    assert_eq!(superseded.len(), 1, "{rows:?}");
    assert_eq!(superseded[0].1, "cy@example.org");
    assert_eq!(superseded[0].3.as_deref(), Some("superseded by a later update"));
    stub.set_mode(Mode::Up);
    let accepted = accepted_jobs(&stub, 4).await;
    let mut last: Vec<_> =
        accepted[2..].iter().map(|r| r.body["email"].as_str().unwrap().to_string()).collect();
    last.sort();
    assert_eq!(last, ["bob@example.org", "cy@example.org"], "one mail each after the change");
    for job in &accepted[2..] {
        assert_eq!(job.body["subject"], "Updated invitation: Party");
        assert!(job.body["message"].as_str().unwrap().contains("Where: Ann's garden"), "{}", job.body);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(stub.accepted().len(), 4, "the superseded invitation never goes out");
    app.stop().await;
}

#[tokio::test]
async fn removing_a_participant_or_deleting_the_event_cancels_for_those_who_were_invited() {
    let feed = FeedServer::start(20).await;
    let stub = NotificationsStub::start().await;
    let ann = feed.create_contact("ann@example.org", "Ann", "Lee");
    let bob = feed.create_contact("bob@example.org", "Bob", "Ray");
    let cy = feed.create_contact("cy@example.org", "Cy", "Dee");
    let di = feed.create_contact("di@example.org", "Di", "Eve");
    let app = app_with_notifications(&feed, &stub, Duration::from_millis(200)).await;
    for user in [ann, bob, cy, di] {
        app.wait_for_user(user).await;
    }
    let event = app.create_event(ann, "Party").await;
    let path = format!("/event/{event}");
    let invited =
        app.post_json(&format!("{path}/participants"), &json!(["bob@example.org", "cy@example.org"])).await;
    assert_eq!(invited.status(), 200);
    let accepted = accepted_jobs(&stub, 2).await;
    let (request_sequence, uid) = imip_sequence_and_uid(&accepted[0].body);

    assert_eq!(app.delete(&format!("{path}/participants/{cy}")).await.status(), 204);
    let accepted = accepted_jobs(&stub, 3).await;
    let removal = &accepted[2].body;
    assert_eq!(removal["email"], "cy@example.org");
    assert_eq!(removal["subject"], "No longer invited: Party");
    assert_eq!(removal["attachments"][0]["content_type"], "text/calendar; method=CANCEL");
    let cancel = removal["attachments"][0]["content"].as_str().unwrap().replace("\r\n ", "");
    assert!(
        cancel.contains("\r\nMETHOD:CANCEL\r\n") && cancel.contains("\r\nSTATUS:CANCELLED\r\n"),
        "{cancel}"
    );
    assert!(
        cancel.contains("mailto:cy@example.org") && !cancel.contains("mailto:bob@example.org"),
        "{cancel}"
    );
    let (sequence, cancel_uid) = imip_sequence_and_uid(removal);
    assert_eq!(cancel_uid, uid);
    assert!(sequence > request_sequence, "the cancellation supersedes the request");

    // Di's invitation never leaves (notifications is down): deleting the event cancels it, and
    // only Bob, who was told, is told of the cancellation.
    invite_while_refused(&app, &stub, &path, "di@example.org").await;
    assert_eq!(app.delete(&path).await.status(), 204);
    stub.set_mode(Mode::Up);
    let accepted = accepted_jobs(&stub, 4).await;
    let cancelled = &accepted[3].body;
    assert_eq!(cancelled["email"], "bob@example.org");
    assert_eq!(cancelled["subject"], "Cancelled: Party");
    assert_eq!(cancelled["attachments"][0]["content_type"], "text/calendar; method=CANCEL");
    assert_eq!(imip_sequence_and_uid(cancelled).1, uid);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let emails: Vec<_> =
        stub.accepted().iter().map(|r| r.body["email"].as_str().unwrap().to_string()).collect();
    assert_eq!(emails.len(), 4, "Di hears nothing of an event she was never told of: {emails:?}");
    app.stop().await;
}
