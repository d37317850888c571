//! The feed follower: keeps the users replica in step with contacts' Atom feed.
//!
//! One step: GET the subscription document (conditionally, long-polling when the server
//! supports it); if it changed, walk `prev-archive` links back until a document reaches the
//! event after the checkpoint (or the oldest archive), then apply the events forward in sequence
//! order, each batch in one transaction with the checkpoint. A gap, a cycle or a malformed
//! document is an error: logged, counted, retried with backoff; the replica is never changed by
//! a document that was not understood.

pub mod apply;
pub mod document;
pub mod fetch;

use std::collections::HashSet;
use std::time::Duration;

use service_kit::db::now_millis;
use tokio_util::sync::CancellationToken;
use url::Url;

use self::apply::{Applied, ApplyError, Contact};
use self::document::{DocumentError, FeedEvent, Page};
use self::fetch::{Conditions, FetchError, Fetched, Fetcher};
use crate::config::FeedSettings;
use crate::metrics::{
    FEED_CHECKPOINT, FEED_CONSUMER_LAG, FEED_ERRORS, FEED_EVENTS_PROCESSED, FEED_LAST_SUCCESS,
};
use crate::store::{Checkpoint, Store};

const ATOM: &str = "application/atom+xml, application/xml;q=0.9";

/// How many walked pages keep their parsed events in memory during a catch-up; older ones are
/// fetched again (archives are immutable) when their turn comes.
const PAGES_KEPT: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("fetching {url}: {source}")]
    Fetch { url: Url, source: FetchError },
    #[error("reading {url}: {source}")]
    Document { url: Url, source: DocumentError },
    #[error("{0}")]
    Malformed(#[from] apply::Malformed),
    #[error("gap in the feed: {0}")]
    Gap(String),
    #[error("archive links form a cycle at {0}")]
    Cycle(Url),
    #[error("more than {0} archive pages to walk")]
    TooManyPages(usize),
    #[error("fetching contact {url}: {source}")]
    Contact { url: Url, source: Box<FeedError> },
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl FeedError {
    /// The `kind` label of `feed_errors_total`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Fetch { source, .. } => source.kind(),
            Self::Document { source, .. } => source.kind(),
            Self::Malformed(_) => "malformed_entry",
            Self::Gap(_) => "gap",
            Self::Cycle(_) => "cycle",
            Self::TooManyPages(_) => "too_many_pages",
            Self::Contact { .. } => "contact_fetch",
            Self::Database(_) => "database",
        }
    }

    fn is_cancelled(&self) -> bool {
        matches!(self, Self::Fetch { source: FetchError::Cancelled, .. })
    }
}

impl From<ApplyError> for FeedError {
    fn from(e: ApplyError) -> Self {
        match e {
            ApplyError::Malformed(m) => Self::Malformed(m),
            ApplyError::Database(d) => Self::Database(d),
        }
    }
}

/// `link` (an archive page or a contact, as the feed names it) on the scheme, host and port of
/// `feed` (`CONTACTS_FEED`). contacts builds its links from its `PUBLIC_URL`, the address users
/// reach it at, which calendar may not reach (inside a cluster it calls contacts' Service, and
/// the network policies let it go nowhere else); the path and query stay as they are.
pub fn on_origin_of(feed: &Url, link: &Url) -> Url {
    let mut local = link.clone();
    if local.origin() != feed.origin() {
        // Infallible between http and https URLs, which are the only links the parser keeps.
        let _ = local.set_scheme(feed.scheme());
        let _ = local.set_host(feed.host_str());
        let _ = local.set_port(feed.port());
    }
    local
}

/// What one step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// New events were applied (how many).
    Applied(usize),
    /// The document changed but held nothing new for us.
    Unchanged,
    /// `304`; `held` when the server long-polled.
    NotModified { held: bool },
}

/// A page during a catch-up walk: its URL, and its events while they are kept in memory.
#[derive(Debug)]
struct Walked {
    url: Url,
    events: Option<Vec<FeedEvent>>,
}

