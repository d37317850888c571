//! Turning a job into an RFC 5322 message with `lettre`'s builder.
//!
//! Rendering is deterministic: the `Date` is the job's creation time and the `Message-ID` is
//! derived from the job id, so every attempt of one job produces the same bytes. A receiver that
//! gets a job twice (the window described in the crate docs) sees one message id twice and can
//! drop the duplicate.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use lettre::Address;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, Message, MultiPart, SinglePart};
use uuid::Uuid;

use crate::domain::{Content, Job, Part};

/// `<job-id@domain-of-MAIL_FROM>`: unique per job, stable across attempts and restarts.
pub fn message_id(job_id: Uuid, mail_from: &Mailbox) -> String {
    format!("<{job_id}@{}>", mail_from.email.domain())
}

/// The message as it is sent (or stored in mailbox mode).
#[derive(Debug, Clone)]
pub struct Rendered {
    pub message: Message,
    /// `message.formatted()`: the exact bytes transferred after `DATA`.
    pub raw: Vec<u8>,
}

/// Why a job could not be rendered (a stored row that no longer parses; never expected).
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("invalid recipient {0:?}: {1}")]
    Address(String, lettre::address::AddressError),
    #[error("cannot build the message: {0}")]
    Message(#[from] lettre::error::Error),
    #[error("a stored part cannot be rendered: {0}")]
    Part(String),
}

/// Builds the message: `From` = `MAIL_FROM`, `To` = every recipient, `Subject` (UTF-8 as encoded
/// words when needed), `Date`, `Message-ID`, `MIME-Version`, a `text/plain; charset=utf-8` body
/// (quoted-printable or base64 when it is not plain ASCII). With parts: the text and the parts
/// without a filename in a `multipart/alternative` (text first, as RFC 2046 orders them, plainest
/// first), and that with the attachments in a `multipart/mixed`; boundaries come from the job id,
/// so this stays the same bytes on every attempt.
pub fn render(job: &Job, mail_from: &Mailbox) -> Result<Rendered, RenderError> {
    let created = SystemTime::UNIX_EPOCH + Duration::from_millis(job.created_at.max(0) as u64);
    let mut builder = Message::builder()
        .from(mail_from.clone())
        .subject(job.notification.subject())
        .date(created)
        .message_id(Some(job.message_id.clone()));
    for recipient in job.notification.recipients() {
        let address: Address = recipient.parse().map_err(|e| RenderError::Address(recipient.clone(), e))?;
        builder = builder.to(Mailbox::new(None, address));
    }
    let text = SinglePart::plain(job.notification.body().to_string());
    let parts = job.notification.parts();
    let message = if parts.is_empty() {
        builder.singlepart(text)?
    } else {
        builder.multipart(multipart(job.id, text, parts)?)?
    };
    let raw = message.formatted();
    Ok(Rendered { message, raw })
}

fn multipart(job_id: Uuid, text: SinglePart, parts: &[Part]) -> Result<MultiPart, RenderError> {
    let boundary = |n: u8| format!("=_{}_{n}", job_id.simple());
    let (alternatives, attachments): (Vec<&Part>, Vec<&Part>) =
        parts.iter().partition(|p| p.is_alternative());
    let mut body = None;
    if !alternatives.is_empty() {
        let mut alternative = MultiPart::alternative().boundary(boundary(1)).singlepart(text.clone());
        for part in alternatives {
            alternative = alternative.singlepart(single_part(part)?);
        }
        body = Some(alternative);
    }
    if attachments.is_empty() {
        return body.ok_or_else(|| RenderError::Part("no parts".into()));
    }
    let mixed = MultiPart::mixed().boundary(boundary(0));
    let mut mixed = match body {
        Some(alternative) => mixed.multipart(alternative),
        None => mixed.singlepart(text),
    };
    for part in attachments {
        mixed = mixed.singlepart(single_part(part)?);
    }
    Ok(mixed)
}

