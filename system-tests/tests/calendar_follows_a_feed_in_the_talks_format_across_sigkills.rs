//! The talk's own feed format, followed by the real calendar binary: event JSON without
//! `sequence`, epoch-millisecond dates, `type="json"`, Latin-1 bytes under a UTF-8 declaration
//! served as `charset=iso-8859-1`, no ETag. calendar is SIGKILLed again and again while it
//! catches up on 610 events (its walk keeps almost nothing in memory, so it fetches pages again
//! while applying them); afterwards every contact is there with its umlauts, and the checkpoint
//! has counted exactly 610 entries: none skipped, none applied twice.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use harness::process::ServiceProcess;
use system_tests::api::all_pages;
use system_tests::hostile_feed::{HostileFeed, Mode, TALK_EVENTS, talk_contacts};
use system_tests::settle::read_i64;
use system_tests::{PATIENCE, build_services, replicas};
use test_support::{TempDir, TestDb, wait_until};

/// Kills before calendar is left to finish.
const KILLS: usize = 4;

async fn applied(calendar: &ServiceProcess, db: &str) -> i64 {
    let _ = calendar;
    read_i64(db, "SELECT applied AS n FROM feed_checkpoint WHERE id = 1").await.unwrap_or(-1)
}

#[tokio::test]
async fn calendar_follows_the_talks_format_and_applies_each_event_once_across_sigkills() {
    build_services().await;
    let workdir = TempDir::new("talk-feed");
    let db = TestDb::new().await;
    let feed = HostileFeed::start(Mode::Talk).await;
    let mut env = replicas::calendar_env(&db.url, &feed.url(), None);
    env.extend([
        ("FEED_POLL_INTERVAL_MS", "200".to_string()),
        ("FEED_RETRY_MIN_MS", "100".into()),
        ("FEED_RETRY_MAX_MS", "500".into()),
        ("FEED_WALK_MEMORY_BYTES", "1".into()),
    ]);
    let mut calendar = replicas::start("calendar", workdir.path(), &env).await;
    let http = test_support::http_client();

    let mut mid_catch_up = 0;
    for kill in 0..KILLS {
        let from = applied(&calendar, &db.url).await;
        if from >= TALK_EVENTS {
            break;
        }
        // Once it has applied more of the backlog, kill it mid-way.
        wait_until("calendar to apply more of the backlog", PATIENCE, || async {
            (applied(&calendar, &db.url).await > from).then_some(())
        })
        .await;
        calendar.kill().await.unwrap();
        let at = applied(&calendar, &db.url).await;
        eprintln!("kill {kill}: at {at} of {TALK_EVENTS} entries");
        if at < TALK_EVENTS {
            mid_catch_up += 1;
        }
        calendar.restart().await.unwrap();
    }
    assert!(mid_catch_up >= 1, "at least one kill landed in the middle of the catch-up");

    wait_until("every entry applied", PATIENCE, || async {
        (applied(&calendar, &db.url).await == TALK_EVENTS).then_some(())
    })
    .await;
    let expected = talk_contacts();
    let users = wait_until("every contact in the replica", PATIENCE, || async {
        let users = all_pages(&http, &calendar.url("users?limit=200")).await;
        (users.len() == expected.len()).then_some(users)
    })
    .await;
    for user in &users {
        let (first, last) = &expected[user["email"].as_str().unwrap()];
        assert_eq!(
            (user["firstname"].as_str(), user["lastname"].as_str()),
            (Some(first.as_str()), Some(last.as_str())),
            "{user}"
        );
    }
    // Polled again and again without an ETag: nothing is applied a second time.
    let polls = feed.fetches().iter().filter(|f| f.path == "/feed").count();
    wait_until("a few more polls of the unchanged feed", PATIENCE, || async {
        (feed.fetches().iter().filter(|f| f.path == "/feed").count() >= polls + 3).then_some(())
    })
    .await;
    assert_eq!(applied(&calendar, &db.url).await, TALK_EVENTS, "each entry counted once");
    let status = calendar.stop(Duration::from_secs(40)).await.unwrap();
    assert!(status.success(), "calendar stops cleanly: {status}");
}
