//! HTTP routes: the JSON API (bearer token) and the operator's HTML pages (HTTP Basic).
//!
//! One file per resource, each with its own `router()`: [`notifications`] (the jobs: JSON, and
//! a page for browsers from the same URLs, each representation behind its own credentials) and
//! [`mailbox`] (HTML only). [`listing`] is the query both listings take; [`state`] what every
//! handler shares. Pages are rendered by [`crate::templates`], links by [`crate::links`].

mod listing;
mod mailbox;
mod notifications;
mod private;
mod state;

use axum::Router;
use axum::response::Redirect;
use axum::routing::get;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};

pub use notifications::{JobList, JobView};
pub use state::AppState;

/// The routes with their state, and the OpenAPI document generated from the same handlers.
pub fn router(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    let (api, mut openapi) = notifications::router().split_for_parts();
    openapi.info.title = "notifications".into();
    openapi.info.description =
        Some("Turns authenticated HTTP jobs into e-mails, through a durable job queue.".into());
    openapi.info.version = env!("CARGO_PKG_VERSION").into();
    // A document built without `#[openapi(info(..))]` starts from the OpenAPI library's own
    // package metadata, its author included; this service names no contact.
    openapi.info.contact = None;
    openapi
        .components
        .get_or_insert_with(Default::default)
        .add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    let pages =
        Router::new().route("/", get(|| async { Redirect::to("/notifications") })).merge(mailbox::router());
    (api.merge(pages).with_state(state), openapi)
}
