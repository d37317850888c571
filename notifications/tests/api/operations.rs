use test_support::smtp::SmtpServer;

use crate::helpers::{TestApp, id_of, notification, use_smtp};

#[tokio::test]
async fn the_domain_metrics_are_exported() {
    let server = SmtpServer::start().await;
    server.fail_next(1, 451, "4.3.0 later");
    let app = TestApp::spawn_with(|s| use_smtp(s, &server)).await;
    let id = id_of(&app.queue(&notification("ada@example.org", "Hi", "Hello")).await);
    app.wait_for_status(&id, "sent").await;
    let text = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    for name in [
        "notifications_queue_depth ",
        "notifications_jobs_created_total ",
        "notifications_sent_total ",
        "notifications_retries_total ",
        "notifications_failed_total{reason=\"permanent\"} ",
        "notifications_sends_in_flight ",
        "smtp_send_duration_seconds_bucket{le=\"0.5\"} ",
        "smtp_send_duration_seconds_count ",
    ] {
        assert!(text.contains(name), "{name} missing in\n{text}");
    }
    let value = |name: &str| -> f64 {
        text.lines().find_map(|l| l.strip_prefix(name)).and_then(|v| v.trim().parse().ok()).unwrap_or(0.0)
    };
    // The recorder is shared by the tests in this binary: at least this test's events.
    assert!(value("notifications_sent_total ") >= 1.0);
    assert!(value("notifications_retries_total ") >= 1.0);
    assert!(value("smtp_send_duration_seconds_count ") >= 2.0);
}

#[tokio::test]
async fn the_openapi_document_describes_the_api_and_its_token() {
    let app = TestApp::spawn().await;
    let doc: serde_json::Value =
        app.http.get(app.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert!(doc["paths"]["/notifications"]["post"].is_object());
    assert!(doc["paths"]["/notifications"]["get"].is_object());
    assert!(doc["paths"]["/notifications/{id}"]["get"].is_object());
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    assert!(doc["components"]["schemas"]["NotificationRequest"].is_object());
    assert_eq!(doc["info"]["title"], "notifications");
    assert!(doc["info"].get("contact").is_none(), "{}", doc["info"]);
}

#[tokio::test]
async fn readiness_reports_the_database() {
    let app = TestApp::spawn().await;
    let response = app.http.get(app.url("/health/ready")).send().await.unwrap();
    assert_eq!(response.status(), 200);
}
