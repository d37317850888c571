//! The outbox gauges, read from `/metrics` in a test binary of their own (metrics are
//! process-wide: other tests' dispatchers would set the same gauges).

#![allow(clippy::unwrap_used)]

#[path = "api/feed_server.rs"]
#[allow(dead_code)]
mod feed_server;

use std::time::{Duration, Instant};

use calendar::config::Settings;
use calendar::startup::Application;
use serde_json::json;
use test_support::{TestDb, http_client, wait_until};
use tokio_util::sync::CancellationToken;

fn gauge(exposition: &str, name: &str) -> Option<f64> {
    exposition.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

#[tokio::test]
async fn the_outbox_gauges_count_pending_invitations_and_age_the_oldest() {
    let feed = feed_server::FeedServer::start(20).await;
    let ann = feed.create_contact("ann@example.org", "Ann", "Lee");
    let bob = feed.create_contact("bob@example.org", "Bob", "Ray");
    let db = TestDb::new().await;
    // Notifications are off in the test settings: invitations stay pending in the outbox.
    let app = Application::build(Settings::for_tests(&db.url, feed.feed_url())).await.unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let token = CancellationToken::new();
    let handle = tokio::spawn(app.run_until_stopped(token.clone()));
    let client = http_client();
    let read = || async {
        let text = client.get(format!("{base}/metrics")).send().await.ok()?.text().await.ok()?;
        Some((gauge(&text, "outbox_pending")?, gauge(&text, "outbox_oldest_pending_age_seconds")?))
    };

    for id in [ann, bob] {
        wait_until("both contacts in calendar", Duration::from_secs(20), || async {
            let response = client.get(format!("{base}/users/{id}")).send().await.ok()?;
            (response.status() == 200).then_some(())
        })
        .await;
    }
    wait_until("empty outbox gauges at 0", Duration::from_secs(20), || async {
        read().await.filter(|gauges| *gauges == (0.0, 0.0))
    })
    .await;

    let invited = Instant::now();
    let event = client
        .post(format!("{base}/calendar/{ann}"))
        .json(&json!({"title": "Party", "day": 24, "month": 12, "year": 2026}))
        .send()
        .await
        .unwrap();
    assert_eq!(event.status(), 201);
    let event: serde_json::Value = event.json().await.unwrap();
    let added = client
        .post(format!("{base}/event/{}/participants", event["id"].as_str().unwrap()))
        .json(&json!(["bob@example.org"]))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 200);

    let (pending, age) =
        wait_until("one pending invitation, over a second old", Duration::from_secs(20), || async {
            read().await.filter(|(pending, age)| *pending == 1.0 && *age >= 1.0)
        })
        .await;
    assert_eq!(pending, 1.0);
    assert!(age <= invited.elapsed().as_secs_f64() + 0.1, "age {age} s, invited {:?} ago", invited.elapsed());

    token.cancel();
    handle.await.unwrap().unwrap();
}
