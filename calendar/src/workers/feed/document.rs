//! Reading one Atom document of the contacts feed (RFC 4287, archived per RFC 5005): a small,
//! bounded reader over quick-xml that takes only what the follower needs (the feed's `self`,
//! `current` and `prev-archive` links; each entry's id, `updated`, content and `related` link)
//! and is liberal in what it accepts, as the talk's own feeds need:
//!
//! - dates in RFC 3339 or in epoch milliseconds, an empty feed `<updated>`;
//! - content `type` `application/json`, `json`, `text` or none, with the event JSON inside;
//! - event JSON with or without `sequence`. Where every entry has one, events are ordered by it
//!   (document order is not trusted); where none has, by position (newest first in a document).
//!
//! The bytes are decoded first, by the HTTP `Content-Type` charset where there is one, else a
//! byte-order mark, else the XML declaration (RFC 7303), else UTF-8: UTF-8, US-ASCII and
//! ISO-8859-1 are read, anything else is refused. A document type declaration is refused
//! outright, so no entity is ever expanded (no billion laughs, no external entities); only the
//! five predefined entities and character references are read.

use std::borrow::Cow;

use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};
use serde::Deserialize;
use url::Url;

/// Longest entry id accepted (it is stored in the checkpoint).
const MAX_ENTRY_ID: usize = 1024;
/// Room taken in memory by an entry besides its texts, for the walk's memory bound.
const ENTRY_OVERHEAD: usize = 160;

/// One entry of a feed document.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedEvent {
    /// The Atom `<id>` (duplicates are recognised by it).
    pub entry_id: String,
    /// The event's `type` (`unknown` when its JSON cannot be read).
    pub kind: String,
    /// The event's `sequence`, where the feed numbers its events.
    pub sequence: Option<i64>,
    /// When it happened, epoch ms: the event JSON's `timestamp`, else the entry's `<updated>`.
    pub timestamp: i64,
    /// The event JSON as it came, parsed again when applied.
    pub content: String,
    /// The entry's `related` link (the contact), resolved against the document.
    pub related: Option<String>,
    /// Why the event JSON cannot be read, if it cannot (such an entry is parked).
    pub unreadable: Option<String>,
}

impl FeedEvent {
    /// Bytes it keeps in memory, roughly.
    pub fn weight(&self) -> usize {
        self.content.len() + self.entry_id.len() + self.kind.len() + ENTRY_OVERHEAD
    }
}

/// How a document orders its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Every entry carries a `sequence` (or there are none).
    Sequence,
    /// No entry carries one: the feed's own order counts.
    Position,
}

/// A parsed document: its events, oldest first, and where the older ones are.
#[derive(Debug, Clone)]
pub struct Page {
    pub url: Url,
    pub events: Vec<FeedEvent>,
    pub order: Order,
    pub prev_archive: Option<Url>,
    /// The document's own `self` link (or `current`), naming the origin the feed calls its own.
    pub self_link: Option<Url>,
}

impl Page {
    pub fn min_sequence(&self) -> Option<i64> {
        self.events.first().and_then(|e| e.sequence)
    }

    /// Bytes its events keep in memory, roughly.
    pub fn weight(&self) -> usize {
        self.events.iter().map(FeedEvent::weight).sum()
    }

    /// Where the entry `entry_id` is in `events`.
    pub fn position_of(&self, entry_id: &str) -> Option<usize> {
        self.events.iter().position(|e| e.entry_id == entry_id)
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum DocumentError {
    #[error("not an Atom feed: {0}")]
    NotAtom(String),
    #[error("malformed entry: {0}")]
    MalformedEntry(String),
    #[error("{0}")]
    Charset(String),
}

impl DocumentError {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NotAtom(_) => "malformed_document",
            Self::MalformedEntry(_) => "malformed_entry",
            Self::Charset(_) => "charset",
        }
    }
}

/// The envelope of the event JSON: what ordering and counting need. The payload is read when the
/// event is applied.
#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    timestamp: Option<i64>,
    #[serde(default)]
    sequence: Option<i64>,
}

