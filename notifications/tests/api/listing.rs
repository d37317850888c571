use serde_json::Value;

use crate::helpers::{TestApp, id_of, notification};

#[tokio::test]
async fn jobs_are_listed_newest_first_with_cursor_pagination() {
    let app = TestApp::spawn_with(|s| s.run_worker = false).await;
    let mut posted = Vec::new();
    for i in 0..5 {
        posted.push(id_of(&app.queue(&notification(&format!("p{i}@example.org"), "Hi", "m")).await));
    }
    posted.reverse();

    let mut seen = Vec::new();
    let mut next = Some(app.url("/notifications?limit=2"));
    let mut pages = 0;
    while let Some(url) = next {
        let path = url.split_once("/notifications").map(|(_, rest)| format!("/notifications{rest}")).unwrap();
        let (status, page) = app.api_get(&path).await;
        assert_eq!(status, 200, "{page}");
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(id_of));
        next = page["next"].as_str().map(String::from);
        if let Some(link) = &next {
            assert!(link.starts_with("http://localhost:"), "absolute links: {link}");
        }
        pages += 1;
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, posted);
}

#[tokio::test]
async fn jobs_can_be_filtered_by_status() {
    let app = TestApp::spawn_with(|s| s.run_worker = false).await;
    for i in 0..3 {
        app.queue(&notification(&format!("p{i}@example.org"), "Hi", "m")).await;
    }
    let report = app.delivery.step().await.unwrap();
    assert_eq!(report.sent, 3);
    for i in 0..2 {
        app.queue(&notification(&format!("q{i}@example.org"), "Hi", "m")).await;
    }
    let count = |list: &Value| list["items"].as_array().unwrap().len();
    let (_, queued) = app.api_get("/notifications?status=queued").await;
    let (_, sent) = app.api_get("/notifications?status=sent").await;
    let (_, failed) = app.api_get("/notifications?status=failed").await;
    assert_eq!((count(&queued), count(&sent), count(&failed)), (2, 3, 0));
    assert!(queued["items"].as_array().unwrap().iter().all(|j| j["status"] == "queued"));
}

#[tokio::test]
async fn bad_list_parameters_are_400() {
    let app = TestApp::spawn().await;
    for query in ["status=lost", "limit=0", "limit=201", "limit=ten", "cursor=abc", "cursor=-5"] {
        let (status, body) = app.api_get(&format!("/notifications?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error"], "invalid_query", "{query}: {body}");
    }
}

#[tokio::test]
async fn unknown_and_malformed_job_ids_are_both_404() {
    let app = TestApp::spawn().await;
    let (status, body) = app.api_get("/notifications/01890000-0000-7000-8000-000000000000").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "not_found");
    let (status, body) = app.api_get("/notifications/not-a-uuid").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "not_found");
}
