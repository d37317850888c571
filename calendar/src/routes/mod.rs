//! HTTP routes, one module per resource. JSON endpoints are registered through utoipa-axum's
//! `OpenApiRouter`, so the OpenAPI document cannot drift from the router; HTML form endpoints
//! (the browser's way to delete or edit) are plain routes.

pub mod calendars;
pub mod events;
pub mod forms;
pub mod users;
pub mod views;

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;
use service_kit::html::{NavLink, Site};
use tokio::sync::Notify;
use url::Url;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

use crate::error::Error;
use crate::store::Store;

/// Shared by every handler.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    pub links: Links,
    pub site: Arc<Site>,
    /// Wakes the outbox dispatcher after new jobs were written.
    pub dispatcher_wake: Arc<Notify>,
}

impl AppState {
    pub fn new(store: Store, public_url: Url, dispatcher_wake: Arc<Notify>) -> Self {
        let site =
            Site { name: "calendar", home: "/users".into(), nav: vec![NavLink::new("/users", "Users")] };
        Self { store, links: Links { base: public_url }, site: Arc::new(site), dispatcher_wake }
    }
}

/// Absolute URLs of calendar's resources, built from `PUBLIC_URL` (never from `Host`).
#[derive(Debug, Clone)]
pub struct Links {
    pub base: Url,
}

impl Links {
    fn join(&self, path: &str) -> String {
        self.base.join(path).map(String::from).unwrap_or_else(|_| format!("{}{path}", self.base))
    }
    pub fn user(&self, id: Uuid) -> String {
        self.join(&format!("users/{id}"))
    }
    pub fn users(&self) -> String {
        self.join("users")
    }
    pub fn calendar(&self, user: Uuid) -> String {
        self.join(&format!("calendar/{user}"))
    }
    pub fn ics(&self, user: Uuid) -> String {
        self.join(&format!("calendar/{user}.ics"))
    }
    pub fn event(&self, id: Uuid) -> String {
        self.join(&format!("event/{id}"))
    }
    pub fn participants(&self, id: Uuid) -> String {
        self.join(&format!("event/{id}/participants"))
    }
}

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
        .split_for_parts();
    let app =
        api.merge(forms::router()).route("/", get(|| async { Redirect::to("/users") })).with_state(state);
    (app, openapi)
}

/// `?limit=&cursor=` of list endpoints.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    /// Page size, 1 to 200 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// Position from a previous page's `next` (a user id).
    #[param(value_type = Option<String>, format = Uuid)]
    pub cursor: Option<String>,
}

impl Paging {
    pub fn limit(&self) -> Result<u32, Error> {
        match self.limit.as_deref() {
            None | Some("") => Ok(50),
            Some(raw) => match raw.parse::<u32>() {
                Ok(n) if (1..=200).contains(&n) => Ok(n),
                _ => Err(Error::BadRequest(format!("limit must be a number from 1 to 200, got {raw:?}"))),
            },
        }
    }
}

/// Parses an id from the path; anything else is a `404` (no such resource can exist).
pub fn parse_id(raw: &str, what: &'static str) -> Result<Uuid, Error> {
    Uuid::parse_str(raw).map_err(|_| Error::NotFound(what))
}

/// `303 See Other` to `location` (after a form post).
pub fn see_other(location: &str) -> Response {
    (StatusCode::SEE_OTHER, [(axum::http::header::LOCATION, location.to_string())]).into_response()
}
