//! The Atom documents (RFC 4287, archived per RFC 5005), built with `atom_syndication`.

use std::collections::BTreeMap;

use atom_syndication::extension::Extension;
use atom_syndication::{Content, Entry, Feed, FixedDateTime, Link, Person, Text};
use serde::Serialize;
use uuid::Uuid;

use crate::domain::{Event, EventData, Updates};
use crate::links::Links;

/// The feed's id; entries are `urn:contacts:feed:event:{uuid}`.
pub const FEED_ID: &str = "urn:contacts:feed";
const FEED_TITLE: &str = "contacts: events";
const AUTHOR: &str = "contacts service";
/// RFC 5005's namespace, for `<fh:archive/>` in archive documents.
const HISTORY_NS: &str = "http://purl.org/syndication/history/1.0";

/// Which document to build.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// `/feed`; `full_pages` archives exist before it.
    Current { full_pages: u64 },
    /// `/feed/archive/{page}`; `has_next` when the following page is full too.
    Archive { page: u64, has_next: bool },
}

/// Renders a document. `events` are the document's entries, newest first; `updated` is the
/// time of the newest event in the log up to this document (epoch millis), `None` for no events.
pub fn render(links: &Links, kind: Kind, events: &[Event], updated: Option<i64>) -> Vec<u8> {
    let mut feed_links = Vec::with_capacity(4);
    let mut namespaces = BTreeMap::new();
    let mut extensions = BTreeMap::new();
    match kind {
        Kind::Current { full_pages } => {
            feed_links.push(link("self", links.feed()));
            feed_links.push(link("current", links.feed()));
            if full_pages > 0 {
                feed_links.push(link("prev-archive", links.archive(full_pages)));
            }
        }
        Kind::Archive { page, has_next } => {
            feed_links.push(link("self", links.archive(page)));
            feed_links.push(link("current", links.feed()));
            if page > 1 {
                feed_links.push(link("prev-archive", links.archive(page - 1)));
            }
            if has_next {
                feed_links.push(link("next-archive", links.archive(page + 1)));
            }
            namespaces.insert("fh".to_owned(), HISTORY_NS.to_owned());
            let archive = Extension { name: "fh:archive".to_owned(), ..Extension::default() };
            extensions.insert("fh".to_owned(), BTreeMap::from([("archive".to_owned(), vec![archive])]));
        }
    }
    let feed = Feed {
        id: FEED_ID.to_owned(),
        title: Text::plain(FEED_TITLE),
        updated: datetime(updated.unwrap_or(0)),
        authors: vec![author()],
        links: feed_links,
        entries: events.iter().map(|e| entry(links, e)).collect(),
        namespaces,
        extensions,
        ..Feed::default()
    };
    // Writing into a Vec only fails on a bug in the writer; an empty feed is no way out then.
    feed.write_to(Vec::with_capacity(1024 + 700 * events.len())).unwrap_or_default()
}

fn link(rel: &str, href: String) -> Link {
    Link { rel: rel.to_owned(), href, ..Link::default() }
}

fn author() -> Person {
    Person { name: AUTHOR.to_owned(), ..Person::default() }
}

fn datetime(millis: i64) -> FixedDateTime {
    chrono::DateTime::from_timestamp_millis(millis).unwrap_or_default().fixed_offset()
}

fn entry(links: &Links, event: &Event) -> Entry {
    let contact_url = links.contact(event.contact_id);
    Entry {
        id: format!("urn:contacts:feed:event:{}", event.id),
        title: Text::plain(event.data.kind().as_str()),
        updated: datetime(event.occurred_at),
        authors: vec![author()],
        links: vec![link("related", contact_url.clone())],
        content: Some(Content {
            content_type: Some("application/json".to_owned()),
            value: Some(event_json(event, contact_url)),
            ..Content::default()
        }),
        ..Entry::default()
    }
}

/// The event JSON consumers read from `<content>`: `{id, type, timestamp, sequence, payload}`,
/// `timestamp` in epoch milliseconds.
#[derive(Serialize)]
struct EventJson<'a> {
    id: Uuid,
    #[serde(rename = "type")]
    kind: &'static str,
    timestamp: i64,
    sequence: i64,
    payload: Payload<'a>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Payload<'a> {
    Created {
        id: String,
        firstname: &'a str,
        lastname: &'a str,
        email: &'a str,
        #[serde(rename = "self")]
        self_url: String,
    },
    Updated {
        id: String,
        updates: &'a Updates,
        contact: String,
    },
    Deleted {
        id: String,
        contact: String,
    },
}

pub fn event_json(event: &Event, contact_url: String) -> String {
    let id = event.contact_id.to_string();
    let payload = match &event.data {
        EventData::Created { firstname, lastname, email } => {
            Payload::Created { id, firstname, lastname, email, self_url: contact_url }
        }
        EventData::Updated(updates) => Payload::Updated { id, updates, contact: contact_url },
        EventData::Deleted => Payload::Deleted { id, contact: contact_url },
    };
    let json = EventJson {
        id: event.id,
        kind: event.data.kind().as_str(),
        timestamp: event.occurred_at,
        sequence: event.sequence,
        payload,
    };
    serde_json::to_string(&json).unwrap_or_else(|_| "{}".to_owned())
}
