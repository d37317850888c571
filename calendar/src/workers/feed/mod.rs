//! The feed follower: keeps the users replica in step with contacts' Atom feed.
//!
//! One step: GET the subscription document (conditionally, long-polling when the server
//! supports it); if it changed, walk `prev-archive` links back until a document reaches the
//! checkpoint (the event after its sequence, or for feeds without sequences its entry id), or
//! the oldest archive, then apply the events forward, oldest first, each batch in one
//! transaction with the checkpoint. The walk keeps at most `FEED_WALK_MEMORY_BYTES` of entries;
//! pages whose entries it let go are fetched again when their turn comes.
//!
//! A gap, a cycle or a malformed document is an error: logged, counted, retried with backoff;
//! the replica is never changed by a document that was not understood. An entry that cannot be
//! applied is retried up to `FEED_ENTRY_MAX_ATTEMPTS` times, then parked (see [`park`]) in the
//! transaction that moves the checkpoint past it, so the entries after it still arrive.

pub mod apply;
pub mod document;
pub mod fetch;
mod lag;
pub mod origins;
mod park;
pub mod recovery;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use service_kit::db::now_millis;
use tokio_util::sync::CancellationToken;
use url::Url;

use self::apply::{Applied, ApplyError, Contact, Refusal};
use self::document::{DocumentError, FeedEvent, Order, Page};
use self::fetch::{Conditions, FetchError, Fetched, Fetcher};
use self::lag::Lag;
pub use self::origins::{Origins, on_origin_of};
use self::park::advance;
use self::recovery::Recovery;
use crate::config::FeedSettings;
use crate::metrics::{FEED_ENTRIES_PARKED, FEED_ERRORS, FEED_EVENTS_PROCESSED, FEED_LAST_SUCCESS};
use crate::store::{Checkpoint, Store, WriteTx};

const ATOM: &str = "application/atom+xml, application/xml;q=0.9";

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("fetching {url}: {source}")]
    Fetch { url: Url, source: FetchError },
    #[error("reading {url}: {source}")]
    Document { url: Url, source: DocumentError },
    #[error("entry {entry_id} (attempt {attempt} of {max}): {refusal}")]
    Entry { entry_id: String, attempt: u32, max: u32, refusal: Refusal },
    #[error("gap in the feed: {0}")]
    Gap(String),
    #[error("archive links form a cycle at {0}")]
    Cycle(Url),
    #[error("more than {0} archive pages to walk")]
    TooManyPages(usize),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl FeedError {
    /// The `kind` label of `feed_errors_total`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Fetch { source, .. } => source.kind(),
            Self::Document { source, .. } => source.kind(),
            Self::Entry { refusal, .. } => refusal.kind,
            Self::Gap(_) => "gap",
            Self::Cycle(_) => "cycle",
            Self::TooManyPages(_) => "too_many_pages",
            Self::Database(_) => "database",
        }
    }

    fn is_cancelled(&self) -> bool {
        matches!(self, Self::Fetch { source: FetchError::Cancelled, .. })
    }
}

/// What one step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// New events were applied or parked (how many).
    Applied(usize),
    /// The document changed but held nothing new for us (or is the one applied last time).
    Unchanged,
    /// `304`; `held` when the server long-polled.
    NotModified { held: bool },
}

/// A page during a catch-up walk: its URL, and its events while they are kept in memory.
#[derive(Debug)]
struct Walked {
    url: Url,
    events: Option<Vec<FeedEvent>>,
    weight: usize,
}

#[derive(Debug)]
pub struct Follower {
    store: Store,
    settings: FeedSettings,
    fetcher: Fetcher,
    origins: Arc<Origins>,
    /// ETag of the subscription document, once everything in it is applied.
    etag: Option<String>,
    /// A hash of the subscription document applied in full last, for feeds without ETags.
    applied_body: Option<u64>,
    /// Failed attempts at entries not applied yet, by entry id.
    attempts: HashMap<String, u32>,
    lag: Lag,
}

impl Follower {
    pub fn new(store: Store, settings: FeedSettings) -> anyhow::Result<Self> {
        let origins = Arc::new(Origins::new(settings.url.clone(), settings.allowed_origins.clone()));
        let fetcher = Fetcher::new(
            settings.max_bytes,
            settings.fetch_timeout,
            origins.clone(),
            settings.token.clone(),
        )?;
        Ok(Self {
            store,
            settings,
            fetcher,
            origins,
            etag: None,
            applied_body: None,
            attempts: HashMap::new(),
            lag: Lag::new(now_millis()),
        })
    }

    /// The operator's way to retry parked entries, sharing this follower's origins.
    pub fn recovery(&self) -> Recovery {
        Recovery::new(self.store.clone(), self.fetcher.clone(), self.settings.contact_max_bytes)
    }

