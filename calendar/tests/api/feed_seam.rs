//! The seam between contacts and calendar, from calendar's side: feeds in the talk's own format,
//! poison entries parked and retried, the lag metric while stuck, links and redirects to other
//! origins, oversized fields, and the `.ics` export as third-party readers see it.

use std::time::Duration;

use calendar::startup::MIGRATIONS;
use calendar::store::Store;
use calendar::workers::feed::{Follower, Step};
use reqwest::StatusCode;
use serde_json::{Value, json};
use service_kit::db::{ConnectOptions, Db};
use test_support::{TestDb, json_body, wait_until};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::feed_server::{Fault, FeedServer, Format};
use crate::helpers::{TestApp, WAIT, settings, spawn_app, spawn_with};

/// The names of the talk-format test, every one with a letter outside ASCII.
const PEOPLE: &[(&str, &str)] = &[
    ("Jürgen", "Müller"),
    ("Zoë", "Ærøskøbing"),
    ("Grüße", "Straße"),
    ("Ångström", "Öberg"),
    ("Renée", "Façade"),
    ("Élodie", "Niño"),
    ("Søren", "Kierkegård"),
];

async fn checkpoint_applied(db: &Db) -> i64 {
    use sqlx::Row;
    sqlx::query("SELECT applied FROM feed_checkpoint WHERE id = 1")
        .fetch_one(&db.writer)
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn a_feed_in_the_talks_format_is_followed_with_its_umlauts_and_each_event_applied_once_across_a_crash()
{
    let feed = FeedServer::start(3).await;
    feed.set_format(Format::Talk);
    let test_db = TestDb::new().await;
    let settings = settings(&test_db, &feed, None);
    let token = CancellationToken::new();
    let connect = || async { Db::connect(&ConnectOptions::new(&test_db.url, 2), &MIGRATIONS).await.unwrap() };

    let mut ids = Vec::new();
    for (i, (first, last)) in PEOPLE.iter().enumerate() {
        ids.push(feed.create_contact(&format!("p{i}@example.org"), first, last));
    }
    feed.update_contact(ids[0], json!({"lastname": "Müller-Lüdenscheidt"}));
    assert_eq!(feed.event_count(), 8, "two full archive pages and a subscription document");
    let db = connect().await;
    let mut follower = Follower::new(Store::new(db.clone()), settings.feed.clone()).unwrap();
    assert_eq!(follower.step(&token).await.unwrap(), Step::Applied(8));
    assert_eq!(follower.step(&token).await.unwrap(), Step::Unchanged, "the same document again");
    // The process dies here: nothing of the follower survives but what it committed.
    drop(follower);
    db.close().await;

    feed.delete_contact(ids[1]);
    for i in 0..4 {
        feed.create_contact(&format!("late{i}@example.org"), "Bärbel", "Spät");
    }
    let db = connect().await;
    let mut follower = Follower::new(Store::new(db.clone()), settings.feed.clone()).unwrap();
    assert_eq!(follower.step(&token).await.unwrap(), Step::Applied(5), "only the 5 new entries are applied");
    let mut again = Follower::new(Store::new(db.clone()), settings.feed.clone()).unwrap();
    assert_eq!(again.step(&token).await.unwrap(), Step::Unchanged, "a second follower finds nothing left");
    assert_eq!(checkpoint_applied(&db).await, 13, "13 events, each applied once");
    db.close().await;

    // The service itself, on that database, shows every name right and polls without ETags.
    let app = spawn_with(test_db, settings).await;
    let users = app.all_users().await;
    assert_eq!(users.len(), 10, "11 created, one deleted");
    let named = |id: Uuid| users.iter().find(|u| u["id"] == id.to_string()).cloned();
    assert_eq!(named(ids[0]).unwrap()["lastname"], "Müller-Lüdenscheidt");
    for (i, (first, last)) in PEOPLE.iter().enumerate().skip(2) {
        let user = named(ids[i]).unwrap();
        assert_eq!((user["firstname"].as_str(), user["lastname"].as_str()), (Some(*first), Some(*last)));
    }
    assert!(named(ids[1]).is_none());
    let newest = feed.create_contact("newest@example.org", "Jörg", "Ölß");
    assert_eq!(app.wait_for_user(newest).await["lastname"], "Ölß", "polled at FEED_POLL_INTERVAL_MS");
    assert_eq!(feed.held_requests(), 0);
    app.stop().await;
}

/// A contact the feed creates with `"firstname": null`, between two good ones.
fn poison(feed: &FeedServer) -> Uuid {
    let id = Uuid::now_v7();
    let broken = json!({"id": id, "firstname": null, "lastname": "Null", "email": "null@example.org",
                        "self": feed.contact_link(id)});
    feed.set_contact(id, Some(broken.clone()));
    feed.push_event("contact-created", broken);
    id
}

async fn parked(app: &TestApp) -> Vec<Value> {
    let (status, body) = app.get_json("/feed/parked").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_poison_entry_is_parked_the_entries_after_it_applied_and_an_operator_retry_applies_it_once_fixed() {
    let feed = FeedServer::start(20).await;
    let test_db = TestDb::new().await;
    let mut settings = settings(&test_db, &feed, None);
    // Long enough stuck on the entry to watch the lag: 15 attempts, 100 to 200 ms apart.
    settings.feed.entry_max_attempts = 15;
    settings.feed.retry =
        service_kit::backoff::Backoff::new(Duration::from_millis(100), Duration::from_millis(200));
    let before = feed.create_contact("before@example.org", "Be", "Fore");
    let app = spawn_with(test_db, settings).await;
    app.wait_for_user(before).await;
    // (The metrics, process-wide, are checked in a test binary of their own: tests/feed_lag.rs.)
    let requests = feed.feed_requests();
    let bad = poison(&feed);
    let after = feed.create_contact("after@example.org", "Af", "Ter");
    wait_until("the follower to retry the entry", WAIT, || async {
        (feed.feed_requests() >= requests + 4).then_some(())
    })
    .await;
    assert_eq!(
        app.get_json(&format!("/users/{after}")).await.0,
        404,
        "order is kept: nothing overtakes the entry"
    );

    app.wait_for_user(after).await;
    assert_eq!(app.get_json(&format!("/users/{bad}")).await.0, 404, "nothing of the poison is stored");
    let items = parked(&app).await;
    assert_eq!(items.len(), 1);
    let entry = &items[0];
    assert_eq!(entry["type"], "contact-created");
    assert_eq!(entry["contact_id"], bad.to_string());
    assert_eq!(entry["attempts"], 15);
    assert!(entry["reason"].as_str().unwrap().contains("firstname"), "{entry}");
    assert!(entry["content"].as_str().unwrap().contains("\"firstname\":null"), "the raw content is kept");
    assert!(entry["resolved_at"].is_null());
    let retry = format!("/feed/parked/{}/retry", entry["id"].as_str().unwrap());
    let page = app.get_accept("/feed/parked", "text/html").await.text().await.unwrap();
    assert!(page.contains("Parked feed entries") && page.contains(&retry), "the operator page lists it");

    // The upstream is still bad: a clear answer, nothing changes.
    let response = app.post_json(&retry, &json!({})).await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(json_body(response).await["error"], "bad_upstream");
    assert_eq!(app.get_json(&format!("/users/{bad}")).await.0, 404);
    assert!(parked(&app).await[0]["resolved_at"].is_null());

    // Fixed at contacts: the retry applies the contact's current state, once.
    feed.set_contact(
        bad,
        Some(json!({"id": bad, "firstname": "Fixed", "lastname": "Null", "email": "null@example.org",
                    "self": feed.contact_link(bad)})),
    );
    let response = app.post_json(&retry, &json!({})).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json_body(response).await["outcome"], "applied");
    assert_eq!(app.get_json(&format!("/users/{bad}")).await.1["firstname"], "Fixed");
    assert!(!parked(&app).await[0]["resolved_at"].is_null(), "resolved");
    assert_eq!(app.post_json(&retry, &json!({})).await.status(), StatusCode::CONFLICT, "only once");
    assert_eq!(app.all_users().await.len(), 3);
    app.stop().await;
}

#[tokio::test]
async fn a_later_update_of_a_parked_contact_recovers_it_from_the_contact_url() {
    let feed = FeedServer::start(20).await;
    let app = spawn_app(&feed).await;
    let bad = poison(&feed);
    let marker = feed.create_contact("marker@example.org", "Mark", "Er");
    app.wait_for_user(marker).await;
    assert_eq!(parked(&app).await.len(), 1);
    feed.set_contact(
        bad,
        Some(json!({"id": bad, "firstname": "Now", "lastname": "Valid", "email": "null@example.org",
                    "self": feed.contact_link(bad)})),
    );
    feed.push_event(
        "contact-updated",
        json!({"id": bad, "updates": {"firstname": "Now"}, "contact": feed.contact_link(bad)}),
    );
    let user = app.wait_for_user(bad).await;
    assert_eq!((user["firstname"].as_str(), user["lastname"].as_str()), (Some("Now"), Some("Valid")));
    let items = parked(&app).await;
    assert!(!items[0]["resolved_at"].is_null(), "{items:?}");
    assert!(items[0]["resolution"].as_str().unwrap().contains("later"), "{items:?}");
    app.stop().await;
}

#[tokio::test]
async fn fields_contacts_would_refuse_are_parked_never_stored_a_3_mb_name_included() {
    let feed = FeedServer::start(20).await;
    let test_db = TestDb::new().await;
    let mut settings = settings(&test_db, &feed, None);
    settings.feed.max_bytes = 8 * 1024 * 1024;
    let app = spawn_with(test_db, settings).await;
    let huge = feed.create_contact("huge@example.org", &"x".repeat(3 * 1024 * 1024), "Big");
    let unsafe_name = feed.create_contact("fffe@example.org", "Do\u{FFFE}e", "Jane");
    let bad_email = feed.create_contact("not an address", "No", "Mail");
    let long_email = feed.create_contact(&format!("{}@example.org", "a".repeat(260)), "Long", "Mail");
    let marker = feed.create_contact("marker@example.org", "Mark", "Er");
    app.wait_for_user(marker).await;
    for id in [huge, unsafe_name, bad_email, long_email] {
        assert_eq!(app.get_json(&format!("/users/{id}")).await.0, 404, "{id} is not stored");
    }
    let items = parked(&app).await;
    assert_eq!(items.len(), 4, "{items:?}");
    let reasons: Vec<&str> = items.iter().map(|i| i["reason"].as_str().unwrap()).collect();
    assert!(reasons.iter().any(|r| r.contains("firstname has 3145728 characters")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("U+FFFE")), "{reasons:?}");
    assert_eq!(reasons.iter().filter(|r| r.contains("email")).count(), 2, "{reasons:?}");
    let kept = items.iter().map(|i| i["content"].as_str().unwrap().len()).max().unwrap();
    assert!(kept < 70 * 1024, "a parked row keeps at most 64 KiB of the content: {kept}");
    let page = app.get_accept("/users", "text/html").await.text().await.unwrap();
    assert!(page.len() < 64 * 1024, "no page carries the name: {} bytes", page.len());
    app.stop().await;
}

#[tokio::test]
async fn links_and_redirects_to_other_origins_are_refused_and_nothing_from_them_is_stored() {
    let other = FeedServer::start(3).await;
    let planted = other.create_contact("planted@example.org", "Plan", "Ted");
    for i in 0..5 {
        other.create_contact(&format!("o{i}@example.org"), "Oth", "Er");
    }
    let feed = FeedServer::start(3).await;
    for i in 0..5 {
        feed.create_contact(&format!("c{i}@example.org"), "Cee", "Three");
    }
    // A catch-up walk that would leave the origin.
    let base: &'static str = Box::leak(other.base().to_string().into_boxed_str());
    feed.set_fault(Fault::ForeignArchive(base));
    let app = spawn_app(&feed).await;
    wait_until("a refused archive link", WAIT, || async {
        app.metric("feed_errors_total{kind=\"forbidden_origin\"}").await.filter(|n| *n >= 1.0)
    })
    .await;
    assert_eq!(app.all_users().await.len(), 0);

    feed.set_fault(Fault::None);
    let known = feed.create_contact("known@example.org", "Kno", "Wn");
    app.wait_for_user(known).await;
    let errors = app.metric("feed_errors_total{kind=\"forbidden_origin\"}").await.unwrap();

    // An update whose contact URL is elsewhere: parked, never fetched.
    let stranger = Uuid::now_v7();
    feed.push_event(
        "contact-updated",
        json!({"id": planted, "updates": {"lastname": "X"}, "contact": format!("{base}/contacts/{planted}")}),
    );
    feed.push_event(
        "contact-updated",
        json!({"id": stranger, "updates": {"lastname": "Y"}, "contact": "http://169.254.169.254/latest/meta-data"}),
    );
    let marker = feed.create_contact("marker@example.org", "Mark", "Er");
    app.wait_for_user(marker).await;
    let items = parked(&app).await;
    assert_eq!(items.len(), 2, "{items:?}");
    assert!(items.iter().all(|i| i["reason"].as_str().unwrap().contains("refused")), "{items:?}");
    assert_eq!(app.get_json(&format!("/users/{planted}")).await.0, 404);
    let retry = format!("/feed/parked/{}/retry", items[0]["id"].as_str().unwrap());
    assert_eq!(app.post_json(&retry, &json!({})).await.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // A redirect to another origin.
    let elsewhere: &'static str = Box::leak(format!("{base}/feed").into_boxed_str());
    feed.set_fault(Fault::RedirectTo(elsewhere));
    let refused = wait_until("a refused redirect", WAIT, || async {
        app.metric("feed_errors_total{kind=\"forbidden_origin\"}").await.filter(|n| *n > errors + 1.0)
    })
    .await;
    assert!(refused > errors);
    assert_eq!(other.requests(), 0, "nothing was ever fetched from the other origin");
    assert_eq!(app.all_users().await.len(), 7, "the replica holds only what the feed's own origin gave");
    feed.set_fault(Fault::None);
    app.stop().await;
}

#[tokio::test]
async fn an_allowed_origin_is_fetched_from() {
    let other = FeedServer::start(20).await;
    let feed = FeedServer::start(20).await;
    let quiet = Uuid::now_v7();
    let contact_url = format!("{}/contacts/{quiet}", other.base());
    other.set_contact(
        quiet,
        Some(json!({"id": quiet, "firstname": "Al", "lastname": "Lowed", "email": "al@example.org", "self": contact_url})),
    );
    feed.push_event(
        "contact-updated",
        json!({"id": quiet, "updates": {"lastname": "Lowed"}, "contact": contact_url}),
    );
    let test_db = TestDb::new().await;
    let mut settings = settings(&test_db, &feed, None);
    settings.feed.allowed_origins = vec![url::Url::parse(other.base()).unwrap().origin()];
    let app = spawn_with(test_db, settings).await;
    let user = app.wait_for_user(quiet).await;
    assert_eq!(user["contact"], contact_url, "a link on an allowed origin is kept");
    assert!(other.requests() >= 1);
    app.stop().await;
}

/// `.ics` read by icalendar, vobject and recurring-ical-events (run from the repository): names
/// and texts holding `\r\n`, `\r`, `;`, `,` and `\` give exactly the expected events, with their
/// organizer and attendees.
#[tokio::test]
async fn the_ics_export_reads_in_icalendar_and_vobject_as_exactly_the_expected_events() {
    let feed = FeedServer::start(20).await;
    let app = spawn_app(&feed).await;
    let owner = feed.create_contact("ann@example.org", "Ann; Lee,", "O\\Brien");
    app.wait_for_user(owner).await;
    let description =
        "one\r\ntwo\rthree; four, five \\ six\nEND:VEVENT\nBEGIN:VEVENT\nUID:evil\r\nSUMMARY:injected";
    let first = json!({"title": "Meet; then, talk \\ here", "date": "2026-12-24", "description": description,
                       "location": "Room 1;URL=http://evil.example, \\n"});
    let second = json!({"title": "Plain", "start": "2026-12-25T10:00:00Z", "end": "2026-12-25T11:00:00Z"});
    let mut ids = Vec::new();
    for body in [&first, &second] {
        let response = app.post_json(&format!("/calendar/{owner}"), body).await;
        assert_eq!(response.status(), 201);
        ids.push(json_body(response).await["id"].as_str().unwrap().to_string());
    }
    let guest = feed.create_contact("bob@example.org", "Bob \"Boss\"", "Ray: x;\\y");
    app.wait_for_user(guest).await;
    let invited =
        app.post_json(&format!("/event/{}/participants", ids[0]), &json!(["bob@example.org"])).await;
    assert_eq!(invited.status(), 200);
    let ics = app.get(&format!("/calendar/{owner}.ics")).await.bytes().await.unwrap();
    let Some(check) = test_support::python::ics_check(&ics) else { return };
    assert!(check.accepted, "{}\n{}", check.report, check.stderr);
    let expected_description =
        "one\ntwo\nthree; four, five \\ six\nEND:VEVENT\nBEGIN:VEVENT\nUID:evil\nSUMMARY:injected";
    for reader in ["icalendar", "vobject"] {
        let mut events = check.report[reader]["events"].as_array().unwrap().clone();
        events.sort_by_key(|e| e["summary"].as_str().unwrap().to_string());
        assert_eq!(events.len(), 2, "{reader}: {}", check.report);
        assert_eq!(events[0]["summary"], "Meet; then, talk \\ here", "{reader}");
        assert_eq!(events[0]["description"], expected_description, "{reader}");
        assert_eq!(events[0]["location"], "Room 1;URL=http://evil.example, \\n", "{reader}");
        assert_eq!(events[1]["summary"], "Plain", "{reader}");
        for event in &events {
            assert_eq!(event["organizer"]["address"], "mailto:ann@example.org", "{reader}");
            assert_eq!(event["organizer"]["cn"], "Ann; Lee, O\\Brien", "{reader}");
        }
        let attendees = events[0]["attendees"].as_array().unwrap();
        assert_eq!(attendees.len(), 1, "{reader}: {attendees:?}");
        assert_eq!(attendees[0]["address"], "mailto:bob@example.org", "{reader}");
        assert_eq!(
            attendees[0]["cn"], "Bob 'Boss' Ray: x;\\y",
            "{reader}: a double quote cannot end the name"
        );
        assert_eq!(attendees[0]["partstat"], "NEEDS-ACTION", "{reader}");
        assert_eq!(events[1]["attendees"], json!([]), "{reader}");
        assert!(events.iter().all(|e| e["uid"] != "evil"), "{reader}");
    }
    assert_eq!(check.report["icalendar"]["name"], "Ann; Lee, O\\Brien (calendar)");
    assert_eq!(check.report["icalendar"]["x_wr_calname"], "Ann; Lee, O\\Brien (calendar)");
    assert_eq!(check.report["recurring"]["occurrences"], 2);
    app.stop().await;
}
