//! What every handler is given.

use service_kit::quota::Quotas;
use std::sync::Arc;

use service_kit::config::AppUrls;
use service_kit::html::{NavLink, Site};
use tokio::sync::Notify;
use url::Url;

use crate::links::Links;
use crate::store::Store;
use crate::workers::feed::recovery::Recovery;

/// Shared by every handler.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    pub links: Links,
    pub site: Arc<Site>,
    /// Wakes the outbox dispatcher after new jobs were written.
    pub dispatcher_wake: Arc<Notify>,
    /// Retries parked feed entries (the operator pages).
    pub recovery: Recovery,
    /// Invitations per organizer over the last hour (`QUOTA_INVITATIONS_PER_HOUR`).
    pub invitation_quota: Arc<Quotas>,
}

impl AppState {
    pub fn new(
        store: Store,
        public_url: Url,
        apps: AppUrls,
        dispatcher_wake: Arc<Notify>,
        recovery: Recovery,
        invitations_per_hour: u32,
    ) -> Self {
        let nav = vec![NavLink::new("/users", "Users"), NavLink::new("/feed/parked", "Parked entries")];
        let site = Site { name: "calendar", home: "/users".into(), nav, apps };
        let invitation_quota = Arc::new(Quotas::of_units(invitations_per_hour, service_kit::quota::WINDOW));
        Self {
            store,
            links: Links::new(public_url),
            site: Arc::new(site),
            dispatcher_wake,
            recovery,
            invitation_quota,
        }
    }
}
