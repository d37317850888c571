//! What every handler gets: the store, the feed, the links, the page frame, the shutdown signal.

use std::sync::Arc;
use std::time::Duration;

use service_kit::config::AppUrls;
use service_kit::html::{NavLink, Site};
use tokio_util::sync::CancellationToken;

use crate::feed::Feed;
use crate::links::Links;
use crate::store::Store;

/// Upper bound of `Prefer: wait=N`.
pub const MAX_WAIT: Duration = Duration::from_secs(30);

/// What handlers share. Cloning shares it.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Shared>);

#[derive(Debug)]
pub struct Shared {
    pub store: Store,
    pub feed: Feed,
    pub links: Links,
    pub site: Site,
    /// Longest a feed request may be held (`Prefer: wait`): 30 s, less within the request timeout.
    pub max_wait: Duration,
    /// Cancelled on shutdown; held feed requests end at once.
    pub shutdown: CancellationToken,
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    pub fn new(
        store: Store,
        feed: Feed,
        links: Links,
        request_timeout: Duration,
        shutdown: CancellationToken,
        apps: AppUrls,
    ) -> Self {
        let site = Site {
            name: "contacts",
            home: "/".into(),
            nav: vec![
                NavLink::new("/", "Contacts"),
                NavLink::new("/contacts/new", "New contact"),
                NavLink::new("/feed", "Event feed"),
            ],
            apps,
        };
        // Leave the held request a second to be answered before the request timeout cuts it.
        let max_wait = MAX_WAIT.min(request_timeout.saturating_sub(Duration::from_secs(1)));
        Self(Arc::new(Shared { store, feed, links, site, max_wait, shutdown }))
    }
}
