use serde_json::json;
use test_support::json_body;
use test_support::smtp::SmtpServer;

use crate::helpers::{PATIENCE, TestApp, id_of, notification, use_smtp};

#[tokio::test]
async fn the_same_key_and_body_return_the_same_job_and_send_one_email() {
    let server = SmtpServer::start().await;
    let app = TestApp::spawn_with(|s| use_smtp(s, &server)).await;
    let body = notification("ada@example.org", "Invitation", "You are invited.");

    let first = app.post(&body, Some("outbox-1")).await;
    assert_eq!(first.status(), 202);
    let first_location = first.headers()["location"].clone();
    let first = json_body(first).await;
    app.wait_for_status(&id_of(&first), "sent").await;

    // A retry after delivery (say the caller never saw the first answer).
    let again = app.post(&body, Some("outbox-1")).await;
    assert_eq!(again.status(), 202);
    assert_eq!(again.headers()["location"], first_location);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again = json_body(again).await;
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["status"], "sent");

    assert_eq!(app.all_jobs().await.len(), 1, "no second job");
    assert_eq!(server.wait_for_messages(1, PATIENCE).await.len(), 1);
    // Fields in another order, and the single recipient as a list, are the same notification.
    let reordered =
        json!({"message": "You are invited.", "recipients": ["ada@example.org"], "subject": "Invitation"});
    let replay = app.post(&reordered, Some("outbox-1")).await;
    assert_eq!(replay.status(), 202);
    assert_eq!(json_body(replay).await["id"], first["id"]);
    assert_eq!(app.all_jobs().await.len(), 1);
    assert_eq!(server.messages().len(), 1, "never a second email");
}

#[tokio::test]
async fn the_same_key_with_a_different_body_is_a_conflict() {
    let app = TestApp::spawn().await;
    let first =
        app.post(&notification("ada@example.org", "Invitation", "You are invited."), Some("k-7")).await;
    assert_eq!(first.status(), 202);
    let first = json_body(first).await;
    for different in [
        notification("ada@example.org", "Invitation", "You are NOT invited."),
        notification("bob@example.org", "Invitation", "You are invited."),
        notification("ada@example.org", "Cancelled", "You are invited."),
    ] {
        let response = app.post(&different, Some("k-7")).await;
        assert_eq!(response.status(), 409);
        let error = json_body(response).await;
        assert_eq!(error["error"], "conflict");
    }
    let jobs = app.all_jobs().await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["id"], first["id"]);
    assert_eq!(jobs[0]["message"], "You are invited.");
}

#[tokio::test]
async fn concurrent_requests_with_one_key_create_one_job() {
    let app = TestApp::spawn().await;
    let body = notification("ada@example.org", "Invitation", "You are invited.");
    let requests = (0..8).map(|_| app.post(&body, Some("race")));
    let responses = futures_util::future::join_all(requests).await;
    let mut ids = Vec::new();
    for response in responses {
        assert_eq!(response.status(), 202);
        ids.push(json_body(response).await["id"].clone());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "every answer names the same job");
    assert_eq!(app.all_jobs().await.len(), 1);
}

#[tokio::test]
async fn without_a_key_each_request_is_a_new_job() {
    let app = TestApp::spawn().await;
    let body = notification("ada@example.org", "Hi", "Hello");
    let a = app.queue(&body).await;
    let b = app.queue(&body).await;
    assert_ne!(a["id"], b["id"]);
    assert_ne!(a["message_id"], b["message_id"]);
    assert_eq!(app.all_jobs().await.len(), 2);
}

/// Keys belong to the credential that sent them: another client using the same key gets a job
/// of its own (no replay of someone else's job, no `409` leaking that the key is taken), and its
/// retry replays its own job.
#[tokio::test]
async fn one_clients_key_never_replays_or_blocks_another_clients_job() {
    const OTHER: &str = "other-client-token-0123";
    let app =
        TestApp::spawn_with(|s| s.common.auth.tokens.push(service_kit::config::Secret::new(OTHER))).await;
    let mine =
        json_body(app.post(&notification("ada@example.org", "Hi", "mine"), Some("order-1")).await).await;
    let post_as_other = |body: serde_json::Value| {
        app.http
            .post(app.url("/notifications"))
            .bearer_auth(OTHER)
            .header("Idempotency-Key", "order-1")
            .json(&body)
            .send()
    };
    let same_body = post_as_other(notification("ada@example.org", "Hi", "mine")).await.unwrap();
    assert_eq!(same_body.status(), 202);
    assert!(same_body.headers().get("idempotent-replayed").is_none(), "not the other client's job");
    let theirs = json_body(same_body).await;
    assert_ne!(theirs["id"], mine["id"]);
    let different = post_as_other(notification("bob@example.org", "Hi", "theirs")).await.unwrap();
    assert_eq!(different.status(), 409, "the other client's own key, used for another notification");
    let retry = post_as_other(notification("ada@example.org", "Hi", "mine")).await.unwrap();
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(json_body(retry).await["id"], theirs["id"]);
    let mine_again =
        json_body(app.post(&notification("ada@example.org", "Hi", "mine"), Some("order-1")).await).await;
    assert_eq!(mine_again["id"], mine["id"]);
    assert_eq!(app.all_jobs().await.len(), 2);
}

#[tokio::test]
async fn upgrading_keeps_keys_stored_before_scoping_apart_and_scoped_keys_as_they_are() {
    use service_kit::db::{ConnectOptions, Db};
    use sqlx::Row;
    let db = test_support::TestDb::new().await;
    let options = ConnectOptions::new(db.url.clone(), 2);
    let mut before = notifications::startup::MIGRATIONS;
    before.sqlite = &before.sqlite[..2];
    before.postgres = &before.postgres[..2];
    let old = Db::connect(&options, &before).await.unwrap();
    for (id, key) in [("a", "order-1"), ("b", "token:0123abcd order-2")] {
        sqlx::query(
            "INSERT INTO jobs (id, idempotency_key, recipients, subject, body, message_id, status, \
             next_attempt_at, created_at, updated_at) VALUES ($1, $2, '[]', 's', 'b', 'm', 'sent', 0, 0, 0)",
        )
        .bind(id)
        .bind(key)
        .execute(&old.writer)
        .await
        .unwrap();
    }
    old.close().await;
    let upgraded = Db::connect(&options, &notifications::startup::MIGRATIONS).await.unwrap();
    let keys: Vec<String> = sqlx::query("SELECT idempotency_key FROM jobs ORDER BY id")
        .fetch_all(&upgraded.reader)
        .await
        .unwrap()
        .iter()
        .map(|row| row.get("idempotency_key"))
        .collect();
    assert_eq!(keys, ["unscoped order-1", "token:0123abcd order-2"]);
    upgraded.close().await;
}
