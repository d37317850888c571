//! HTTP routes. One file per resource (`users`, `calendars`, `events`, `parked`: the feed
//! entries the follower parked, for operators) with its JSON endpoints
//! and the one handler that negotiates JSON, HTML or iCalendar for it; `forms` has the HTML
//! pages' form endpoints. What a JSON endpoint and a form both do lives in `actions`, the pages
//! both show in `html`; handlers never call each other. JSON endpoints are registered through
//! utoipa-axum's `OpenApiRouter`, so the OpenAPI document cannot drift from the router; the form
//! endpoints are plain routes (not part of the API).

mod actions;
pub mod calendars;
pub mod events;
mod forms;
mod html;
mod owners;
pub mod params;
pub mod parked;
mod state;
pub mod users;
pub mod views;

use axum::Router;
use axum::response::Redirect;
use axum::routing::get;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

pub use state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "calendar",
        description = "Calendars, events and invitations; users replicated from the contacts feed."
    ),
    components(schemas(service_kit::error::ErrorBody, crate::error::UnknownParticipantsBody))
)]
struct ApiDoc;

/// The service's routes (state applied) and its OpenAPI document.
pub fn router(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    let (api, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(users::router())
        .merge(calendars::router())
        .merge(events::router())
        .merge(parked::router())
        .split_for_parts();
    let app =
        api.merge(forms::router()).route("/", get(|| async { Redirect::to("/users") })).with_state(state);
    (app, openapi)
}