/// Parses `body`, fetched from `url` with the HTTP `Content-Type` `content_type` (if any).
pub fn parse(url: &Url, body: &[u8], content_type: Option<&str>) -> Result<Page, DocumentError> {
    if has_doctype(body) {
        return Err(DocumentError::NotAtom("document type declarations are not accepted".into()));
    }
    let text = decode(body, content_type)?;
    let raw = read(&text)?;
    drop(text);

    let resolve_link = |href: &str| resolve(url, href);
    let mut prev_archive = None;
    let mut self_link = None;
    let mut current_link = None;
    for (rel, href) in &raw.links {
        match rel.as_str() {
            "prev-archive" => prev_archive = Some(resolve_link(href)?),
            "self" => self_link = Some(resolve_link(href)?),
            "current" => current_link = Some(resolve_link(href)?),
            _ => {}
        }
    }
    if !raw.updated.trim().is_empty() && parse_date(&raw.updated).is_none() {
        tracing::debug!(updated = %raw.updated, "the feed's <updated> is no date we read; ignored");
    }

    let mut events = Vec::with_capacity(raw.entries.len());
    let mut numbered = 0;
    for entry in raw.entries {
        let event = to_event(url, entry)?;
        numbered += usize::from(event.sequence.is_some());
        events.push(event);
    }
    let order = if numbered == 0 && !events.is_empty() { Order::Position } else { Order::Sequence };
    match order {
        Order::Sequence => {
            for event in &events {
                let Some(sequence) = event.sequence else {
                    let why = event.unreadable.clone().unwrap_or_else(|| "no sequence".into());
                    return Err(DocumentError::MalformedEntry(format!(
                        "entry {} in a feed of numbered events: {why}",
                        event.entry_id
                    )));
                };
                if sequence < 1 {
                    return Err(DocumentError::MalformedEntry(format!(
                        "entry {}: sequence {sequence} < 1",
                        event.entry_id
                    )));
                }
            }
            events.sort_by_key(|e| e.sequence);
            if let Some(pair) = events.windows(2).find(|w| w[0].sequence == w[1].sequence) {
                return Err(DocumentError::MalformedEntry(format!(
                    "sequence {} appears twice",
                    pair[0].sequence.unwrap_or_default()
                )));
            }
        }
        Order::Position => {
            // Newest first in the document; keep the first (newest) copy of a repeated entry.
            let mut seen = std::collections::HashSet::new();
            events.retain(|e| seen.insert(e.entry_id.clone()));
            events.reverse();
        }
    }
    Ok(Page { url: url.clone(), events, order, prev_archive, self_link: self_link.or(current_link) })
}

fn to_event(base: &Url, entry: RawEntry) -> Result<FeedEvent, DocumentError> {
    let content = entry.content.unwrap_or_default();
    let envelope = if entry.content_type_ok {
        serde_json::from_str::<Envelope>(&content).map_err(|e| format!("event JSON: {e}"))
    } else {
        Err(format!("content of type {:?} is not event JSON", entry.content_type))
    };
    let id = entry.id.trim();
    let entry_id =
        if id.is_empty() { format!("content:{:016x}", fnv1a(content.as_bytes())) } else { id.to_string() };
    if entry_id.len() > MAX_ENTRY_ID {
        return Err(DocumentError::MalformedEntry(format!("an entry id longer than {MAX_ENTRY_ID} bytes")));
    }
    let updated = parse_date(&entry.updated);
    let related = entry.related.as_deref().and_then(|href| base.join(href).ok()).map(String::from);
    Ok(match envelope {
        Ok(envelope) => FeedEvent {
            entry_id,
            kind: envelope.kind,
            sequence: envelope.sequence,
            timestamp: envelope.timestamp.or(updated).unwrap_or(0),
            content,
            related,
            unreadable: None,
        },
        Err(why) => FeedEvent {
            entry_id,
            kind: "unknown".into(),
            sequence: None,
            timestamp: updated.unwrap_or(0),
            content,
            related,
            unreadable: Some(why),
        },
    })
}

/// A stable hash for entries without an id (the checkpoint keeps it across restarts).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// An RFC 3339 date, or epoch milliseconds (as the talk's feeds write them); epoch ms.
pub fn parse_date(raw: &str) -> Option<i64> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    if raw.bytes().all(|b| b.is_ascii_digit()) {
        return raw.parse().ok();
    }
    chrono::DateTime::parse_from_rfc3339(raw).ok().map(|d| d.timestamp_millis())
}

