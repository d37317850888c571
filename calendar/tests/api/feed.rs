//! Following the contacts feed: catch-up, exactly-once, long polling, and every bad feed.

use std::time::Duration;

use calendar::startup::MIGRATIONS;
use calendar::store::Store;
use calendar::workers::feed::{Follower, Step};
use serde_json::json;
use service_kit::db::{ConnectOptions, Db};
use test_support::{TestDb, wait_until};
use tokio_util::sync::CancellationToken;

use crate::feed_server::{Fault, FeedServer};
use crate::helpers::{WAIT, settings, spawn_app, spawn_with};

#[tokio::test]
async fn a_new_calendar_catches_up_over_many_archive_pages() {
    let feed = FeedServer::start(5).await;
    let mut ids = Vec::new();
    for i in 0..60 {
        ids.push(feed.create_contact(&format!("user{i}@example.org"), &format!("First{i}"), "Last"));
    }
    feed.update_contact(ids[3], json!({"email": "renamed@example.org", "lastname": "Renamed"}));
    feed.delete_contact(ids[7]);
    let last = feed.create_contact("last@example.org", "Last", "One");
    assert!(feed.event_count() / 5 >= 12, "the history spans a dozen archive pages");

    let app = spawn_app(&feed).await;
    app.wait_for_user(last).await;

    let users = app.all_users().await;
    assert_eq!(users.len(), 60, "60 created, one deleted, one more created");
    let renamed = app.get_json(&format!("/users/{}", ids[3])).await.1;
    assert_eq!(renamed["email"], "renamed@example.org");
    assert_eq!(renamed["lastname"], "Renamed");
    assert_eq!(renamed["firstname"], "First3", "fields not in the update stay");
    assert_eq!(app.get_json(&format!("/users/{}", ids[7])).await.0, 404);
    app.stop().await;
}

/// contacts builds its links from its PUBLIC_URL; calendar may reach it only at another
/// address (CONTACTS_FEED: a Service inside a cluster, whose network policies let calendar go
/// nowhere else). Here the public address refuses connections.
#[tokio::test]
async fn links_to_an_unreachable_public_address_are_followed_where_the_feed_is() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let feed = FeedServer::start_behind(5, Some(&format!("http://{closed}"))).await;
    for i in 0..12 {
        feed.create_contact(&format!("user{i}@example.org"), &format!("First{i}"), "Last");
    }
    let quiet = feed.add_contact_silently("quiet@example.org");
    feed.update_contact(quiet, json!({"lastname": "Loud"}));
    assert!(feed.event_count() / 5 >= 2, "the history spans archive pages");

    let app = spawn_app(&feed).await;
    let user = app.wait_for_user(quiet).await;
    assert_eq!(user["lastname"], "Loud", "the contact was fetched for the update");
    assert_eq!(app.all_users().await.len(), 13);
    app.stop().await;
}

#[tokio::test]
async fn each_event_is_applied_exactly_once_across_a_crash() {
    let feed = FeedServer::start(7).await;
    let test_db = TestDb::new().await;
    let settings = settings(&test_db, &feed, None);
    let token = CancellationToken::new();
    let connect = || async { Db::connect(&ConnectOptions::new(&test_db.url, 2), &MIGRATIONS).await.unwrap() };

    let first: Vec<_> =
        (0..30).map(|i| feed.create_contact(&format!("a{i}@example.org"), "A", "B")).collect();
    let db = connect().await;
    let mut follower = Follower::new(Store::new(db.clone()), settings.feed.clone()).unwrap();
    assert_eq!(follower.step(&token).await.unwrap(), Step::Applied(30));
    // The process dies here: nothing of the follower survives but what it committed.
    drop(follower);
    db.close().await;

    feed.update_contact(first[0], json!({"firstname": "Changed"}));
    feed.delete_contact(first[1]);
    for i in 0..10 {
        feed.create_contact(&format!("b{i}@example.org"), "B", "C");
    }
    let db = connect().await;
    let mut follower = Follower::new(Store::new(db.clone()), settings.feed.clone()).unwrap();
    assert_eq!(follower.step(&token).await.unwrap(), Step::Applied(12), "only the 12 new events are applied");
    let mut again = Follower::new(Store::new(db.clone()), settings.feed.clone()).unwrap();
    assert_eq!(
        again.step(&token).await.unwrap(),
        Step::Unchanged,
        "a second follower finds nothing left to apply"
    );
    db.close().await;
}

