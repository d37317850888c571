//! Events and their participants: `GET/PUT/DELETE /event/{id}`, `GET/POST
//! /event/{id}/participants`, `DELETE /event/{id}/participants/{userId}` (JSON; the page's
//! forms post to routes of their own, see `forms`).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use service_kit::error::{Json, Path};
use service_kit::http::RequestId;
use service_kit::negotiate::wants_html;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::actions::{self, change_event, invite, load_event};
use super::html::event_page;
use super::owners::may_change_event;
use super::state::AppState;
use super::views::EventView;
use crate::domain::{EventDraft, EventInput};
use crate::error::Result;
use crate::store::User;
use service_kit::auth::Caller;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_event, update_event, delete_event))
        .routes(routes!(get_participants, add_participants))
        .routes(routes!(remove_participant))
}

/// One event (HTML for browsers: with its participants and an invitation form).
#[utoipa::path(
    get,
    path = "/event/{id}",
    tag = "events",
    params(("id" = String, Path, description = "Event id")),
    responses(
        (status = 200, description = "The event", body = EventView),
        (status = 404, description = "Unknown event", body = service_kit::error::ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(event = %id))]
pub async fn get_event(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response> {
    let event = load_event(&state, &id).await?;
    if wants_html(&headers) {
        return event_page(&state, &event, None, StatusCode::OK).await;
    }
    Ok(axum::Json(EventView::new(&state.links, &event)).into_response())
}

/// Replaces an event's title, time, description and location (same body as creating one).
#[utoipa::path(
    put,
    path = "/event/{id}",
    tag = "events",
    params(("id" = String, Path, description = "Event id")),
    request_body = EventInput,
    responses(
        (status = 200, description = "The updated event", body = EventView),
        (status = 400, description = "Malformed JSON", body = service_kit::error::ErrorBody),
        (status = 403, description = "Not the event's owner", body = service_kit::error::ErrorBody),
        (status = 404, description = "Unknown event", body = service_kit::error::ErrorBody),
        (status = 415, description = "Not JSON", body = service_kit::error::ErrorBody),
        (status = 422, description = "Invalid field (named)", body = service_kit::error::ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(event = %id))]
pub async fn update_event(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    request_id: RequestId,
    Json(input): Json<EventInput>,
) -> Result<Response> {
    let event = load_event(&state, &id).await?;
    may_change_event(&state, &caller, &event).await?;
    let draft = EventDraft::parse(&input)?;
    let event = change_event(&state, &event, &draft, &request_id).await?;
    Ok(axum::Json(EventView::new(&state.links, &event)).into_response())
}

/// Deletes an event with its participants; invitations not yet delivered are cancelled.
#[utoipa::path(
    delete,
    path = "/event/{id}",
    tag = "events",
    params(("id" = String, Path, description = "Event id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Not the event's owner", body = service_kit::error::ErrorBody),
        (status = 404, description = "Unknown event", body = service_kit::error::ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(event = %id))]
pub async fn delete_event(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    request_id: RequestId,
) -> Result<StatusCode> {
    let event = load_event(&state, &id).await?;
    may_change_event(&state, &caller, &event).await?;
    actions::delete_event(&state, &event, &request_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The participants of an event, as user URLs (the original app's format).
#[utoipa::path(
    get,
    path = "/event/{id}/participants",
    tag = "events",
    params(("id" = String, Path, description = "Event id")),
    responses(
        (status = 200, description = "User URLs", body = Vec<String>),
        (status = 404, description = "Unknown event", body = service_kit::error::ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(event = %id))]
pub async fn get_participants(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response> {
    let event = load_event(&state, &id).await?;
    let participants = state.store.participants(event.id).await?;
    Ok(axum::Json(participant_urls(&state, &participants)).into_response())
}

fn participant_urls(state: &AppState, participants: &[User]) -> Vec<String> {
    participants.iter().map(|u| state.links.user(u.id)).collect()
}

/// Adds participants by e-mail (a JSON array, as in the original app). All or nothing: when any
/// address belongs to no known user, the answer is `422` naming them and nobody is added. Each
/// new participant gets an invitation through notifications (written to the outbox in the same
/// transaction). Already-present participants are left as they are.
#[utoipa::path(
    post,
    path = "/event/{id}/participants",
    tag = "events",
    params(("id" = String, Path, description = "Event id")),
    request_body(content = Vec<String>, description = "E-mail addresses", example = json!(["ann@example.org"])),
    responses(
        (status = 200, description = "All participants now (user URLs)", body = Vec<String>),
        (status = 400, description = "Malformed JSON", body = service_kit::error::ErrorBody),
        (status = 403, description = "Not the event's owner", body = service_kit::error::ErrorBody),
        (status = 404, description = "Unknown event", body = service_kit::error::ErrorBody),
        (status = 415, description = "Not JSON", body = service_kit::error::ErrorBody),
        (status = 422, description = "Malformed or unknown e-mails; nothing added", body = crate::error::UnknownParticipantsBody),
        (status = 429, description = "The organizer reached QUOTA_INVITATIONS_PER_HOUR; nothing added (Retry-After in seconds)", body = service_kit::error::ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(event = %id))]
pub async fn add_participants(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    request_id: RequestId,
    Json(raw): Json<Vec<String>>,
) -> Result<Response> {
    let event = load_event(&state, &id).await?;
    may_change_event(&state, &caller, &event).await?;
    let participants = invite(&state, &event, &raw, &request_id).await?;
    Ok(axum::Json(participant_urls(&state, &participants)).into_response())
}

/// Removes one participant.
#[utoipa::path(
    delete,
    path = "/event/{id}/participants/{userId}",
    tag = "events",
    params(("id" = String, Path, description = "Event id"), ("userId" = String, Path, description = "The participant's user id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, description = "Neither the event's owner nor the participant", body = service_kit::error::ErrorBody),
        (status = 404, description = "Unknown event, or not a participant", body = service_kit::error::ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(event = %id, user = %user_id))]
pub async fn remove_participant(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, user_id)): Path<(String, String)>,
    request_id: RequestId,
) -> Result<StatusCode> {
    actions::remove_participant(&state, &caller, &id, &user_id, &request_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
