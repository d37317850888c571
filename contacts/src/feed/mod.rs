//! The Atom feed of contact events: the subscription document (`/feed`) and RFC 5005 archive
//! pages, with their ETags and a cache of rendered documents.
//!
//! Archive page `n` (1 = oldest) holds sequences `(n-1)*P+1 ..= n*P` and exists once full; the
//! subscription document holds the newest `P` events (`max(1, head-P+1) ..= head`), so it is
//! never empty while events exist and a reader that polls only it misses nothing between polls
//! of fewer than `P` events, even across a page boundary (it overlaps the newest archive page
//! until the next page starts). Both are functions of the newest committed sequence alone, so
//! the ETag is derived from it without reading the database, and a rendered document stays
//! valid until the sequence moves (archives: forever).

pub mod atom;
pub mod head;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use axum::http::HeaderValue;
use bytes::Bytes;

use crate::domain::Event;
use crate::links::Links;
use crate::store::Store;
use head::FeedHead;

/// Rendered archive pages kept in memory (about 15 KB each at the default page size).
const ARCHIVE_CACHE_CAPACITY: usize = 256;

/// A rendered feed document.
#[derive(Debug)]
pub struct Document {
    pub etag: HeaderValue,
    pub body: Bytes,
    /// Whether the document can never change (an archive page whose successor is full too).
    pub immutable: bool,
}

/// The feed: renders and caches documents. Cloning shares it.
#[derive(Debug, Clone)]
pub struct Feed(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    store: Store,
    links: Links,
    page_size: u64,
    /// The subscription document for the sequence it was rendered at.
    current: RwLock<Option<(i64, Arc<Document>)>>,
    /// One renderer at a time, so a burst of requests after a write renders once.
    render: tokio::sync::Mutex<()>,
    archives: Mutex<HashMap<(u64, bool), Arc<Document>>>,
}

impl Feed {
    pub fn new(store: Store, links: Links, page_size: u32) -> Self {
        Self(Arc::new(Inner {
            store,
            links,
            page_size: u64::from(page_size.max(1)),
            current: RwLock::new(None),
            render: tokio::sync::Mutex::new(()),
            archives: Mutex::new(HashMap::new()),
        }))
    }

    pub fn head(&self) -> &FeedHead {
        self.0.store.head()
    }

    pub fn page_size(&self) -> u64 {
        self.0.page_size
    }

    /// How many archive pages are full at `sequence`.
    pub fn full_pages(&self, sequence: i64) -> u64 {
        u64::try_from(sequence).unwrap_or(0) / self.0.page_size
    }

    /// The ETag of the subscription document at `sequence`.
    pub fn current_etag(&self, sequence: i64) -> String {
        format!("\"feed-{}-{sequence}\"", self.0.page_size)
    }

    /// The sequence named by an ETag of ours for the subscription document.
    fn sequence_in_etag(&self, etag: &str) -> Option<i64> {
        let prefix = format!("\"feed-{}-", self.0.page_size);
        etag.trim()
            .strip_prefix("W/")
            .unwrap_or(etag.trim())
            .strip_prefix(&prefix)?
            .strip_suffix('"')?
            .parse()
            .ok()
    }

    /// Whether archive `page` exists at `sequence`, and if so whether its successor does too.
    pub fn archive_state(&self, page: u64, sequence: i64) -> Option<bool> {
        let full = self.full_pages(sequence);
        (page >= 1 && page <= full).then_some(page < full)
    }

    pub fn archive_etag(&self, page: u64, has_next: bool) -> String {
        let open = if has_next { "" } else { "-open" };
        format!("\"archive-{}-{page}{open}\"", self.0.page_size)
    }

    /// When a client shows an ETag for a sequence beyond ours, another replica committed and its
    /// notification has not arrived yet: read the head from the database instead of answering
    /// with an older document.
    pub async fn catch_up(&self, if_none_match: &str) -> Result<(), sqlx::Error> {
        let ours = self.head().get().sequence;
        let newest_named = if_none_match.split(',').filter_map(|t| self.sequence_in_etag(t)).max();
        if newest_named.is_some_and(|n| n > ours) {
            let head = self.0.store.read_head().await?;
            self.head().advance(head);
        }
        Ok(())
    }