#[tokio::test]
async fn a_restarted_calendar_continues_where_it_stopped() {
    let feed = FeedServer::start(5).await;
    let ids: Vec<_> = (0..40).map(|i| feed.create_contact(&format!("r{i}@example.org"), "R", "S")).collect();
    let app = spawn_app(&feed).await;
    app.wait_for_user(ids[0]).await;
    let settings_db = app.stop().await;

    feed.delete_contact(ids[0]);
    feed.update_contact(ids[1], json!({"email": "moved@example.org"}));
    let late = feed.create_contact("late@example.org", "Late", "Comer");
    let settings = settings(&settings_db, &feed, None);
    let app = spawn_with(settings_db, settings).await;
    app.wait_for_user(late).await;
    app.wait_for_no_user(ids[0]).await;
    assert_eq!(app.get_json(&format!("/users/{}", ids[1])).await.1["email"], "moved@example.org");
    assert_eq!(app.all_users().await.len(), 40);
    app.stop().await;
}

#[tokio::test]
async fn long_polling_delivers_changes_without_interval_polling() {
    let feed = FeedServer::start(20).await;
    let first = feed.create_contact("first@example.org", "F", "F");
    let test_db = TestDb::new().await;
    let mut settings = settings(&test_db, &feed, None);
    settings.feed.poll_interval = Duration::from_secs(600);
    let app = spawn_with(test_db, settings).await;
    app.wait_for_user(first).await;
    wait_until("a held request", WAIT, || async { (feed.held_requests() > 0).then_some(()) }).await;
    let second = feed.create_contact("second@example.org", "S", "S");
    app.wait_for_user(second).await;
    app.stop().await;
}

#[tokio::test]
async fn a_calendar_started_on_an_empty_feed_long_polls_from_its_first_answer() {
    let feed = FeedServer::start(20).await;
    let test_db = TestDb::new().await;
    let mut settings = settings(&test_db, &feed, None);
    settings.feed.poll_interval = Duration::from_secs(600);
    let app = spawn_with(test_db, settings).await;
    wait_until("a held request", WAIT, || async { (feed.held_requests() > 0).then_some(()) }).await;
    let first = feed.create_contact("first@example.org", "F", "F");
    app.wait_for_user(first).await;
    app.stop().await;
}

#[tokio::test]
async fn without_long_polling_the_follower_polls_at_the_interval() {
    let feed = FeedServer::start(20).await;
    feed.set_long_poll(false);
    let first = feed.create_contact("first@example.org", "F", "F");
    let app = spawn_app(&feed).await;
    app.wait_for_user(first).await;
    let second = feed.create_contact("second@example.org", "S", "S");
    app.wait_for_user(second).await;
    assert_eq!(feed.held_requests(), 0);
    app.stop().await;
}

#[tokio::test]
async fn an_update_for_an_unknown_user_fetches_the_contact() {
    let feed = FeedServer::start(20).await;
    let quiet = feed.add_contact_silently("quiet@example.org");
    feed.update_contact(quiet, json!({"lastname": "Loud"}));
    let app = spawn_app(&feed).await;
    let user = app.wait_for_user(quiet).await;
    assert_eq!(user["email"], "quiet@example.org");
    assert_eq!(user["lastname"], "Loud");
    app.stop().await;
}

#[tokio::test]
async fn unknown_event_types_are_skipped() {
    let feed = FeedServer::start(20).await;
    feed.push_event("contact-merged", json!({"whatever": true}));
    let after = feed.create_contact("after@example.org", "A", "A");
    let app = spawn_app(&feed).await;
    app.wait_for_user(after).await;
    app.stop().await;
}

/// Sets `fault` once calendar is caught up, publishes two contacts, checks calendar keeps
/// answering without applying anything, then heals the feed and checks both arrive.
async fn calendar_survives(fault: Fault, kind: Option<&str>) {
    let feed = FeedServer::start(5).await;
    let known: Vec<_> = (0..7).map(|i| feed.create_contact(&format!("k{i}@example.org"), "K", "K")).collect();
    let app = spawn_app(&feed).await;
    app.wait_for_user(known[6]).await;

    let before = feed.feed_requests();
    feed.set_fault(fault);
    // A request held before the fault was set still answers well; publish only once the
    // follower has come back with a request that meets the fault.
    wait_until("a request that meets the fault", WAIT, || async {
        (feed.feed_requests() > before + 1).then_some(())
    })
    .await;
    let requests = feed.feed_requests();
    let first = feed.create_contact("n1@example.org", "N", "One");
    let second = feed.create_contact("n2@example.org", "N", "Two");
    wait_until("the follower to retry against the bad feed", WAIT, || async {
        (feed.feed_requests() >= requests + 3).then_some(())
    })
    .await;
    assert_eq!(app.get("/health/ready").await.status(), 200, "calendar stays ready");
    assert_eq!(app.get_json("/users").await.0, 200, "the API keeps answering");
    assert_eq!(app.get_json(&format!("/users/{first}")).await.0, 404, "nothing from a bad feed is applied");
    assert_eq!(app.get_json(&format!("/users/{second}")).await.0, 404, "nothing from a bad feed is applied");
    assert_eq!(app.all_users().await.len(), 7, "the replica is intact");
    if let Some(kind) = kind {
        let errors = app.metric(&format!("feed_errors_total{{kind=\"{kind}\"}}")).await;
        assert!(errors.is_some_and(|n| n >= 1.0), "{kind} errors are counted: {errors:?}");
    }

    feed.set_fault(Fault::None);
    app.wait_for_user(first).await;
    app.wait_for_user(second).await;
    app.stop().await;
}

