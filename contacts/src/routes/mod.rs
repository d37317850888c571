//! HTTP: one file per resource with its own router (the contacts and the feed), the HTML forms,
//! and the state they share; [`router`] merges them with the OpenAPI document of the JSON ones.

mod contacts;
mod feed;
mod listing;
mod pages;
mod state;

use axum::Router;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

pub use contacts::{ContactBody, ContactList, ContactPatch, NewContactBody};
pub use state::{AppState, MAX_WAIT, Shared};

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
        .merge(contacts::router())
        .merge(feed::router())
        .split_for_parts();
    (api.merge(pages::router()).with_state(state), openapi)
}