/// Decodes the document to text: the HTTP charset wins over the document's own declaration
/// (RFC 7303); a byte-order mark comes next, then the XML declaration, then UTF-8.
pub fn decode<'a>(body: &'a [u8], content_type: Option<&str>) -> Result<Cow<'a, str>, DocumentError> {
    let (body, bom) = match body.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => (rest, Some("utf-8")),
        None => (body, None),
    };
    let http = content_type.and_then(charset_param);
    let label = http.clone().or_else(|| bom.map(str::to_string)).or_else(|| declared_encoding(body));
    let label = label.unwrap_or_else(|| "utf-8".into()).to_ascii_lowercase();
    match label.as_str() {
        "utf-8" | "utf8" | "unicode-1-1-utf-8" => std::str::from_utf8(body)
            .map(Cow::Borrowed)
            .map_err(|e| DocumentError::Charset(format!("the document is not UTF-8 as declared: {e}"))),
        "us-ascii" | "ascii" | "ansi_x3.4-1968" | "iso646-us" => {
            match body.iter().position(|b| !b.is_ascii()) {
                None => Ok(Cow::Borrowed(std::str::from_utf8(body).unwrap_or_default())),
                Some(at) => Err(DocumentError::Charset(format!("byte {at} is not US-ASCII as declared"))),
            }
        }
        // A byte is its code point.
        "iso-8859-1" | "iso8859-1" | "iso_8859-1" | "latin1" | "latin-1" | "l1" | "iso-ir-100" | "cp819"
        | "ibm819" | "csisolatin1" => Ok(Cow::Owned(body.iter().map(|b| char::from(*b)).collect())),
        other => Err(DocumentError::Charset(format!(
            "unsupported charset {other:?} (UTF-8, US-ASCII and ISO-8859-1 are read)"
        ))),
    }
}

/// The `charset` parameter of a media type.
fn charset_param(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim().eq_ignore_ascii_case("charset").then(|| value.trim().trim_matches('"').to_string())
    })
}

/// The `encoding` of an XML declaration at the start of `body`.
fn declared_encoding(body: &[u8]) -> Option<String> {
    let head = body.strip_prefix(b"<?xml")?;
    let end = head.windows(2).take(256).position(|w| w == b"?>")?;
    let decl = std::str::from_utf8(&head[..end]).ok()?;
    let at = decl.find("encoding")?;
    let rest = decl[at + "encoding".len()..].trim_start().strip_prefix('=')?.trim_start();
    let quote = rest.chars().next().filter(|q| *q == '"' || *q == '\'')?;
    let value = &rest[1..];
    Some(value[..value.find(quote)?].to_string())
}

/// Whether a `<!DOCTYPE` comes before the root element. Atom needs none, and refusing it
/// outright keeps entity tricks (billion laughs, external entities) away from every parser.
fn has_doctype(body: &[u8]) -> bool {
    let root = body.windows(2).position(|w| w[0] == b'<' && w[1].is_ascii_alphabetic()).unwrap_or(body.len());
    body[..root].windows(9).any(|w| w.eq_ignore_ascii_case(b"<!DOCTYPE"))
}

fn resolve(base: &Url, href: &str) -> Result<Url, DocumentError> {
    match base.join(href.trim()) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => Ok(url),
        _ => Err(DocumentError::NotAtom(format!("unusable link {href:?}"))),
    }
}

/// What the XML holds, before interpretation.
#[derive(Debug, Default)]
struct RawFeed {
    updated: String,
    links: Vec<(String, String)>,
    entries: Vec<RawEntry>,
}

#[derive(Debug, Default)]
struct RawEntry {
    id: String,
    updated: String,
    content: Option<String>,
    content_type: Option<String>,
    /// The content type is one that holds JSON text.
    content_type_ok: bool,
    related: Option<String>,
}

/// The text-holding element being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    FeedUpdated,
    Id,
    Updated,
    Content,
}

fn not_atom(e: impl std::fmt::Display) -> DocumentError {
    DocumentError::NotAtom(e.to_string())
}