#[tokio::test]
async fn server_errors_from_the_feed_are_survived() {
    calendar_survives(Fault::ServerError, Some("http_status")).await;
}

#[tokio::test]
async fn a_feed_that_never_answers_is_survived() {
    calendar_survives(Fault::Hang, Some("timeout")).await;
}

#[tokio::test]
async fn a_truncated_document_is_survived() {
    calendar_survives(Fault::Truncated, Some("malformed_document")).await;
}

#[tokio::test]
async fn a_document_that_is_not_xml_is_survived() {
    calendar_survives(Fault::NotXml, Some("malformed_document")).await;
}

#[tokio::test]
async fn a_billion_laughs_document_is_refused_harmlessly() {
    calendar_survives(Fault::BillionLaughs, Some("malformed_document")).await;
}

#[tokio::test]
async fn a_huge_document_is_cut_off() {
    calendar_survives(Fault::Huge, Some("too_large")).await;
}

#[tokio::test]
async fn a_lying_content_length_is_survived() {
    calendar_survives(Fault::LyingLength, None).await;
}

#[tokio::test]
async fn a_body_that_never_finishes_is_cut_off() {
    calendar_survives(Fault::NeverEnding, Some("timeout")).await;
}

#[tokio::test]
async fn a_redirect_loop_is_survived() {
    calendar_survives(Fault::RedirectLoop, Some("redirect")).await;
}

#[tokio::test]
async fn a_malformed_entry_is_survived() {
    calendar_survives(Fault::MalformedEntry, Some("malformed_entry")).await;
}

#[tokio::test]
async fn a_gap_in_the_sequence_is_survived() {
    calendar_survives(Fault::Gap, Some("gap")).await;
}

#[tokio::test]
async fn an_archive_cycle_is_detected_and_survived() {
    let feed = FeedServer::start(3).await;
    let ids: Vec<_> = (0..10).map(|i| feed.create_contact(&format!("c{i}@example.org"), "C", "C")).collect();
    feed.set_fault(Fault::ArchiveCycle);
    let app = spawn_app(&feed).await;
    wait_until("a cycle error", WAIT, || async {
        app.metric("feed_errors_total{kind=\"cycle\"}").await.filter(|n| *n >= 1.0)
    })
    .await;
    assert_eq!(app.all_users().await.len(), 0, "nothing applied from a cyclic archive");
    assert_eq!(app.get("/health/ready").await.status(), 200);
    feed.set_fault(Fault::None);
    app.wait_for_user(ids[9]).await;
    assert_eq!(app.all_users().await.len(), 10);
    app.stop().await;
}

/// A measurement, not a test: the delay from an event appearing in the feed to the user being
/// visible in calendar's API, over 100 contacts. Run with
/// `cargo test -p calendar --test api propagation -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "a measurement; prints figures"]
async fn measure_propagation_delay_from_the_feed_to_calendar() {
    let feed = FeedServer::start(20).await;
    let warm = feed.create_contact("warm@example.org", "W", "W");
    let app = spawn_app(&feed).await;
    app.wait_for_user(warm).await;
    wait_until("a held request", WAIT, || async { (feed.held_requests() > 0).then_some(()) }).await;
    let mut delays = Vec::new();
    for i in 0..100 {
        let started = std::time::Instant::now();
        let id = feed.create_contact(&format!("m{i}@example.org"), "M", "M");
        loop {
            if app.get_json(&format!("/users/{id}")).await.0 == 200 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
            assert!(started.elapsed() < WAIT, "user {i} never arrived");
        }
        delays.push(started.elapsed());
    }
    delays.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    eprintln!(
        "propagation over {} contacts: median {:.1} ms, p90 {:.1} ms, max {:.1} ms",
        delays.len(),
        ms(delays[delays.len() / 2]),
        ms(delays[delays.len() * 9 / 10]),
        ms(delays[delays.len() - 1])
    );
    app.stop().await;
}
