//! Catch-up memory is bounded by bytes, not pages: the real calendar binary follows a feed whose
//! subscription document links 100 archive pages of about 4 MB each, none of which reaches its
//! checkpoint, so a catch-up walks all of them (400 MB) and ends in a gap error. Its peak
//! resident memory (`VmHWM`) stays under 80 MiB. Then a feed with a 3 MB first name: that entry
//! is parked, the two around it are applied, and no page carries the name.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use harness::process::{ServiceProcess, peak_rss_kib, rss_kib};
use system_tests::api::all_users;
use system_tests::hostile_feed::{HUGE_PAGES, HostileFeed, Mode, email_of};
use system_tests::prometheus::value;
use system_tests::{PATIENCE, build_services, replicas};
use test_support::{TempDir, TestDb, wait_until};

/// calendar's peak resident memory must stay below this.
const RSS_BOUND_KIB: u64 = 80 * 1024;

async fn counter(
    http: &reqwest::Client,
    calendar: &ServiceProcess,
    name: &str,
    labels: &[(&str, &str)],
) -> f64 {
    let text = http.get(calendar.url("metrics")).send().await.unwrap().text().await.unwrap();
    value(&text, name, labels).unwrap_or(0.0)
}

#[tokio::test]
async fn a_walk_over_100_archive_pages_of_4_mb_stays_under_80_mib_and_a_3_mb_name_is_parked() {
    build_services().await;
    let workdir = TempDir::new("huge-feed");
    let db = TestDb::new().await;
    let feed = HostileFeed::start(Mode::HugeArchives).await;
    let mut env = replicas::calendar_env(&db.url, &feed.url(), None);
    env.extend([
        ("FEED_TIMEOUT_MS", "10000".to_string()),
        ("FEED_RETRY_MIN_MS", "100".into()),
        ("FEED_RETRY_MAX_MS", "500".into()),
        ("FEED_ENTRY_MAX_ATTEMPTS", "2".into()),
    ]);
    let mut calendar = replicas::start("calendar", workdir.path(), &env).await;
    let pid = calendar.pid().unwrap();
    let http = test_support::http_client();
    let idle = rss_kib(pid).unwrap();

    wait_until("calendar to walk all 100 pages, the walk ending in a gap", PATIENCE * 3, || async {
        let gaps = counter(&http, &calendar, "feed_errors_total", &[("kind", "gap")]).await;
        (gaps >= 1.0).then_some(())
    })
    .await;
    let fetched = feed
        .fetches()
        .iter()
        .filter(|f| f.mode == Mode::HugeArchives && f.path.starts_with("/archive/"))
        .count();
    assert!(fetched >= HUGE_PAGES as usize, "every page was fetched: {fetched}");
    let peak_walking = peak_rss_kib(pid).unwrap();
    eprintln!(
        "calendar after fetching {fetched} pages of ~4 MB: RSS {idle} KiB at start, VmHWM {peak_walking} KiB"
    );
    assert!(
        all_users(&http, &calendar).await.is_empty(),
        "nothing from a walk that never reached its checkpoint"
    );
    assert!(calendar.exit_status().is_none());

    feed.set_mode(Mode::HugeName);
    wait_until("the two good events applied", PATIENCE, || async {
        (all_users(&http, &calendar).await.len() == 2).then_some(())
    })
    .await;
    let mut emails: Vec<String> = all_users(&http, &calendar).await.into_iter().map(|u| u.email).collect();
    emails.sort();
    assert_eq!(emails, [email_of(1), email_of(3)]);
    assert_eq!(
        counter(&http, &calendar, "feed_entries_parked_total", &[("type", "contact-created")]).await,
        1.0
    );
    let page = http
        .get(calendar.url("users"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.len() < 64 * 1024, "the users page does not carry the name: {} bytes", page.len());
    let peak = peak_rss_kib(pid).unwrap();
    eprintln!("calendar after the 3 MB name: VmHWM {peak} KiB (bound {RSS_BOUND_KIB} KiB)");
    assert!(peak < RSS_BOUND_KIB, "calendar's peak RSS was {peak} KiB, above {RSS_BOUND_KIB} KiB");
    let status = calendar.stop(Duration::from_secs(40)).await.unwrap();
    assert!(status.success(), "calendar stops cleanly: {status}");
}