/// Walks the XML events, keeping the parts named in the module documentation.
fn read(text: &str) -> Result<RawFeed, DocumentError> {
    let mut reader = Reader::from_str(text);
    let mut feed = RawFeed::default();
    let mut depth = 0usize;
    let mut root_seen = false;
    let mut root_closed = false;
    let mut entry: Option<RawEntry> = None;
    // The element whose text is being collected, the depth it opened at, and the text so far.
    let mut field: Option<(Field, usize)> = None;
    let mut buffer = String::new();
    loop {
        let event = reader.read_event().map_err(not_atom)?;
        match event {
            Event::Start(ref start) | Event::Empty(ref start) => {
                let empty = matches!(event, Event::Empty(_));
                if root_closed {
                    return Err(not_atom("content after the root element"));
                }
                let name = start.local_name();
                let name = name.as_ref();
                if !root_seen {
                    if name != b"feed" {
                        return Err(not_atom(format!(
                            "the root element is <{}>",
                            String::from_utf8_lossy(name)
                        )));
                    }
                    root_seen = true;
                } else if field.is_none() {
                    match (depth, entry.is_some(), name) {
                        (1, _, b"link") => {
                            if let Some(link) = link_of(&reader, start)? {
                                feed.links.push(link);
                            }
                        }
                        (1, _, b"updated") => field = Some((Field::FeedUpdated, depth)),
                        (1, _, b"entry") if !empty => entry = Some(RawEntry::default()),
                        (2, true, b"id") => field = Some((Field::Id, depth)),
                        (2, true, b"updated") => field = Some((Field::Updated, depth)),
                        (2, true, b"link") => {
                            if let (Some(entry), Some((rel, href))) =
                                (entry.as_mut(), link_of(&reader, start)?)
                                && rel == "related"
                            {
                                entry.related = Some(href);
                            }
                        }
                        (2, true, b"content") => {
                            let kind = attribute(&reader, start, b"type")?;
                            if let Some(entry) = entry.as_mut() {
                                entry.content_type_ok = kind.as_deref().is_none_or(json_type);
                                entry.content_type = kind;
                                entry.content = Some(String::new());
                            }
                            field = Some((Field::Content, depth));
                        }
                        _ => {}
                    }
                    if empty && field.is_some_and(|(_, d)| d == depth) {
                        field = None;
                    }
                }
                if !empty {
                    depth += 1;
                }
            }
            Event::End(_) => {
                depth = depth.checked_sub(1).ok_or_else(|| not_atom("an end tag without a start"))?;
                if let Some((which, at)) = field
                    && at == depth
                {
                    let text = std::mem::take(&mut buffer);
                    match (which, entry.as_mut()) {
                        (Field::FeedUpdated, _) => feed.updated = text,
                        (Field::Id, Some(e)) => e.id = text,
                        (Field::Updated, Some(e)) => e.updated = text,
                        (Field::Content, Some(e)) => e.content = Some(text),
                        _ => {}
                    }
                    field = None;
                } else if depth == 1 && field.is_none() {
                    if let Some(done) = entry.take() {
                        feed.entries.push(done);
                    }
                } else if depth == 0 {
                    root_closed = true;
                }
            }
            Event::Text(ref t) if field.is_some() => buffer.push_str(&t.xml10_content().map_err(not_atom)?),
            Event::CData(ref t) if field.is_some() => buffer.push_str(&t.xml10_content().map_err(not_atom)?),
            Event::GeneralRef(ref r) => {
                let resolved = match r.resolve_char_ref().map_err(not_atom)? {
                    Some(c) => c.to_string(),
                    None => {
                        let name = r.decode().map_err(not_atom)?;
                        quick_xml::escape::resolve_predefined_entity(&name)
                            .ok_or_else(|| not_atom(format!("unknown entity &{name};")))?
                            .to_string()
                    }
                };
                if field.is_some() {
                    buffer.push_str(&resolved);
                }
            }
            Event::DocType(_) => return Err(not_atom("document type declarations are not accepted")),
            Event::Eof => break,
            _ => {}
        }
    }
    if !root_seen {
        return Err(not_atom("no root element"));
    }
    if !root_closed {
        return Err(not_atom("the document ends before </feed>"));
    }
    Ok(feed)
}

/// Content types that hold the event JSON as text.
fn json_type(kind: &str) -> bool {
    let kind = kind.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    matches!(kind.as_str(), "application/json" | "json" | "text" | "text/plain" | "text/json")
}

fn attribute(
    reader: &Reader<&[u8]>,
    start: &BytesStart,
    name: &[u8],
) -> Result<Option<String>, DocumentError> {
    for attr in start.attributes() {
        let attr = attr.map_err(not_atom)?;
        if attr.key.local_name().as_ref() == name {
            let value = attr
                .decoded_and_normalized_value(XmlVersion::Implicit1_0, reader.decoder())
                .map_err(not_atom)?;
            return Ok(Some(value.into_owned()));
        }
    }
    Ok(None)
}