fn single_part(part: &Part) -> Result<SinglePart, RenderError> {
    let content_type = ContentType::parse(&part.content_type)
        .map_err(|e| RenderError::Part(format!("{}: {e}", part.content_type)))?;
    let bytes = match &part.content {
        // A `String` body: lettre writes its line breaks as CRLF.
        Content::Text(text) => lettre::message::Body::new(text.clone()),
        Content::Base64(data) => {
            lettre::message::Body::new(STANDARD.decode(data).map_err(|e| RenderError::Part(e.to_string()))?)
        }
    };
    Ok(match &part.filename {
        Some(name) => Attachment::new(name.clone()).body(bytes, content_type),
        None => SinglePart::builder().header(content_type).body(bytes),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{JobStatus, NewNotification};

    fn job(subject: &str, body: &str) -> Job {
        Job {
            seq: 1,
            id: Uuid::now_v7(),
            notification: NewNotification::from_stored(
                vec!["ada@example.org".into(), "bob@example.org".into()],
                subject.into(),
                body.into(),
                Vec::new(),
            ),
            message_id: "<fixed@example.org>".into(),
            status: JobStatus::Queued,
            attempts: 0,
            last_error: None,
            next_attempt_at: 0,
            created_at: 1_700_000_000_000,
            updated_at: 1_700_000_000_000,
            sent_at: None,
        }
    }

    #[test]
    fn the_message_id_comes_from_the_job_and_the_sender_domain() {
        let from: Mailbox = "N <n@mail.example.org>".parse().unwrap();
        let id = Uuid::now_v7();
        assert_eq!(message_id(id, &from), format!("<{id}@mail.example.org>"));
    }

    #[test]
    fn rendering_is_the_same_on_every_attempt() {
        let from: Mailbox = "Notifications <n@example.org>".parse().unwrap();
        let job = job("Grüße", "Hallo Wörld\nzweite Zeile");
        let first = render(&job, &from).unwrap();
        let second = render(&job, &from).unwrap();
        assert_eq!(first.raw, second.raw);
        let text = String::from_utf8(first.raw).unwrap();
        assert!(text.contains("Message-ID: <fixed@example.org>\r\n"), "{text}");
        assert!(text.contains("To: ada@example.org, bob@example.org\r\n"), "{text}");
        assert!(text.contains("Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"), "{text}");
        assert!(!text.contains("Grüße"), "non-ASCII subjects are encoded: {text}");
        assert!(text.contains("MIME-Version: 1.0\r\n"), "{text}");
        assert!(text.contains("Content-Type: text/plain; charset=utf-8\r\n"), "{text}");
        assert!(text.is_ascii());
    }

    #[test]
    fn a_message_with_parts_is_the_same_on_every_attempt_and_without_them_as_before() {
        let from: Mailbox = "Notifications <n@example.org>".parse().unwrap();
        let plain = job("Hi", "Text");
        let mut with_parts = plain.clone();
        with_parts.notification = NewNotification::from_stored(
            vec!["ada@example.org".into()],
            "Hi".into(),
            "Text".into(),
            vec![
                Part {
                    content_type: "text/calendar; charset=utf-8; method=CANCEL".into(),
                    filename: None,
                    content: Content::Text("BEGIN:VCALENDAR\nEND:VCALENDAR\n".into()),
                },
                Part {
                    content_type: "image/png".into(),
                    filename: Some("a.png".into()),
                    content: Content::Base64("iVBORw0KGgo=".into()),
                },
            ],
        );
        let first = render(&with_parts, &from).unwrap().raw;
        assert_eq!(first, render(&with_parts, &from).unwrap().raw, "boundaries come from the job id");
        let text = String::from_utf8(first).unwrap();
        assert!(text.contains("Content-Type: multipart/mixed;"), "{text}");
        assert!(text.contains("method=CANCEL"), "{text}");
        assert!(text.contains("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"), "CRLF on the wire: {text}");
        let plain = String::from_utf8(render(&plain, &from).unwrap().raw).unwrap();
        assert!(plain.contains("Content-Type: text/plain; charset=utf-8\r\n"), "{plain}");
        assert!(!plain.contains("multipart"), "{plain}");
    }
}
