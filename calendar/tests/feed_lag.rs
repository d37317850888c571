//! The lag, position and parking metrics of the feed follower, read from `/metrics` in a test
//! binary of their own (metrics are process-wide, so other tests' apps would move them).

#![allow(clippy::unwrap_used)]

#[path = "api/feed_server.rs"]
#[allow(dead_code)]
mod feed_server;

use std::time::Duration;

use calendar::config::Settings;
use calendar::startup::Application;
use feed_server::{Fault, FeedServer};
use serde_json::json;
use test_support::{TestDb, http_client, wait_until};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(20);

fn sample(exposition: &str, series: &str) -> Option<f64> {
    exposition.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

#[tokio::test]
async fn the_lag_is_above_zero_while_stuck_or_cut_off_and_zero_once_caught_up() {
    let feed = FeedServer::start(20).await;
    feed.create_contact("first@example.org", "Fi", "Rst");
    let db = TestDb::new().await;
    let mut settings = Settings::for_tests(&db.url, feed.feed_url());
    // Stuck on the entry for a few seconds: 20 attempts, 100 to 200 ms apart.
    settings.feed.entry_max_attempts = 20;
    settings.feed.retry =
        service_kit::backoff::Backoff::new(Duration::from_millis(100), Duration::from_millis(200));
    let app = Application::build(settings).await.unwrap();
    let metrics_url = format!("http://127.0.0.1:{}/metrics", app.port());
    let token = CancellationToken::new();
    let handle = tokio::spawn(app.run_until_stopped(token.clone()));
    let client = http_client();
    let read = |series: &'static str| {
        let (client, url) = (client.clone(), metrics_url.clone());
        async move { sample(&client.get(&url).send().await.ok()?.text().await.ok()?, series) }
    };
    let parked = "feed_entries_parked_total{type=\"contact-created\"}";
    let position = "feed_consumer_position";
    let lag = "feed_consumer_lag_seconds";

    wait_until("caught up with the first event", WAIT, || async {
        (read(position).await == Some(1.0) && read(lag).await == Some(0.0)).then_some(())
    })
    .await;
    assert_eq!(read(parked).await, Some(0.0), "the parking counter is there from the start");

    // A poison entry: stuck on it, the lag is above 0 and the position does not move.
    let id = Uuid::now_v7();
    feed.push_event(
        "contact-created",
        json!({"id": id, "firstname": null, "lastname": "N", "email": "n@example.org"}),
    );
    feed.create_contact("after@example.org", "Af", "Ter");
    let stuck = wait_until("a lag above 0 while stuck on the entry", WAIT, || async {
        read(lag).await.filter(|l| *l > 0.0)
    })
    .await;
    assert!(stuck > 0.0);
    assert_eq!(read(position).await, Some(1.0), "nothing after the entry is applied meanwhile");
    wait_until("the entry parked, the next applied, and the lag at 0", WAIT, || async {
        (read(parked).await == Some(1.0) && read(position).await == Some(3.0) && read(lag).await == Some(0.0))
            .then_some(())
    })
    .await;

    // The feed cut off: the time since the last successful read, growing, never 0.
    feed.set_fault(Fault::ServerError);
    let first = wait_until("a lag above 0 while the feed cannot be read", WAIT, || async {
        read(lag).await.filter(|l| *l > 0.0)
    })
    .await;
    wait_until("the lag growing while cut off", WAIT, || async {
        read(lag).await.filter(|l| *l >= first + 1.0)
    })
    .await;
    feed.set_fault(Fault::None);
    feed.create_contact("healed@example.org", "He", "Aled");
    wait_until("caught up again", WAIT, || async {
        (read(position).await == Some(4.0) && read(lag).await == Some(0.0)).then_some(())
    })
    .await;

    token.cancel();
    handle.await.unwrap().unwrap();
}
