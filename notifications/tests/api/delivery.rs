use serde_json::json;
use test_support::json_body;
use test_support::smtp::SmtpServer;

use crate::helpers::{PATIENCE, TestApp, assert_each_job_sent_once, id_of, notification, use_smtp};

#[tokio::test]
async fn a_notification_is_delivered_with_correct_headers() {
    let server = SmtpServer::start().await;
    let app = TestApp::spawn_with(|s| use_smtp(s, &server)).await;

    let response = app
        .post(
            &notification("ada@example.org", "Grüße aus Köln ✓", "Hallo Ada,\nschön, dass du da bist. ☕"),
            None,
        )
        .await;
    assert_eq!(response.status(), 202);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let job = json_body(response).await;
    let id = id_of(&job);
    assert_eq!(location, format!("http://localhost:{}/notifications/{id}", app.addr.port()));
    assert_eq!(job["self"], location);
    assert_eq!(job["status"], "queued");

    let sent = app.wait_for_status(&id, "sent").await;
    assert_eq!(sent["attempts"], 1);
    assert!(sent["sent_at"].is_string());

    let messages = server.wait_for_messages(1, PATIENCE).await;
    assert_eq!(messages.len(), 1);
    let mail = &messages[0];
    assert_eq!(mail.mail_from, "notifications@localhost");
    assert_eq!(mail.rcpt_to, vec!["ada@example.org".to_string()]);
    assert_eq!(mail.raw_header("From").as_deref(), Some("Notifications <notifications@localhost>"));
    assert_eq!(mail.raw_header("To").as_deref(), Some("ada@example.org"));
    assert_eq!(mail.subject().as_deref(), Some("Grüße aus Köln ✓"));
    assert!(
        mail.raw_header("Subject").unwrap().starts_with("=?utf-8?"),
        "non-ASCII subjects travel as encoded words"
    );
    let body = mail.text_body().unwrap().replace("\r\n", "\n");
    assert_eq!(body.trim_end(), "Hallo Ada,\nschön, dass du da bist. ☕", "lines end in CRLF on the wire");
    assert_eq!(mail.raw_header("MIME-Version").as_deref(), Some("1.0"));
    assert_eq!(mail.raw_header("Content-Type").as_deref(), Some("text/plain; charset=utf-8"));
    let message_id = mail.message_id().unwrap();
    assert_eq!(format!("<{message_id}>"), sent["message_id"].as_str().unwrap());
    assert_eq!(message_id, format!("{id}@localhost"));
    let date = mail.raw_header("Date").unwrap();
    let date = chrono::DateTime::parse_from_rfc2822(&date).expect("an RFC 5322 date");
    let created = chrono::DateTime::parse_from_rfc3339(sent["created_at"].as_str().unwrap()).unwrap();
    assert!((date.timestamp() - created.timestamp()).abs() <= 1, "Date is the job's creation time");
    assert!(std::str::from_utf8(&mail.data).unwrap().is_ascii(), "the message is 7-bit clean");
}

#[tokio::test]
async fn several_recipients_get_one_message_addressed_to_all() {
    let server = SmtpServer::start().await;
    let app = TestApp::spawn_with(|s| use_smtp(s, &server)).await;
    let job = app
        .queue(&json!({"recipients": ["ada@example.org", "bob@example.org"], "message": "Standup at 10"}))
        .await;
    let sent = app.wait_for_status(&id_of(&job), "sent").await;
    assert_eq!(sent["subject"], "Notification", "the default subject");
    let mail = &server.wait_for_messages(1, PATIENCE).await[0];
    assert_eq!(mail.rcpt_to, vec!["ada@example.org".to_string(), "bob@example.org".to_string()]);
    assert_eq!(mail.raw_header("To").as_deref(), Some("ada@example.org, bob@example.org"));
    assert_eq!(mail.subject().as_deref(), Some("Notification"));
}

#[tokio::test]
async fn the_location_answers_with_the_same_job() {
    let app = TestApp::spawn().await;
    let response = app.post(&notification("ada@example.org", "Hi", "Hello"), None).await;
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let job = json_body(response).await;
    let path = location.split_once("/notifications/").map(|(_, id)| format!("/notifications/{id}")).unwrap();
    let fetched = app.job(path.trim_start_matches("/notifications/")).await;
    assert_eq!(fetched["id"], job["id"]);
    assert_eq!(fetched["message_id"], job["message_id"]);
}

#[tokio::test]
async fn many_jobs_are_all_delivered_once() {
    let server = SmtpServer::start().await;
    let app = TestApp::spawn_with(|s| use_smtp(s, &server)).await;
    let mut ids = Vec::new();
    for i in 0..30 {
        ids.push(id_of(&app.queue(&notification(&format!("p{i}@example.org"), "Hi", "Hello")).await));
    }
    assert_each_job_sent_once(&app, &server, &ids).await;
}

#[tokio::test]
async fn a_new_job_is_answered_as_queued_even_when_a_worker_claims_it_at_once() {
    // In mailbox mode the worker takes each job within moments of its commit, while the next
    // request is being answered: the answer must be the job as stored, not a later look at it.
    let app = TestApp::spawn().await;
    for i in 0..200 {
        let job = app.queue(&notification(&format!("p{i}@example.org"), "Hi", "Hello")).await;
        assert_eq!((i, job["status"].as_str()), (i, Some("queued")), "{job}");
        assert_eq!(job["attempts"], 0, "{job}");
    }
}
