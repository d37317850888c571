//! A notification's other parts (`attachments`): alternative renderings such as an iMIP
//! `text/calendar; method=REQUEST` part, and attachments, delivered as one MIME message.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mail_parser::MimeHeaders;
use serde_json::json;
use test_support::json_body;
use test_support::smtp::SmtpServer;

use crate::helpers::{PATIENCE, TestApp, id_of, use_smtp};

const ICS: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\n\
UID:one@example.org\r\nDTSTAMP:20261206T120000Z\r\nDTSTART:20261224T180000Z\r\nSUMMARY:Café\r\n\
END:VEVENT\r\nEND:VCALENDAR\r\n";
const PDF: &[u8] = b"%PDF-1.4\n\x00\x01\xff binary\n";

fn with_parts(parts: serde_json::Value) -> serde_json::Value {
    json!({"email": "ada@example.org", "subject": "Invitation: Café", "message": "You are invited.", "attachments": parts})
}

#[tokio::test]
async fn an_invitation_part_and_an_attachment_arrive_in_one_mime_message() {
    let server = SmtpServer::start().await;
    let app = TestApp::spawn_with(|s| use_smtp(s, &server)).await;
    let body = with_parts(json!([
        {"content_type": "text/calendar; method=request", "content": ICS},
        {"content_type": "application/pdf", "filename": "Agenda März.pdf", "content_base64": STANDARD.encode(PDF)},
    ]));
    let job = app.queue(&body).await;
    assert_eq!(
        job["attachments"],
        json!([
            {"content_type": "text/calendar; charset=utf-8; method=REQUEST", "filename": null, "size": ICS.len() - ICS.matches("\r\n").count()},
            {"content_type": "application/pdf", "filename": "Agenda März.pdf", "size": PDF.len()},
        ]),
        "the calendar text is stored with LF line breaks"
    );
    let id = id_of(&job);
    app.wait_for_status(&id, "sent").await;

    let messages = server.wait_for_messages(1, PATIENCE).await;
    let mail = messages[0].parsed();
    let top = mail.content_type().unwrap();
    assert_eq!((top.ctype(), top.subtype()), ("multipart", Some("mixed")));
    assert_eq!(mail.body_text(0).unwrap().trim_end(), "You are invited.");
    let calendar = mail
        .parts
        .iter()
        .find(|p| p.content_type().is_some_and(|t| t.subtype() == Some("calendar")))
        .expect("a text/calendar part");
    let calendar_type = calendar.content_type().unwrap();
    assert_eq!(calendar_type.attribute("method"), Some("REQUEST"), "iMIP needs the method parameter");
    assert!(calendar.content_disposition().is_none(), "the invitation is an alternative, not an attachment");
    assert_eq!(calendar.text_contents().unwrap(), ICS, "CRLF on the wire, UTF-8 kept");
    let alternative = mail
        .parts
        .iter()
        .find(|p| p.content_type().is_some_and(|t| t.subtype() == Some("alternative")))
        .expect("the text and the invitation are alternatives");
    assert_eq!(alternative.content_type().unwrap().ctype(), "multipart");
    let attachments: Vec<_> =
        mail.attachments().filter(|a| a.content_disposition().is_some_and(|d| d.is_attachment())).collect();
    assert_eq!(attachments.len(), 1, "{}", String::from_utf8_lossy(&messages[0].data));
    assert_eq!(attachments[0].attachment_name(), Some("Agenda März.pdf"));
    assert_eq!(attachments[0].contents(), PDF);
    assert!(std::str::from_utf8(&messages[0].data).unwrap().is_ascii(), "7-bit clean");

    // The same key with other parts is another notification.
    let key = "parts-1";
    assert_eq!(app.post(&body, Some(key)).await.status(), 202);
    let mut other = body.clone();
    other["attachments"][1]["filename"] = json!("other.pdf");
    assert_eq!(app.post(&other, Some(key)).await.status(), 409);
    assert_eq!(app.post(&body, Some(key)).await.headers()["idempotent-replayed"], "true");
}

#[tokio::test]
async fn parts_over_the_limits_or_malformed_are_refused_and_store_nothing() {
    let app = TestApp::spawn().await;
    let text =
        |n: usize| json!({"content_type": "text/plain", "filename": "a.txt", "content": "x".repeat(n)});
    let cases = [
        (json!((0..6).map(|_| text(1)).collect::<Vec<_>>()), "attachments"),
        (json!([text(128 * 1024 + 1)]), "attachments[0].content"),
        (json!([text(128 * 1024), text(128 * 1024), text(1)]), "attachments"),
        (
            json!([{"content_type": "application/x-msdownload", "filename": "a.exe", "content_base64": "TVo="}]),
            "attachments[0].content_type",
        ),
        (
            json!([{"content_type": "text/calendar; method=EXPLODE", "content": "x"}]),
            "attachments[0].content_type",
        ),
        (
            json!([{"content_type": "text/html; charset=iso-8859-1", "content": "x"}]),
            "attachments[0].content_type",
        ),
        (
            json!([{"content_type": "application/pdf", "filename": "a.pdf", "content_base64": "not base64!"}]),
            "attachments[0].content_base64",
        ),
        (
            json!([{"content_type": "application/pdf", "content_base64": "JVBERg=="}]),
            "attachments[0].filename",
        ),
        (
            json!([{"content_type": "text/plain", "filename": "x\r\nBcc: victim@example.org", "content": "x"}]),
            "attachments[0].filename",
        ),
        (
            json!([{"content_type": "text/plain", "filename": "a", "content": "x", "content_base64": "eA=="}]),
            "attachments[0].content",
        ),
        (
            json!([{"content_type": "text/calendar", "content": "BEGIN:VCALENDAR\u{0}"}]),
            "attachments[0].content",
        ),
    ];
    for (parts, field) in cases {
        let response = app.post(&with_parts(parts), None).await;
        assert_eq!(response.status(), 422, "{field}");
        let error = json_body(response).await;
        assert_eq!(error["field"], field, "{error}");
    }
    let unknown = app
        .post(&with_parts(json!([{"content_type": "text/plain", "content": "x", "inline": true}])), None)
        .await;
    assert_eq!(unknown.status(), 422, "unknown fields of a part are refused");
    assert_eq!(app.all_jobs().await.len(), 0, "nothing was stored");
    let plain = app.queue(&json!({"email": "ada@example.org", "message": "no parts"})).await;
    assert_eq!(plain["attachments"], json!([]), "a job without parts is as before");
}
