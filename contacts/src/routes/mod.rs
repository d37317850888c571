//! HTTP: the JSON API (documented in OpenAPI), the Atom feed and the HTML pages.

mod contacts;
mod feed;
mod pages;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use service_kit::html::{NavLink, Site};
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::feed::Feed;
use crate::links::Links;
use crate::store::Store;

pub use contacts::{ContactBody, ContactList, ContactPatch, NewContactBody};

/// What handlers share.
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
    ) -> Self {
        let site = Site {
            name: "contacts",
            home: "/".into(),
            nav: vec![
                NavLink::new("/", "Contacts"),
                NavLink::new("/contacts/new", "New contact"),
                NavLink::new("/feed", "Event feed"),
            ],
        };
        // Leave the held request a second to be answered before the request timeout cuts it.
        let max_wait = MAX_WAIT.min(request_timeout.saturating_sub(Duration::from_secs(1)));
        Self(Arc::new(Shared { store, feed, links, site, max_wait, shutdown }))
    }
}

/// Upper bound of `Prefer: wait=N`.
pub const MAX_WAIT: Duration = Duration::from_secs(30);

#[derive(OpenApi)]
#[openapi(
    info(
        title = "contacts",
        description = "Contacts kept as an event-sourced model; every change is published in an Atom feed (RFC 4287, archived per RFC 5005).",
    ),
    tags(
        (name = "contacts", description = "Create, read, update, delete and search contacts"),
        (name = "feed", description = "The Atom feed of contact events"),
    ),
    components(schemas(service_kit::error::ErrorBody)),
)]
struct ApiDoc;

/// The service's routes with `state` applied, and the OpenAPI document of the JSON ones.
pub fn router(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    let (api, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(contacts::list_contacts, contacts::create_contact))
        .routes(routes!(contacts::get_contact, contacts::update_contact, contacts::delete_contact))
        .routes(routes!(feed::current_feed))
        .routes(routes!(feed::archive_page))
        .split_for_parts();
    (api.merge(pages::router()).with_state(state), openapi)
}
