//! Reading one Atom document of the contacts feed (RFC 4287, archived per RFC 5005) into its
//! events and archive links. The event JSON inside `<content type="application/json">` is the
//! source of truth; document order is not trusted (events are sorted by `sequence`).
//!
//! `atom_syndication` (over quick-xml) does not expand DTD entities, so an entity bomb is an
//! unknown-entity error rather than a memory explosion.

use serde::Deserialize;
use url::Url;
use uuid::Uuid;

/// One event of the feed.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct FeedEvent {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub kind: String,
    /// Epoch milliseconds.
    pub timestamp: i64,
    pub sequence: i64,
    pub payload: serde_json::Value,
}

/// A parsed document: its events ordered by sequence, and where the older ones are.
#[derive(Debug, Clone)]
pub struct Page {
    pub url: Url,
    pub events: Vec<FeedEvent>,
    pub prev_archive: Option<Url>,
}

impl Page {
    pub fn min_sequence(&self) -> Option<i64> {
        self.events.first().map(|e| e.sequence)
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum DocumentError {
    #[error("not an Atom feed: {0}")]
    NotAtom(String),
    #[error("malformed entry: {0}")]
    MalformedEntry(String),
}

impl DocumentError {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NotAtom(_) => "malformed_document",
            Self::MalformedEntry(_) => "malformed_entry",
        }
    }
}

/// Parses `body`, fetched from `url`.
pub fn parse(url: &Url, body: &[u8]) -> Result<Page, DocumentError> {
    if has_doctype(body) {
        return Err(DocumentError::NotAtom("document type declarations are not accepted".into()));
    }
    let feed = atom_syndication::Feed::read_from(body).map_err(|e| DocumentError::NotAtom(e.to_string()))?;
    let mut prev_archive = None;
    for link in feed.links() {
        if link.rel() == "prev-archive" {
            prev_archive = Some(resolve(url, link.href())?);
        }
    }
    let mut events = Vec::with_capacity(feed.entries().len());
    for entry in feed.entries() {
        let content = entry
            .content()
            .and_then(|c| c.value())
            .ok_or_else(|| DocumentError::MalformedEntry(format!("entry {} has no content", entry.id())))?;
        let event: FeedEvent = serde_json::from_str(content)
            .map_err(|e| DocumentError::MalformedEntry(format!("entry {}: {e}", entry.id())))?;
        if event.sequence < 1 {
            return Err(DocumentError::MalformedEntry(format!(
                "entry {}: sequence {} < 1",
                entry.id(),
                event.sequence
            )));
        }
        events.push(event);
    }
    events.sort_by_key(|e| e.sequence);
    if let Some(pair) = events.windows(2).find(|w| w[0].sequence == w[1].sequence) {
        return Err(DocumentError::MalformedEntry(format!("sequence {} appears twice", pair[0].sequence)));
    }
    Ok(Page { url: url.clone(), events, prev_archive })
}

/// Whether a `<!DOCTYPE` comes before the root element. Atom needs none, and refusing it
/// outright keeps entity tricks (billion laughs, external entities) away from every parser.
fn has_doctype(body: &[u8]) -> bool {
    let root = body.windows(2).position(|w| w[0] == b'<' && w[1].is_ascii_alphabetic()).unwrap_or(body.len());
    body[..root].windows(9).any(|w| w.eq_ignore_ascii_case(b"<!DOCTYPE"))
}

fn resolve(base: &Url, href: &str) -> Result<Url, DocumentError> {
    match base.join(href) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => Ok(url),
        _ => Err(DocumentError::NotAtom(format!("unusable link {href:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url() -> Url {
        Url::parse("http://contacts.test/feed").unwrap()
    }

    fn feed(entries: &str, links: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><id>urn:x</id><title>t</title><updated>2026-01-01T00:00:00Z</updated>{links}{entries}</feed>"#
        )
    }

    fn entry(sequence: i64) -> String {
        format!(
            r#"<entry><id>urn:e:{sequence}</id><title>contact-created</title><updated>2026-01-01T00:00:00Z</updated><content type="application/json">{{"id":"{}","type":"contact-created","timestamp":1,"sequence":{sequence},"payload":{{}}}}</content></entry>"#,
            Uuid::now_v7()
        )
    }

    #[test]
    fn events_are_sorted_by_sequence_and_links_resolved() {
        let doc = feed(
            &format!("{}{}{}", entry(3), entry(1), entry(2)),
            r#"<link rel="prev-archive" href="/feed/archive/7"/>"#,
        );
        let page = parse(&url(), doc.as_bytes()).unwrap();
        assert_eq!(page.events.iter().map(|e| e.sequence).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(page.prev_archive.unwrap().as_str(), "http://contacts.test/feed/archive/7");
    }

    #[test]
    fn garbage_truncation_and_entity_bombs_are_errors() {
        let good = feed(&entry(1), "");
        assert!(matches!(parse(&url(), b"not xml at all"), Err(DocumentError::NotAtom(_))));
        assert!(matches!(parse(&url(), &good.as_bytes()[..good.len() / 2]), Err(DocumentError::NotAtom(_))));
        assert!(matches!(parse(&url(), b"<html><body>hi</body></html>"), Err(DocumentError::NotAtom(_))));
        let mut bomb = String::from(r#"<?xml version="1.0"?><!DOCTYPE feed [<!ENTITY lol "lol">"#);
        for i in 1..=9 {
            let prev = if i == 1 { "lol".to_string() } else { format!("lol{}", i - 1) };
            bomb.push_str(&format!(r#"<!ENTITY lol{i} "{}">"#, format!("&{prev};").repeat(10)));
        }
        bomb.push_str(r#"]><feed xmlns="http://www.w3.org/2005/Atom"><id>urn:x</id><title>&lol9;</title><updated>2026-01-01T00:00:00Z</updated></feed>"#);
        assert!(
            matches!(parse(&url(), bomb.as_bytes()), Err(DocumentError::NotAtom(_))),
            "an entity bomb is refused"
        );
        let external = r#"<?xml version="1.0"?><!doctype feed [<!ENTITY x SYSTEM "file:///etc/passwd">]><feed xmlns="http://www.w3.org/2005/Atom"><title>&x;</title></feed>"#;
        assert!(parse(&url(), external.as_bytes()).is_err(), "external entities are refused");
    }

    #[test]
    fn entries_without_event_json_are_malformed() {
        let doc = feed(
            r#"<entry><id>urn:e</id><title>x</title><updated>2026-01-01T00:00:00Z</updated><content type="application/json">{"sequence": "one"}</content></entry>"#,
            "",
        );
        assert!(matches!(parse(&url(), doc.as_bytes()), Err(DocumentError::MalformedEntry(_))));
        let dup = feed(&format!("{}{}", entry(1), entry(1)), "");
        assert!(matches!(parse(&url(), dup.as_bytes()), Err(DocumentError::MalformedEntry(_))));
    }
}
