//! HTTP routes: the JSON API (bearer token) and the operator's HTML pages (HTTP Basic).
//!
//! `GET /notifications` and `GET /notifications/{id}` negotiate: a browser (`Accept: text/html`)
//! gets the page, anything else the JSON. Each representation asks for its own credentials.

mod notifications;
mod pages;

use std::sync::Arc;

use axum::Router;
use axum::http::header::{self, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use lettre::message::Mailbox;
use service_kit::html::{NavLink, Site};
use tokio::sync::Notify;
use url::Url;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Auth;
use crate::store::Store;

pub use notifications::{JobList, JobView};

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    pub auth: Auth,
    pub public_url: Url,
    pub mail_from: Mailbox,
    /// Wakes the delivery worker when a job is stored.
    pub wake: Arc<Notify>,
    pub max_attempts: u32,
    /// `None` in mailbox mode, else the SMTP server's host (for the pages).
    pub smtp_host: Option<String>,
}

impl AppState {
    pub(crate) fn site(&self) -> Site {
        Site {
            name: "notifications",
            home: "/notifications".into(),
            nav: vec![NavLink::new("/notifications", "Jobs"), NavLink::new("/mailbox", "Mailbox")],
        }
    }

    /// An absolute URL under `PUBLIC_URL`.
    pub(crate) fn url(&self, path: &str) -> String {
        self.public_url
            .join(path.trim_start_matches('/'))
            .map(String::from)
            .unwrap_or_else(|_| path.to_string())
    }
}

/// The routes with their state, and the OpenAPI document generated from the same handlers.
pub fn router(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    let (api, mut openapi) = OpenApiRouter::new()
        .routes(routes!(notifications::create, notifications::list))
        .routes(routes!(notifications::show))
        .split_for_parts();
    openapi.info.title = "notifications".into();
    openapi.info.description =
        Some("Turns authenticated HTTP jobs into e-mails, through a durable job queue.".into());
    openapi.info.version = env!("CARGO_PKG_VERSION").into();
    openapi
        .components
        .get_or_insert_with(Default::default)
        .add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    let pages = Router::new()
        .route("/", get(|| async { Redirect::to("/notifications") }))
        .route("/mailbox", get(pages::mailbox));
    (api.merge(pages).with_state(state), openapi)
}

/// Marks a response as depending on `Accept` and as not to be stored by caches (it holds
/// personal data).
pub(crate) fn private(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::VARY, HeaderValue::from_static("Accept, Authorization"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

pub(crate) fn into_private(response: impl IntoResponse) -> Response {
    private(response.into_response())
}