    /// One poll of the feed and whatever catch-up it calls for.
    pub async fn step(&mut self, shutdown: &CancellationToken) -> Result<Step, FeedError> {
        let wait =
            (self.etag.is_some() && self.settings.long_poll_secs > 0).then_some(self.settings.long_poll_secs);
        let conditions = Conditions {
            if_none_match: self.etag.as_deref(),
            wait_secs: wait,
            accept: ATOM,
            ..Conditions::default()
        };
        let feed_url = self.settings.url.clone();
        let fetched = self
            .fetcher
            .get(&feed_url, conditions, shutdown)
            .await
            .map_err(|source| FeedError::Fetch { url: feed_url.clone(), source })?;
        let current = match fetched {
            Fetched::NotModified { held } => return Ok(Step::NotModified { held }),
            Fetched::Gone => {
                let source = FetchError::Status(reqwest::StatusCode::NOT_FOUND);
                return Err(FeedError::Fetch { url: feed_url, source });
            }
            Fetched::Document(doc) => doc,
        };
        let hash = park::fnv1a(&current.body);
        if current.etag.is_none() && self.applied_body == Some(hash) {
            return Ok(Step::Unchanged);
        }
        let page = document::parse(&current.url, &current.body, current.content_type.as_deref())
            .map_err(|source| FeedError::Document { url: current.url.clone(), source })?;
        drop(current.body);
        self.origins.name_self(page.self_link.as_ref());
        let start = self.store.checkpoint().await?;
        let walked = self.walk_back(page, &start, shutdown).await?;
        let mut applied = 0;
        let mut expected = start.applied;
        for page in walked.into_iter().rev() {
            let events = match page.events {
                Some(events) => events,
                None => self.fetch_page(&page.url, shutdown).await?.events,
            };
            match self.apply_events(&events, &mut expected, shutdown).await? {
                Some(n) => applied += n,
                // Another replica moved the checkpoint: start again from where it stands.
                None => return Ok(if applied > 0 { Step::Applied(applied) } else { Step::Unchanged }),
            }
        }
        self.etag = current.etag;
        self.applied_body = Some(hash);
        Ok(if applied > 0 { Step::Applied(applied) } else { Step::Unchanged })
    }