    /// The subscription document at `sequence` (the in-process head or older).
    pub async fn current(&self, sequence: i64) -> Result<Arc<Document>, sqlx::Error> {
        if let Some(doc) = self.cached_current(sequence) {
            return Ok(doc);
        }
        let _rendering = self.0.render.lock().await;
        if let Some(doc) = self.cached_current(sequence) {
            return Ok(doc);
        }
        let full = self.full_pages(sequence);
        let oldest = (sequence - self.0.page_size as i64 + 1).max(1);
        let events = self.0.store.events(oldest, sequence).await?;
        let updated = events.first().map(|e| e.occurred_at);
        let body = atom::render(&self.0.links, atom::Kind::Current { full_pages: full }, &events, updated);
        let doc = Arc::new(Document {
            etag: header_value(&self.current_etag(sequence)),
            body: Bytes::from(body),
            immutable: false,
        });
        let mut current = self.0.current.write().unwrap_or_else(|e| e.into_inner());
        if current.as_ref().is_none_or(|(s, _)| *s < sequence) {
            *current = Some((sequence, doc.clone()));
        }
        Ok(doc)
    }

    fn cached_current(&self, sequence: i64) -> Option<Arc<Document>> {
        let current = self.0.current.read().unwrap_or_else(|e| e.into_inner());
        current.as_ref().filter(|(s, _)| *s == sequence).map(|(_, doc)| doc.clone())
    }

    /// The events of a document, newest first, for the HTML view: the subscription document's
    /// (`page` is `None`) or archive page `page`'s (`None` when that page is not full yet).
    pub async fn events(&self, page: Option<u64>, sequence: i64) -> Result<Option<Vec<Event>>, sqlx::Error> {
        let size = self.0.page_size;
        let (first, last) = match page {
            None => ((sequence - size as i64 + 1).max(1), sequence),
            Some(page) if self.archive_state(page, sequence).is_some() => {
                (((page - 1) * size + 1) as i64, (page * size) as i64)
            }
            Some(_) => return Ok(None),
        };
        Ok(Some(self.0.store.events(first, last).await?))
    }

    /// Archive page `page` as of `sequence`; `None` when it is not full yet.
    pub async fn archive(&self, page: u64, sequence: i64) -> Result<Option<Arc<Document>>, sqlx::Error> {
        let Some(has_next) = self.archive_state(page, sequence) else { return Ok(None) };
        let key = (page, has_next);
        if let Some(doc) = self.0.archives.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return Ok(Some(doc.clone()));
        }
        let size = self.0.page_size;
        let (first, last) = (((page - 1) * size + 1) as i64, (page * size) as i64);
        let events = self.0.store.events(first, last).await?;
        let updated = events.first().map(|e| e.occurred_at);
        let body = atom::render(&self.0.links, atom::Kind::Archive { page, has_next }, &events, updated);
        let doc = Arc::new(Document {
            etag: header_value(&self.archive_etag(page, has_next)),
            body: Bytes::from(body),
            immutable: has_next,
        });
        let mut archives = self.0.archives.lock().unwrap_or_else(|e| e.into_inner());
        if archives.len() >= ARCHIVE_CACHE_CAPACITY
            && let Some(evict) = archives.keys().next().copied()
        {
            archives.remove(&evict);
        }
        archives.insert(key, doc.clone());
        Ok(Some(doc))
    }
}

/// Our ETags are ASCII by construction.
fn header_value(etag: &str) -> HeaderValue {
    HeaderValue::from_str(etag).unwrap_or_else(|_| HeaderValue::from_static("\"invalid\""))
}

/// Whether an `If-None-Match` value matches `etag` (weak comparison, as RFC 9110 asks for GET).
pub fn if_none_match_matches(if_none_match: &str, etag: &str) -> bool {
    if_none_match
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_lists_and_weak_tags_match() {
        assert!(if_none_match_matches("\"a\"", "\"a\""));
        assert!(if_none_match_matches("\"x\", W/\"a\"", "\"a\""));
        assert!(if_none_match_matches("*", "\"a\""));
        assert!(!if_none_match_matches("\"ab\"", "\"a\""));
        assert!(!if_none_match_matches("", "\"a\""));
    }
}