#[derive(Debug)]
pub struct Follower {
    store: Store,
    settings: FeedSettings,
    fetcher: Fetcher,
    /// ETag of the subscription document, once everything in it is applied.
    etag: Option<String>,
}

impl Follower {
    pub fn new(store: Store, settings: FeedSettings) -> anyhow::Result<Self> {
        let fetcher = Fetcher::new(settings.max_bytes, settings.fetch_timeout)?;
        Ok(Self { store, settings, fetcher, etag: None })
    }

    /// One poll of the feed and whatever catch-up it calls for.
    pub async fn step(&mut self, shutdown: &CancellationToken) -> Result<Step, FeedError> {
        let wait =
            (self.etag.is_some() && self.settings.long_poll_secs > 0).then_some(self.settings.long_poll_secs);
        let conditions = Conditions {
            if_none_match: self.etag.as_deref(),
            wait_secs: wait,
            accept: ATOM,
            gone_is_ok: false,
        };
        let fetched = self
            .fetcher
            .get(&self.settings.url, conditions, shutdown)
            .await
            .map_err(|source| FeedError::Fetch { url: self.settings.url.clone(), source })?;
        let current = match fetched {
            Fetched::NotModified { held } => return Ok(Step::NotModified { held }),
            Fetched::Gone => {
                return Err(FeedError::Fetch {
                    url: self.settings.url.clone(),
                    source: FetchError::Status(reqwest::StatusCode::NOT_FOUND),
                });
            }
            Fetched::Document(doc) => doc,
        };
        let page = document::parse(&current.url, &current.body)
            .map_err(|source| FeedError::Document { url: current.url.clone(), source })?;
        let start = self.store.checkpoint().await?;
        let walked = self.walk_back(page, start, shutdown).await?;
        let mut applied = 0;
        for page in walked.into_iter().rev() {
            let events = match page.events {
                Some(events) => events,
                None => self.fetch_page(&page.url, shutdown).await?.events,
            };
            applied += self.apply_events(&events, shutdown).await?;
        }
        self.etag = current.etag;
        Ok(if applied > 0 { Step::Applied(applied) } else { Step::Unchanged })
    }

    /// From the subscription document back through `prev-archive` until a document reaches the
    /// event after `from` (or the oldest archive). Newest first.
    async fn walk_back(
        &self,
        current: Page,
        from: Checkpoint,
        shutdown: &CancellationToken,
    ) -> Result<Vec<Walked>, FeedError> {
        let wanted = from.sequence + 1;
        let mut visited = HashSet::from([current.url.clone()]);
        let mut prev = current.prev_archive.clone();
        let mut reaches_back = current.min_sequence().is_some_and(|min| min <= wanted);
        let mut oldest_min = current.min_sequence();
        let mut pages = vec![Walked { url: current.url, events: Some(current.events) }];
        while !reaches_back {
            let Some(url) = prev.take() else {
                if let Some(min) = oldest_min.filter(|min| *min > wanted) {
                    return Err(FeedError::Gap(format!(
                        "the oldest document starts at sequence {min}, but the next to apply is {wanted}"
                    )));
                }
                break;
            };
            if !visited.insert(url.clone()) {
                return Err(FeedError::Cycle(url));
            }
            if pages.len() > self.settings.max_pages {
                return Err(FeedError::TooManyPages(self.settings.max_pages));
            }
            let page = self.fetch_page(&url, shutdown).await?;
            reaches_back = page.min_sequence().is_some_and(|min| min <= wanted);
            if page.min_sequence().is_some() {
                oldest_min = page.min_sequence();
            }
            prev = page.prev_archive;
            pages.push(Walked { url: page.url, events: Some(page.events) });
            if pages.len() > PAGES_KEPT {
                let index = pages.len() - PAGES_KEPT - 1;
                pages[index].events = None;
            }
        }
        Ok(pages)
    }

