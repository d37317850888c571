//! The feed entries the follower parked (it could not apply them): `GET /feed/parked` (JSON, or
//! the operator page for browsers) and `POST /feed/parked/{id}/retry`, which fetches the
//! contact's current state from its contact URL and applies it once the cause is fixed. Kept in
//! a module of its own so that access control for operators can be put in front of it.

use axum::extract::State;
use axum::http::header::LOCATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use service_kit::error::{Path, Query};
use service_kit::negotiate::wants_html;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::owners::operator_only;
use super::params::{Paging, parse_id};
use super::state::AppState;
use super::views::rfc3339;
use crate::error::{Error, Result};
use crate::store::ParkedEntry;
use crate::templates;
use crate::workers::feed::recovery::{Retried, RetryError};
use service_kit::auth::Caller;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_parked)).routes(routes!(retry_parked))
}

/// A parked feed entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct ParkedView {
    pub id: Uuid,
    /// The Atom id of the entry.
    pub entry_id: String,
    pub sequence: Option<i64>,
    /// The event type (`unknown` when it could not be read).
    #[serde(rename = "type")]
    pub kind: String,
    pub contact_id: Option<Uuid>,
    pub contact_url: Option<String>,
    /// The entry's content as it came (cut after 64 KiB).
    pub content: String,
    /// Why it could not be applied.
    pub reason: String,
    pub attempts: i64,
    pub parked_at: String,
    /// When it was resolved (`null` while open), and how.
    pub resolved_at: Option<String>,
    pub resolution: Option<String>,
    /// `POST` here to retry it.
    pub retry: String,
}

impl ParkedView {
    fn new(state: &AppState, entry: &ParkedEntry) -> Self {
        Self {
            id: entry.id,
            entry_id: entry.entry_id.clone(),
            sequence: entry.sequence,
            kind: entry.kind.clone(),
            contact_id: entry.contact_id,
            contact_url: entry.contact_url.clone(),
            content: entry.content.clone(),
            reason: entry.reason.clone(),
            attempts: entry.attempts,
            parked_at: rfc3339(entry.parked_at),
            resolved_at: entry.resolved_at.map(rfc3339),
            resolution: entry.resolution.clone(),
            retry: format!("{}/{}/retry", state.links.parked(), entry.id),
        }
    }
}

/// The parked entries, open ones first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ParkedList {
    pub items: Vec<ParkedView>,
}

/// What a retry did.
#[derive(Debug, Serialize, ToSchema)]
pub struct RetryOutcome {
    /// `applied` (the contact's current state is in the replica) or `deleted` (it no longer
    /// exists, and is gone from the replica too).
    pub outcome: &'static str,
    pub entry: ParkedView,
}

/// Feed entries calendar could not apply (open ones first, newest first), at most `limit`.
#[utoipa::path(get, path = "/feed/parked", tag = "feed",
    params(Paging),
    responses(
        (status = 200, description = "The parked entries (HTML for browsers)", body = ParkedList),
        (status = 400, description = "Bad limit", body = service_kit::error::ErrorBody),
    ))]
#[tracing::instrument(skip_all)]
pub async fn list_parked(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Query(paging): Query<Paging>,
) -> Result<Response> {
    operator_only(&caller)?;
    let entries = state.store.parked_entries(paging.limit()?).await?;
    if wants_html(&headers) {
        return Ok(templates::parked::list(&state.site, &entries, None).into_response());
    }
    let items = entries.iter().map(|e| ParkedView::new(&state, e)).collect();
    Ok(axum::Json(ParkedList { items }).into_response())
}

/// Retries a parked entry: fetches the contact's current state from its contact URL (on the
/// feed's origins only) and applies it; `404`/`410` there deletes the user. The entry, and any
/// other open one of the same contact, is marked resolved. Nothing changes when contacts still
/// answers badly (`502`).
#[utoipa::path(post, path = "/feed/parked/{id}/retry", tag = "feed",
    params(("id" = String, Path, description = "The parked entry's id")),
    responses(
        (status = 200, description = "Retried (browsers are sent back to the list)", body = RetryOutcome),
        (status = 404, description = "No such parked entry", body = service_kit::error::ErrorBody),
        (status = 409, description = "Already resolved", body = service_kit::error::ErrorBody),
        (status = 422, description = "It names no contact calendar may fetch", body = service_kit::error::ErrorBody),
        (status = 502, description = "contacts still answers with something calendar cannot apply", body = service_kit::error::ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(parked = %id))]
pub async fn retry_parked(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response> {
    operator_only(&caller)?;
    let html = wants_html(&headers);
    let result = retry(&state, &id).await;
    match (result, html) {
        (Ok(_), true) => Ok((StatusCode::SEE_OTHER, [(LOCATION, "/feed/parked")]).into_response()),
        (Ok((entry, retried)), false) => {
            let outcome = match retried {
                Retried::Applied => "applied",
                Retried::Deleted => "deleted",
            };
            Ok(axum::Json(RetryOutcome { outcome, entry: ParkedView::new(&state, &entry) }).into_response())
        }
        (Err(e @ Error::Database(_)), _) | (Err(e), false) => Err(e),
        (Err(e), true) => {
            let entries = state.store.parked_entries(200).await?;
            let page = templates::parked::list(&state.site, &entries, Some(&e.user_message()));
            Ok((e.status(), page).into_response())
        }
    }
}

async fn retry(state: &AppState, id: &str) -> Result<(ParkedEntry, Retried)> {
    let id = parse_id(id, "parked entry")?;
    state.recovery.retry(id).await.map_err(|e| match e {
        RetryError::NotFound(_) => Error::NotFound("parked entry"),
        RetryError::AlreadyResolved => Error::Conflict(e.to_string()),
        RetryError::Unretryable(message) => Error::NotRetryable(message),
        RetryError::Upstream(message) => Error::BadUpstream(message),
        RetryError::Database(db) => Error::Database(db),
    })
}
