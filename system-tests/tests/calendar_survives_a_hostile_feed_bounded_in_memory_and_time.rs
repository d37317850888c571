//! Upstream garbage: the real calendar binary follows a hostile stand-in for contacts' feed that
//! answers, in turn, truncated XML, JSON, an entity bomb, 100 MB (chunked, and with an honest
//! length), a `Content-Length` that understates or overstates the body, a body that never ends,
//! a redirect loop, and archives linked in a cycle. Through all of it calendar stays up and
//! ready, applies nothing, keeps its memory under [`RSS_BOUND_KIB`], ends every fetch within its
//! time limit (`FEED_TIMEOUT_MS`, plus [`SLACK`] for a loaded machine), records each failure by
//! kind, and applies the events as soon as the feed turns good.
//!
//! (calendar's own tests cover each bad document in-process; this runs the binary as deployed,
//! over real sockets.)

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use harness::process::{ServiceProcess, rss_kib};
use reqwest::StatusCode;
use system_tests::api::all_users;
use system_tests::hostile_feed::{HostileFeed, Mode, email_of};
use system_tests::prometheus::value;
use system_tests::settle::calendar_checkpoint;
use system_tests::{PATIENCE, build_services, replicas};
use test_support::{TempDir, TestDb, wait_until};

/// calendar's `FEED_TIMEOUT_MS` in this test: the most one fetch may take.
const FEED_TIMEOUT: Duration = Duration::from_secs(2);
/// Allowance on top of it for noticing the end on a loaded machine.
const SLACK: Duration = Duration::from_secs(3);
/// calendar's resident memory must stay below this. A debug build idles at about 20 MiB and
/// peaked at 26 to 45 MiB in this test (reading up to `FEED_MAX_BYTES`, 4 MiB, of the 100 MB
/// answers, plus what the allocator keeps); buffering any one of those answers whole would
/// take it past 120 MiB.
const RSS_BOUND_KIB: u64 = 80 * 1024;

/// Each bad mode, and the `kind`s of `feed_errors_total` it may be counted as.
const BAD: &[(Mode, &[&str])] = &[
    (Mode::Truncated, &["malformed_document"]),
    (Mode::NotXml, &["malformed_document"]),
    (Mode::BillionLaughs, &["malformed_document"]),
    (Mode::HundredMegabytesChunked, &["too_large"]),
    (Mode::HundredMegabytesDeclared, &["too_large"]),
    (Mode::LengthUnderstated, &["malformed_document"]),
    (Mode::LengthOverstated, &["timeout", "body"]),
    (Mode::NeverFinishing, &["timeout"]),
    (Mode::RedirectLoop, &["redirect"]),
    (Mode::ArchiveCycle, &["cycle"]),
];

async fn errors_of(http: &reqwest::Client, calendar: &ServiceProcess, kinds: &[&str]) -> f64 {
    let text = http.get(calendar.url("metrics")).send().await.unwrap().text().await.unwrap();
    kinds.iter().filter_map(|kind| value(&text, "feed_errors_total", &[("kind", kind)])).sum()
}

#[tokio::test]
async fn calendar_stays_up_bounded_and_recovers_through_every_kind_of_bad_feed() {
    build_services().await;
    let workdir = TempDir::new("hostile-feed");
    let db = TestDb::new().await;
    let feed = HostileFeed::start(Mode::Truncated).await;
    let mut env = replicas::calendar_env(&db.url, &feed.url(), None);
    env.extend([
        ("FEED_TIMEOUT_MS", FEED_TIMEOUT.as_millis().to_string()),
        ("FEED_POLL_INTERVAL_MS", "200".into()),
        ("FEED_RETRY_MIN_MS", "100".into()),
        ("FEED_RETRY_MAX_MS", "500".into()),
    ]);
    let mut calendar = replicas::start("calendar", workdir.path(), &env).await;
    let pid = calendar.pid().unwrap();
    let http = test_support::http_client();

    // Memory is sampled all along, every 20 ms.
    let peak = Arc::new(AtomicU64::new(0));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = tokio::spawn({
        let (peak, sampling) = (peak.clone(), sampling.clone());
        async move {
            while sampling.load(Ordering::SeqCst) {
                if let Some(kib) = rss_kib(pid) {
                    peak.fetch_max(kib, Ordering::SeqCst);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    });
    let idle = rss_kib(pid).unwrap();

    for (mode, kinds) in BAD {
        feed.set_mode(*mode);
        let before = errors_of(&http, &calendar, kinds).await;
        let served_before = feed.fetches().iter().filter(|f| f.mode == *mode).count();
        // Two failures of this kind after the switch: at most one can be the previous mode's.
        wait_until(&format!("calendar to count {mode:?} as {kinds:?}, twice"), PATIENCE, || async {
            let now = errors_of(&http, &calendar, kinds).await;
            let served = feed.fetches().iter().filter(|f| f.mode == *mode).count();
            (now >= before + 2.0 && served > served_before).then_some(())
        })
        .await;
        assert!(calendar.exit_status().is_none(), "calendar is still running after {mode:?}");
        let ready = http.get(calendar.url("health/ready")).send().await.unwrap();
        assert_eq!(ready.status(), StatusCode::OK, "calendar is ready during {mode:?}");
        eprintln!("{mode:?}: counted as {kinds:?}; peak RSS so far {} KiB", peak.load(Ordering::SeqCst));
    }
    assert!(all_users(&http, &calendar).await.is_empty(), "no bad document changed the replica");
    assert_eq!(calendar_checkpoint(&calendar).await.unwrap(), 0);

    for fetch in feed.fetches() {
        assert!(
            fetch.held <= FEED_TIMEOUT + SLACK,
            "a {:?} fetch of {} held its connection for {:?} (limit {FEED_TIMEOUT:?})",
            fetch.mode,
            fetch.path,
            fetch.held
        );
    }
    let longest = feed.fetches().iter().map(|f| f.held).max().unwrap_or_default();

    // The feed turns good: calendar applies its events.
    feed.set_mode(Mode::Good);
    wait_until("calendar to apply the good feed", PATIENCE, || async {
        let users = all_users(&http, &calendar).await;
        (users.len() == 3).then_some(())
    })
    .await;
    let mut emails: Vec<String> = all_users(&http, &calendar).await.into_iter().map(|u| u.email).collect();
    emails.sort();
    assert_eq!(emails, (1..=3).map(email_of).collect::<Vec<_>>());
    assert_eq!(calendar_checkpoint(&calendar).await.unwrap(), 3);

    sampling.store(false, Ordering::SeqCst);
    sampler.await.unwrap();
    let peak = peak.load(Ordering::SeqCst);
    eprintln!(
        "calendar RSS: {idle} KiB at start, peak {peak} KiB (bound {RSS_BOUND_KIB} KiB); {} fetches, the longest held {longest:?}",
        feed.fetches().len()
    );
    assert!(peak < RSS_BOUND_KIB, "calendar's RSS peaked at {peak} KiB, above {RSS_BOUND_KIB} KiB");
    let status = calendar.stop(Duration::from_secs(40)).await.unwrap();
    assert!(status.success(), "calendar stops cleanly: {status}");
}