    async fn fetch_page(&self, url: &Url, shutdown: &CancellationToken) -> Result<Page, FeedError> {
        let url = &on_origin_of(&self.settings.url, url);
        let conditions = Conditions { accept: ATOM, ..Conditions::default() };
        match self.fetcher.get(url, conditions, shutdown).await {
            Ok(Fetched::Document(doc)) => document::parse(&doc.url, &doc.body)
                .map_err(|source| FeedError::Document { url: doc.url.clone(), source }),
            Ok(_) => Err(FeedError::Fetch {
                url: url.clone(),
                source: FetchError::Status(reqwest::StatusCode::NOT_MODIFIED),
            }),
            Err(source) => Err(FeedError::Fetch { url: url.clone(), source }),
        }
    }

    /// Applies the events after the checkpoint, in order, in as few transactions as possible;
    /// progress made before an error is kept. Returns how many were applied.
    async fn apply_events(
        &self,
        events: &[FeedEvent],
        shutdown: &CancellationToken,
    ) -> Result<usize, FeedError> {
        let mut applied = 0;
        let mut next = 0;
        while next < events.len() {
            let mut tx = self.store.begin().await?;
            let mut position = tx.checkpoint_for_update().await?;
            let mut counted: Vec<&'static str> = Vec::new();
            let mut outcome: Result<Option<Url>, FeedError> = Ok(None);
            while next < events.len() {
                let event = &events[next];
                if event.sequence <= position.sequence {
                    next += 1;
                    continue;
                }
                if event.sequence != position.sequence + 1 {
                    outcome = Err(FeedError::Gap(format!(
                        "expected sequence {} but the feed continues with {}",
                        position.sequence + 1,
                        event.sequence
                    )));
                    break;
                }
                match apply::apply(&mut tx, event, None).await {
                    Ok(Applied::NeedsContact(url)) => {
                        outcome = Ok(Some(url));
                        break;
                    }
                    Ok(Applied::Done | Applied::Skipped) => {
                        position = Checkpoint { sequence: event.sequence, event_timestamp: event.timestamp };
                        counted.push(apply::type_label(&event.kind));
                        next += 1;
                    }
                    Err(e) => {
                        outcome = Err(e.into());
                        break;
                    }
                }
            }
            tx.save_checkpoint(position).await?;
            tx.commit().await?;
            applied += counted.len();
            for kind in counted {
                metrics::counter!(FEED_EVENTS_PROCESSED, "type" => kind).increment(1);
            }
            if let Some(url) = outcome? {
                let contact = self.fetch_contact(&url, shutdown).await?;
                applied += self.apply_with_contact(&events[next], contact).await?;
                next += 1;
            }
        }
        Ok(applied)
    }

    /// Applies one `contact-updated` event with the contact fetched for it.
    async fn apply_with_contact(
        &self,
        event: &FeedEvent,
        contact: Option<Contact>,
    ) -> Result<usize, FeedError> {
        let mut tx = self.store.begin().await?;
        let position = tx.checkpoint_for_update().await?;
        if event.sequence <= position.sequence {
            return Ok(0);
        }
        if event.sequence != position.sequence + 1 {
            return Err(FeedError::Gap(format!(
                "expected sequence {} but got {}",
                position.sequence + 1,
                event.sequence
            )));
        }
        apply::apply(&mut tx, event, Some(contact)).await?;
        tx.save_checkpoint(Checkpoint { sequence: event.sequence, event_timestamp: event.timestamp }).await?;
        tx.commit().await?;
        metrics::counter!(FEED_EVENTS_PROCESSED, "type" => apply::type_label(&event.kind)).increment(1);
        Ok(1)
    }

    async fn fetch_contact(
        &self,
        url: &Url,
        shutdown: &CancellationToken,
    ) -> Result<Option<Contact>, FeedError> {
        let url = &on_origin_of(&self.settings.url, url);
        let wrap = |source: FeedError| FeedError::Contact { url: url.clone(), source: Box::new(source) };
        let conditions = Conditions { accept: "application/json", gone_is_ok: true, ..Conditions::default() };
        match self.fetcher.get(url, conditions, shutdown).await {
            Ok(Fetched::Document(doc)) => serde_json::from_slice(&doc.body).map(Some).map_err(|e| {
                wrap(FeedError::Document {
                    url: url.clone(),
                    source: DocumentError::MalformedEntry(format!("contact JSON: {e}")),
                })
            }),
            Ok(Fetched::Gone) => Ok(None),
            Ok(Fetched::NotModified { .. }) => Err(wrap(FeedError::Fetch {
                url: url.clone(),
                source: FetchError::Status(reqwest::StatusCode::NOT_MODIFIED),
            })),
            Err(FetchError::Cancelled) => {
                Err(FeedError::Fetch { url: url.clone(), source: FetchError::Cancelled })
            }
            Err(source) => Err(wrap(FeedError::Fetch { url: url.clone(), source })),
        }
    }

