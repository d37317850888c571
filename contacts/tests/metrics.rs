//! The domain metrics. A test binary of its own: the metrics recorder is process-wide, so
//! counts are only exact when no other test shares the process.

#![allow(clippy::unwrap_used)]

use contacts::config::Settings;
use contacts::startup::Application;
use serde_json::json;
use test_support::{TestClient, TestDb};
use tokio_util::sync::CancellationToken;

/// The value of the sample `name` (with its labels, as rendered) in a Prometheus text page.
fn sample(page: &str, name: &str) -> Option<f64> {
    page.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

#[tokio::test]
async fn domain_metrics_count_contacts_events_searches_and_feed_requests() {
    let db = TestDb::new().await;
    let app = Application::build(Settings::for_tests(&db.url)).await.unwrap();
    let client = TestClient::on_port(app.port());
    let token = CancellationToken::new();
    let server = tokio::spawn(app.run_until_stopped(token.clone()));
    let metrics = || async { client.get("/metrics").await.text().await.unwrap() };

    let before = metrics().await;
    assert_eq!(sample(&before, "contacts"), Some(0.0));
    assert_eq!(sample(&before, r#"contact_events_total{type="contact-created"}"#), Some(0.0));
    assert_eq!(sample(&before, r#"feed_requests_total{outcome="long_poll_woken"}"#), Some(0.0));

    let mut paths = Vec::new();
    for i in 0..3 {
        let body =
            json!({"firstname": "Ann", "lastname": format!("Doe{i}"), "email": format!("a{i}@example.org")});
        let created: serde_json::Value = client.post_json("/contacts", &body).await.json().await.unwrap();
        paths.push(format!("/contacts/{}", created["id"].as_str().unwrap()));
    }
    client.put_json(&paths[0], &json!({"lastname": "Roe"})).await;
    client.delete(&paths[1]).await;
    client.get("/contacts?q=ann").await;
    client.get("/contacts?q=nobody").await;
    let feed = client.get("/feed").await;
    let etag = feed.headers()["etag"].to_str().unwrap().to_owned();
    client.get_with("/feed", &[("if-none-match", &etag)]).await;
    client.get_with("/feed", &[("if-none-match", &etag), ("prefer", "wait=1")]).await;
    client.get("/feed/archive/1").await;

    let after = metrics().await;
    assert_eq!(sample(&after, "contacts"), Some(2.0));
    assert_eq!(sample(&after, r#"contact_events_total{type="contact-created"}"#), Some(3.0));
    assert_eq!(sample(&after, r#"contact_events_total{type="contact-updated"}"#), Some(1.0));
    assert_eq!(sample(&after, r#"contact_events_total{type="contact-deleted"}"#), Some(1.0));
    assert_eq!(sample(&after, "contacts_search_results_count"), Some(2.0));
    assert_eq!(sample(&after, "contacts_search_results_sum"), Some(2.0), "two contacts found, then none");
    assert_eq!(sample(&after, r#"contacts_search_results_bucket{le="0"}"#), Some(1.0));
    assert_eq!(sample(&after, r#"feed_requests_total{outcome="200"}"#), Some(1.0));
    assert_eq!(sample(&after, r#"feed_requests_total{outcome="304"}"#), Some(1.0));
    assert_eq!(sample(&after, r#"feed_requests_total{outcome="long_poll_timed_out"}"#), Some(1.0));
    assert_eq!(sample(&after, r#"feed_requests_total{outcome="404"}"#), Some(1.0));
    assert!(after.contains("# HELP contacts "), "metrics are described");

    token.cancel();
    server.await.unwrap().unwrap();
}