    /// From the subscription document back through `prev-archive` until a document reaches the
    /// checkpoint (or the oldest archive). Newest first.
    async fn walk_back(
        &self,
        current: Page,
        from: &Checkpoint,
        shutdown: &CancellationToken,
    ) -> Result<Vec<Walked>, FeedError> {
        let wanted = from.sequence + 1;
        let reaches = |page: &Page| match page.order {
            Order::Sequence => page.min_sequence().is_some_and(|min| min <= wanted),
            Order::Position => !from.entry_id.is_empty() && page.position_of(&from.entry_id).is_some(),
        };
        let mut visited = HashSet::from([current.url.clone()]);
        let mut reached = reaches(&current);
        let mut prev = current.prev_archive.clone();
        let mut oldest = (current.order, current.min_sequence());
        let mut pages = Vec::new();
        let mut kept = 0;
        self.keep(&mut pages, &mut kept, current);
        while !reached {
            let Some(url) = prev.take() else {
                match oldest {
                    (Order::Sequence, Some(min)) if min > wanted => {
                        return Err(FeedError::Gap(format!(
                            "the oldest document starts at sequence {min}, but the next to apply is {wanted}"
                        )));
                    }
                    (Order::Position, _) if !from.entry_id.is_empty() => tracing::warn!(
                        entry = %from.entry_id,
                        "the last applied entry is no longer in the feed; applying everything it holds"
                    ),
                    _ => {}
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
            reached = reaches(&page);
            if !page.events.is_empty() {
                oldest = (page.order, page.min_sequence());
            }
            prev = page.prev_archive.clone();
            self.keep(&mut pages, &mut kept, page);
        }
        Ok(pages)
    }

    /// Adds a walked page, letting go of the entries of the earliest walked pages (applied last)
    /// while more than `FEED_WALK_MEMORY_BYTES` are kept.
    fn keep(&self, pages: &mut Vec<Walked>, kept: &mut usize, page: Page) {
        let weight = page.weight();
        *kept += weight;
        pages.push(Walked { url: page.url, events: Some(page.events), weight });
        let newest = pages.len() - 1;
        for walked in &mut pages[..newest] {
            if *kept <= self.settings.walk_memory_bytes {
                break;
            }
            if walked.events.take().is_some() {
                *kept -= walked.weight;
            }
        }
    }

    async fn fetch_page(&self, url: &Url, shutdown: &CancellationToken) -> Result<Page, FeedError> {
        let fetch_error = |source| FeedError::Fetch { url: url.clone(), source };
        let url = &self.origins.resolve(url).map_err(|f| fetch_error(FetchError::Forbidden(f)))?;
        let conditions = Conditions { accept: ATOM, ..Conditions::default() };
        match self.fetcher.get(url, conditions, shutdown).await {
            Ok(Fetched::Document(doc)) => document::parse(&doc.url, &doc.body, doc.content_type.as_deref())
                .map_err(|source| FeedError::Document { url: doc.url.clone(), source }),
            Ok(_) => Err(fetch_error(FetchError::Status(reqwest::StatusCode::NOT_MODIFIED))),
            Err(source) => Err(fetch_error(source)),
        }
    }

    /// Whether `event` comes after `position`: by sequence where the feed has them (a gap is an
    /// error), else it does (the caller skips what precedes the checkpoint's entry).
    fn is_next(event: &FeedEvent, position: &Checkpoint) -> Result<bool, FeedError> {
        match event.sequence {
            Some(sequence) if sequence <= position.sequence => Ok(false),
            Some(sequence) if sequence != position.sequence + 1 => Err(FeedError::Gap(format!(
                "expected sequence {} but the feed continues with {sequence}",
                position.sequence + 1
            ))),
            _ => Ok(true),
        }
    }

    /// Applies the events after the checkpoint, in order, in as few transactions as possible;
    /// progress made before an error is kept. Returns how many were applied or parked, or
    /// `None` when another replica moved the checkpoint of a feed without sequences.
    async fn apply_events(
        &mut self,
        events: &[FeedEvent],
        expected: &mut i64,
        shutdown: &CancellationToken,
    ) -> Result<Option<usize>, FeedError> {
        let numbered = events.first().is_some_and(|e| e.sequence.is_some());
        let mut done = 0;
        let mut next = 0;
        while next < events.len() {
            let mut tx = self.store.begin().await?;
            let mut position = tx.checkpoint_for_update().await?;
            if !numbered {
                if position.applied != *expected {
                    return Ok(None);
                }
                if let Some(at) = events.iter().position(|e| e.entry_id == position.entry_id) {
                    next = next.max(at + 1);
                }
            }
            let mut counted: Vec<&'static str> = Vec::new();
            let mut parked: Vec<&'static str> = Vec::new();
            let mut outcome: Result<Option<Url>, FeedError> = Ok(None);
            while next < events.len() {
                let event = &events[next];
                match Self::is_next(event, &position) {
                    Ok(false) => {
                        next += 1;
                        continue;
                    }
                    Ok(true) => {}
                    Err(gap) => {
                        outcome = Err(gap);
                        break;
                    }
                }
                match apply::apply(&mut tx, event, None, &self.origins).await {
                    Ok(Applied::NeedsContact(url)) => {
                        outcome = Ok(Some(url));
                        break;
                    }
                    Ok(Applied::Done | Applied::Skipped) => {
                        self.attempts.remove(&event.entry_id);
                        advance(&mut position, event);
                        counted.push(apply::type_label(&event.kind));
                        next += 1;
                    }
                    Err(ApplyError::Database(e)) => {
                        outcome = Err(e.into());
                        break;
                    }
                    Err(ApplyError::Refused(refusal)) => match self.failed_attempt(event, refusal) {
                        Ok(attempts) => {
                            park::park(&mut tx, event, &attempts, &mut position).await?;
                            parked.push(apply::type_label(&event.kind));
                            next += 1;
                        }
                        Err(e) => {
                            outcome = Err(e);
                            break;
                        }
                    },
                }
            }
            tx.save_checkpoint(&position).await?;
            tx.commit().await?;
            *expected = position.applied;
            done += counted.len() + parked.len();
            count(&counted, &parked);
            self.lag.pending(events.get(next).map(|e| e.timestamp), now_millis());
            self.lag.publish(now_millis(), &position);
            if let Some(url) = outcome? {
                let event = &events[next];
                match self.apply_fetched(event, &url, *expected, shutdown).await? {
                    Some(n) => {
                        done += n;
                        *expected += 1;
                    }
                    None => return Ok(None),
                }
                next += 1;
            }
        }
        Ok(Some(done))
    }

    /// Fetches the contact for `event` (a `contact-updated` the replica cannot apply alone) and
    /// applies the event with it; a failure is an attempt like any other. Returns 1, or `None`
    /// when another replica applied the event meanwhile.
    async fn apply_fetched(
        &mut self,
        event: &FeedEvent,
        url: &Url,
        expected: i64,
        shutdown: &CancellationToken,
    ) -> Result<Option<usize>, FeedError> {
        let fetched = recovery::fetch_contact(&self.fetcher, self.settings.contact_max_bytes, url, shutdown)
            .await
            .map_err(|source| FeedError::Fetch { url: url.clone(), source })?;
        let mut tx = self.store.begin().await?;
        let mut position = tx.checkpoint_for_update().await?;
        if event.sequence.is_some() {
            if !Self::is_next(event, &position)? {
                return Ok(None);
            }
        } else if position.applied != expected {
            return Ok(None);
        }
        let result = match fetched {
            Ok(contact) => self.apply_with(&mut tx, event, contact).await?,
            Err(refusal) => Err(refusal),
        };
        let kind = apply::type_label(&event.kind);
        match result {
            Ok(()) => {
                self.attempts.remove(&event.entry_id);
                advance(&mut position, event);
                tx.save_checkpoint(&position).await?;
                tx.commit().await?;
                count(&[kind], &[]);
            }
            Err(refusal) => {
                let attempts = self.failed_attempt(event, refusal)?;
                park::park(&mut tx, event, &attempts, &mut position).await?;
                tx.save_checkpoint(&position).await?;
                tx.commit().await?;
                count(&[], &[kind]);
            }
        }
        self.lag.publish(now_millis(), &position);
        Ok(Some(1))
    }

    async fn apply_with(
        &self,
        tx: &mut WriteTx,
        event: &FeedEvent,
        contact: Option<Contact>,
    ) -> Result<Result<(), Refusal>, FeedError> {
        match apply::apply(tx, event, Some(contact), &self.origins).await {
            Ok(_) => Ok(Ok(())),
            Err(ApplyError::Refused(refusal)) => Ok(Err(refusal)),
            Err(ApplyError::Database(e)) => Err(e.into()),
        }
    }

    /// Counts a failed attempt at `event`: `Ok` with what to park once it has had its attempts,
    /// else the error for this step.
    fn failed_attempt(&mut self, event: &FeedEvent, refusal: Refusal) -> Result<park::Attempts, FeedError> {
        let max = self.settings.entry_max_attempts;
        let attempt = self.attempts.entry(event.entry_id.clone()).or_insert(0);
        *attempt += 1;
        let attempt = *attempt;
        if attempt >= max {
            self.attempts.remove(&event.entry_id);
            tracing::warn!(entry = %event.entry_id, kind = %event.kind, reason = %refusal, attempts = attempt, "parking a feed entry that cannot be applied");
            return Ok(park::Attempts { refusal, attempts: attempt });
        }
        Err(FeedError::Entry { entry_id: event.entry_id.clone(), attempt, max, refusal })
    }

    /// Follows the feed until `shutdown` fires. Errors never end the loop: they are logged,
    /// counted, and retried with exponential backoff and jitter.
    pub async fn run(mut self, shutdown: CancellationToken) -> anyhow::Result<()> {
        tracing::info!(feed = %self.settings.url, "following the contacts feed");
        if let Ok(checkpoint) = self.store.checkpoint().await {
            self.lag.publish(now_millis(), &checkpoint);
        }
        let mut delays = self.settings.retry.delays();
        while !shutdown.is_cancelled() {
            let conditional = self.etag.is_some();
            let pause = match self.step(&shutdown).await {
                Ok(step) => {
                    delays = self.settings.retry.delays();
                    let now = now_millis();
                    metrics::gauge!(FEED_LAST_SUCCESS).set(now as f64 / 1000.0);
                    self.lag.caught_up(now);
                    self.publish_lag().await;
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
                    self.applied_body = None;
                    self.lag.failed();
                    self.publish_lag().await;
                    let delay = delays.next().unwrap_or(self.settings.retry.max);
                    tracing::warn!(error = %e, kind = e.kind(), retry_in_ms = delay.as_millis() as u64, "feed step failed");
                    delay
                }
            };
            // Waiting: the lag keeps growing while behind, so it is published every second.
            let until = tokio::time::Instant::now() + pause;
            while tokio::time::Instant::now() < until {
                let tick = (until - tokio::time::Instant::now()).min(Duration::from_secs(1));
                tokio::select! {
                    () = shutdown.cancelled() => return Ok(()),
                    () = tokio::time::sleep(tick) => {}
                }
                self.lag.publish_seconds(now_millis());
            }
        }
        Ok(())
    }

    async fn publish_lag(&self) {
        match self.store.checkpoint().await {
            Ok(checkpoint) => self.lag.publish(now_millis(), &checkpoint),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the feed checkpoint for the metrics");
                self.lag.publish_seconds(now_millis());
            }
        }
    }
}

fn count(applied: &[&'static str], parked: &[&'static str]) {
    for kind in applied {
        metrics::counter!(FEED_EVENTS_PROCESSED, "type" => *kind).increment(1);
    }
    for kind in parked {
        metrics::counter!(FEED_ENTRIES_PARKED, "type" => *kind).increment(1);
    }
}