    /// Sets the checkpoint and lag gauges from the stored checkpoint.
    async fn update_lag(&self, caught_up: bool) {
        let checkpoint = match self.store.checkpoint().await {
            Ok(cp) => cp,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the feed checkpoint for the metrics");
                return;
            }
        };
        metrics::gauge!(FEED_CHECKPOINT).set(checkpoint.sequence as f64);
        let lag = if caught_up || checkpoint.sequence == 0 {
            0.0
        } else {
            ((now_millis() - checkpoint.event_timestamp).max(0) as f64) / 1000.0
        };
        metrics::gauge!(FEED_CONSUMER_LAG).set(lag);
    }

    /// Follows the feed until `shutdown` fires. Errors never end the loop: they are logged,
    /// counted, and retried with exponential backoff and jitter.
    pub async fn run(mut self, shutdown: CancellationToken) -> anyhow::Result<()> {
        tracing::info!(feed = %self.settings.url, "following the contacts feed");
        let mut delays = self.settings.retry.delays();
        while !shutdown.is_cancelled() {
            let conditional = self.etag.is_some();
            let pause = match self.step(&shutdown).await {
                Ok(step) => {
                    delays = self.settings.retry.delays();
                    metrics::gauge!(FEED_LAST_SUCCESS).set(now_millis() as f64 / 1000.0);
                    self.update_lag(true).await;
                    match step {
                        Step::Applied(n) => {
                            tracing::info!(events = n, "applied feed events");
                            Duration::ZERO
                        }
                        Step::NotModified { held: true } => Duration::ZERO,
                        // A first (unconditional) answer with nothing new, such as an empty feed:
                        // the next request carries its ETag and can be held, so ask at once.
                        Step::Unchanged
                            if !conditional && self.etag.is_some() && self.settings.long_poll_secs > 0 =>
                        {
                            Duration::ZERO
                        }
                        // The server does not hold requests: poll at the interval.
                        Step::NotModified { held: false } | Step::Unchanged => self.settings.poll_interval,
                    }
                }
                Err(e) if e.is_cancelled() => break,
                Err(e) => {
                    metrics::counter!(FEED_ERRORS, "kind" => e.kind()).increment(1);
                    self.etag = None;
                    self.update_lag(false).await;
                    let delay = delays.next().unwrap_or(self.settings.retry.max);
                    tracing::warn!(error = %e, kind = e.kind(), retry_in_ms = delay.as_millis() as u64, "feed step failed");
                    delay
                }
            };
            if pause > Duration::ZERO {
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(pause) => {}
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_followed_on_the_origin_of_the_feed() {
        let url = |s: &str| Url::parse(s).unwrap();
        let service = url("http://contacts:3000/feed");
        for (link, expected) in [
            ("https://contacts.example.com/feed/archive/7", "http://contacts:3000/feed/archive/7"),
            ("https://contacts.example.com:8443/contacts/1?x=y", "http://contacts:3000/contacts/1?x=y"),
            ("http://contacts:3000/feed/archive/1", "http://contacts:3000/feed/archive/1"),
        ] {
            assert_eq!(on_origin_of(&service, &url(link)).as_str(), expected, "{link}");
        }
        let public = url("https://contacts.example.com/feed");
        assert_eq!(
            on_origin_of(&public, &url("http://localhost:3000/feed/archive/2")).as_str(),
            "https://contacts.example.com/feed/archive/2"
        );
    }
}