/// A `<link>`'s `rel` (default `alternate`) and `href`.
fn link_of(reader: &Reader<&[u8]>, start: &BytesStart) -> Result<Option<(String, String)>, DocumentError> {
    let Some(href) = attribute(reader, start, b"href")? else { return Ok(None) };
    let rel = attribute(reader, start, b"rel")?.unwrap_or_else(|| "alternate".into());
    Ok(Some((rel.trim().to_string(), href)))
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

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

    fn parse_str(doc: &str) -> Result<Page, DocumentError> {
        parse(&url(), doc.as_bytes(), None)
    }

    #[test]
    fn events_are_sorted_by_sequence_and_links_resolved() {
        let doc = feed(
            &format!("{}{}{}", entry(3), entry(1), entry(2)),
            r#"<link rel="self" href="https://public.example/feed"/><link rel="prev-archive" href="/feed/archive/7"/>"#,
        );
        let page = parse_str(&doc).unwrap();
        assert_eq!(page.order, Order::Sequence);
        assert_eq!(page.events.iter().map(|e| e.sequence.unwrap()).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(page.prev_archive.unwrap().as_str(), "http://contacts.test/feed/archive/7");
        assert_eq!(page.self_link.unwrap().as_str(), "https://public.example/feed");
        assert_eq!(page.events[0].entry_id, "urn:e:1");
    }

    #[test]
    fn garbage_truncation_and_entity_bombs_are_errors() {
        let good = feed(&entry(1), "");
        assert!(matches!(parse(&url(), b"not xml at all", None), Err(DocumentError::NotAtom(_))));
        assert!(matches!(parse_str(&good[..good.len() / 2]), Err(DocumentError::NotAtom(_))));
        assert!(matches!(parse_str("<html><body>hi</body></html>"), Err(DocumentError::NotAtom(_))));
        assert!(matches!(parse_str(r#"{"feed": []}"#), Err(DocumentError::NotAtom(_))));
        let mut bomb = String::from(r#"<?xml version="1.0"?><!DOCTYPE feed [<!ENTITY lol "lol">"#);
        for i in 1..=9 {
            let prev = if i == 1 { "lol".to_string() } else { format!("lol{}", i - 1) };
            bomb.push_str(&format!(r#"<!ENTITY lol{i} "{}">"#, format!("&{prev};").repeat(10)));
        }
        bomb.push_str(r#"]><feed xmlns="http://www.w3.org/2005/Atom"><id>urn:x</id><title>&lol9;</title><updated>2026-01-01T00:00:00Z</updated></feed>"#);
        assert!(matches!(parse_str(&bomb), Err(DocumentError::NotAtom(_))), "an entity bomb is refused");
        let external = r#"<?xml version="1.0"?><!doctype feed [<!ENTITY x SYSTEM "file:///etc/passwd">]><feed xmlns="http://www.w3.org/2005/Atom"><title>&x;</title></feed>"#;
        assert!(parse_str(external).is_err(), "external entities are refused");
        let undeclared = feed(r#"<entry><id>urn:e</id><content type="json">&nbsp;</content></entry>"#, "");
        assert!(parse_str(&undeclared).is_err(), "entities other than the predefined five are refused");
    }

    #[test]
    fn entries_without_event_json_in_a_numbered_feed_are_malformed() {
        let doc = feed(
            &format!(
                r#"{}<entry><id>urn:e</id><title>x</title><updated>2026-01-01T00:00:00Z</updated><content type="application/json">{{"sequence": "one"}}</content></entry>"#,
                entry(1)
            ),
            "",
        );
        assert!(matches!(parse_str(&doc), Err(DocumentError::MalformedEntry(_))));
        let dup = feed(&format!("{}{}", entry(1), entry(1)), "");
        assert!(matches!(parse_str(&dup), Err(DocumentError::MalformedEntry(_))));
    }

    /// The talk's format: epoch-millisecond dates, `type="json"`, no sequence.
    #[test]
    fn the_talks_format_is_read_in_feed_order() {
        let doc = r#"<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Contacts</title><updated>1796151724088</updated>
<entry><id>urn:uuid:2</id><updated>1796151724088</updated><content type="json">{"id":"b","type":"contact-updated","timestamp":1796151724088,"payload":{}}</content></entry>
<entry><id>urn:uuid:1</id><updated>1796151724000</updated><content type="json">{"id":"a","type":"contact-created","payload":{"x":"&lt;&amp;&#x263A;"}}</content></entry>
<entry><id>urn:uuid:2</id><updated>1796151724088</updated><content type="json">{"id":"b","type":"contact-updated","timestamp":1796151724088,"payload":{}}</content></entry>
</feed>"#;
        let page = parse_str(doc).unwrap();
        assert_eq!(page.order, Order::Position);
        let ids: Vec<_> = page.events.iter().map(|e| e.entry_id.as_str()).collect();
        assert_eq!(ids, ["urn:uuid:1", "urn:uuid:2"], "oldest first, the repeated entry once");
        assert_eq!(page.events[0].timestamp, 1_796_151_724_000, "from <updated> when the JSON has none");
        assert!(page.events[0].content.contains("<&\u{263A}"), "entities and character references are read");
        assert_eq!(page.events[1].kind, "contact-updated");
    }

    #[test]
    fn dates_are_rfc_3339_or_epoch_milliseconds() {
        assert_eq!(parse_date("1796151724088"), Some(1_796_151_724_088));
        assert_eq!(parse_date(" 2026-01-01T00:00:00Z "), Some(1_767_225_600_000));
        assert_eq!(parse_date("2026-01-01T01:00:00+01:00"), Some(1_767_225_600_000));
        assert_eq!(parse_date(""), None);
        assert_eq!(parse_date("yesterday"), None);
        let empty_updated = feed("", "").replace("2026-01-01T00:00:00Z", "");
        assert!(parse_str(&empty_updated).unwrap().events.is_empty());
    }

    #[test]
    fn content_types_holding_json_are_read_and_others_are_unreadable() {
        for kind in [Some("application/json"), Some("json"), Some("text"), None] {
            let attr = kind.map(|k| format!(r#" type="{k}""#)).unwrap_or_default();
            let doc = feed(
                &format!(
                    r#"<entry><id>urn:e</id><content{attr}>{{"type":"contact-deleted","payload":{{}}}}</content></entry>"#
                ),
                "",
            );
            let page = parse_str(&doc).unwrap();
            assert_eq!(page.events[0].unreadable, None, "{kind:?}");
            assert_eq!(page.events[0].kind, "contact-deleted", "{kind:?}");
        }
        let doc = feed(
            r#"<entry><id>urn:e</id><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">hi</div></content></entry>"#,
            "",
        );
        let page = parse_str(&doc).unwrap();
        assert!(page.events[0].unreadable.is_some());
        assert_eq!(page.events[0].kind, "unknown");
    }

    #[test]
    fn the_http_charset_wins_over_the_xml_declaration() {
        let doc = feed(r#"<entry><id>urn:e</id><content type="json">{"type":"contact-created","payload":{"lastname":"M&#252;ller-L&#xFC;dersch&#246;n"}}</content></entry>"#, "")
            .replace("<title>t</title>", "<title>Gr\u{fc}\u{df}e</title>");
        let latin1: Vec<u8> = doc.chars().map(|c| u8::try_from(u32::from(c)).unwrap()).collect();
        let page = parse(&url(), &latin1, Some("application/atom+xml;charset=iso-8859-1")).unwrap();
        assert!(page.events[0].content.contains("Müller-Lüderschön"));
        let err = parse(&url(), &latin1, Some("application/atom+xml")).unwrap_err();
        assert_eq!(err.kind(), "charset", "Latin-1 bytes under a UTF-8 declaration: {err}");
        let err =
            parse(&url(), doc.as_bytes(), Some("application/atom+xml; charset=\"Shift_JIS\"")).unwrap_err();
        assert_eq!(err.kind(), "charset");
        let declared = doc.replace(r#"encoding="utf-8""#, r#"encoding='ISO-8859-1'"#);
        let latin1: Vec<u8> = declared.chars().map(|c| u8::try_from(u32::from(c)).unwrap()).collect();
        assert!(parse(&url(), &latin1, None).is_ok(), "without an HTTP charset the declaration counts");
        let bom = [b"\xEF\xBB\xBF".as_slice(), doc.as_bytes()].concat();
        assert!(parse(&url(), &bom, Some("application/atom+xml")).is_ok());
        assert_eq!(
            parse(&url(), "<feed>\u{e9}</feed>".as_bytes(), Some("text/xml; charset=us-ascii"))
                .unwrap_err()
                .kind(),
            "charset"
        );
    }
}
