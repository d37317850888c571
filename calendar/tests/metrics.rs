//! The feed follower's gauges, read from `/metrics` in a test binary of their own (metrics are
//! process-wide, so other tests' apps would move them).

#![allow(clippy::unwrap_used)]

#[path = "api/feed_server.rs"]
#[allow(dead_code)]
mod feed_server;

use std::time::Duration;

use calendar::config::Settings;
use calendar::startup::Application;
use test_support::{TestDb, http_client, wait_until};
use tokio_util::sync::CancellationToken;

fn gauge(exposition: &str, name: &str) -> Option<f64> {
    exposition.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

#[tokio::test]
async fn the_checkpoint_gauge_follows_the_events_applied() {
    let feed = feed_server::FeedServer::start(20).await;
    for n in 0..25 {
        feed.create_contact(&format!("user{n}@example.org"), "U", "Ser");
    }
    let db = TestDb::new().await;
    let app = Application::build(Settings::for_tests(&db.url, feed.feed_url())).await.unwrap();
    let metrics_url = format!("http://127.0.0.1:{}/metrics", app.port());
    let token = CancellationToken::new();
    let handle = tokio::spawn(app.run_until_stopped(token.clone()));
    let client = http_client();
    let read = || async {
        let text = client.get(&metrics_url).send().await.ok()?.text().await.ok()?;
        Some((gauge(&text, "feed_checkpoint_sequence")?, gauge(&text, "feed_consumer_lag_seconds")?))
    };

    wait_until("the checkpoint gauge at 25 and no lag", Duration::from_secs(20), || async {
        read().await.filter(|(checkpoint, lag)| *checkpoint == 25.0 && *lag == 0.0)
    })
    .await;
    feed.create_contact("late@example.org", "L", "Ate");
    wait_until("the checkpoint gauge at 26", Duration::from_secs(20), || async {
        read().await.filter(|(checkpoint, _)| *checkpoint == 26.0)
    })
    .await;

    token.cancel();
    handle.await.unwrap().unwrap();
}
