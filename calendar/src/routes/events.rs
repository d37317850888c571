//! Events and their participants: `GET/PUT/DELETE /event/{id}`, `GET/POST
//! /event/{id}/participants`, `DELETE /event/{id}/participants/{userId}`.

use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use service_kit::error::{Form, Json, Path};
use service_kit::http::RequestId;
use service_kit::negotiate::wants_html;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::calendars::is_form;
use super::views::EventView;
use super::{AppState, parse_id, see_other};
use crate::domain::{EmailAddress, EventDraft, EventInput, Invalid, When};
use crate::error::{Error, Result};
use crate::metrics::EVENT_PARTICIPANTS;
use crate::store::{AddOutcome, NewJob, StoredEvent, User};
use crate::templates;

/// Most e-mails accepted in one invitation request.
const MAX_INVITES: usize = 100;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_event, update_event, delete_event))
        .routes(routes!(get_participants, add_participants))
        .routes(routes!(remove_participant))
}

async fn load_event(state: &AppState, raw_id: &str) -> Result<StoredEvent> {
    let id = parse_id(raw_id, "event")?;
    state.store.event(id).await?.ok_or(Error::NotFound("event"))
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

/// Renders the event page, optionally with an error from a form post.
pub async fn event_page(
    state: &AppState,
    event: &StoredEvent,
    error: Option<&Error>,
    status: StatusCode,
) -> Result<Response> {
    let owner = state.store.user(event.owner_id).await?;
    let participants = state.store.participants(event.id).await?;
    let invitations = state.store.jobs_of_event(event.id).await?;
    let page = templates::event::page(
        &state.site,
        &state.links,
        event,
        owner.as_ref(),
        &participants,
        &invitations,
        error,
    );
    Ok((status, page).into_response())
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
        (status = 404, description = "Unknown event", body = service_kit::error::ErrorBody),
        (status = 415, description = "Not JSON", body = service_kit::error::ErrorBody),
        (status = 422, description = "Invalid field (named)", body = service_kit::error::ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(event = %id))]
pub async fn update_event(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(input): Json<EventInput>,
) -> Result<Response> {
    let id = parse_id(&id, "event")?;
    let draft = EventDraft::parse(&input)?;
    let event = state.store.update_event(id, &draft).await?.ok_or(Error::NotFound("event"))?;
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
        (status = 404, description = "Unknown event", body = service_kit::error::ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(event = %id))]
pub async fn delete_event(State(state): State<AppState>, Path(id): Path<String>) -> Result<StatusCode> {
    let id = parse_id(&id, "event")?;
    state.store.delete_event(id).await?.ok_or(Error::NotFound("event"))?;
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

/// The invitation form's field: e-mails separated by commas, semicolons or white space.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct InviteForm {
    pub emails: Option<String>,
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
        (status = 303, description = "Invited from the HTML form; see the event page"),
        (status = 400, description = "Malformed JSON", body = service_kit::error::ErrorBody),
        (status = 404, description = "Unknown event", body = service_kit::error::ErrorBody),
        (status = 415, description = "Not JSON", body = service_kit::error::ErrorBody),
        (status = 422, description = "Malformed or unknown e-mails; nothing added", body = crate::error::UnknownParticipantsBody),
    )
)]
#[tracing::instrument(skip_all, fields(event = %id))]
pub async fn add_participants(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request_id: RequestId,
    request: Request,
) -> Result<Response> {
    let event = load_event(&state, &id).await?;
    if is_form(request.headers()) {
        let Form(form) = Form::<InviteForm>::from_request(request, &state).await?;
        let raw: Vec<String> = form
            .emails
            .unwrap_or_default()
            .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        return match invite(&state, &event, &raw, &request_id).await {
            Ok(_) => Ok(see_other(&state.links.event(event.id))),
            Err(e @ (Error::Invalid(_) | Error::UnknownParticipants(_))) => {
                event_page(&state, &event, Some(&e), StatusCode::UNPROCESSABLE_ENTITY).await
            }
            Err(e) => Err(e),
        };
    }
    let Json(raw) = Json::<Vec<String>>::from_request(request, &state).await?;
    let participants = invite(&state, &event, &raw, &request_id).await?;
    Ok(axum::Json(participant_urls(&state, &participants)).into_response())
}

/// Validates the addresses, adds the participants with their outbox jobs, wakes the dispatcher.
async fn invite(
    state: &AppState,
    event: &StoredEvent,
    raw: &[String],
    request_id: &RequestId,
) -> Result<Vec<User>> {
    if raw.len() > MAX_INVITES {
        return Err(Invalid::new("emails", format!("at most {MAX_INVITES} e-mails at once")).into());
    }
    let emails = raw.iter().map(|e| EmailAddress::parse(e)).collect::<Result<Vec<_>, _>>()?;
    let owner = state.store.user(event.owner_id).await?;
    let event_url = state.links.event(event.id);
    let job = |user: &User| invitation(user, event, owner.as_ref(), &event_url);
    match state.store.add_participants(event.id, &emails, request_id.as_str(), job).await? {
        AddOutcome::NoEvent => Err(Error::NotFound("event")),
        AddOutcome::Unknown(unknown) => Err(Error::UnknownParticipants(unknown)),
        AddOutcome::Added { added } => {
            let participants = state.store.participants(event.id).await?;
            metrics::histogram!(EVENT_PARTICIPANTS).record(participants.len() as f64);
            if !added.is_empty() {
                tracing::info!(event = %event.id, added = added.len(), "participants added; invitations queued");
                state.dispatcher_wake.notify_one();
            }
            Ok(participants)
        }
    }
}

/// The invitation e-mail (plain text) for one new participant.
fn invitation(guest: &User, event: &StoredEvent, owner: Option<&User>, event_url: &str) -> NewJob {
    let host = owner.map_or_else(|| "Someone".to_string(), User::display_name);
    let when = match event.when {
        When::AllDay(date) => date.format("%A, %-d %B %Y").to_string(),
        When::Timed { start, end } => {
            format!(
                "{} to {} (UTC)",
                start.format("%A, %-d %B %Y, %H:%M"),
                end.format("%A, %-d %B %Y, %H:%M")
            )
        }
    };
    let place = event.location.as_deref().map(|l| format!("\nWhere: {l}")).unwrap_or_default();
    NewJob {
        email: guest.email.clone(),
        subject: format!("Invitation: {}", event.title),
        message: format!(
            "{host} invites you to \"{}\".\n\nWhen: {when}{place}\n\nDetails: {event_url}\n",
            event.title
        ),
    }
}

/// Removes one participant.
#[utoipa::path(
    delete,
    path = "/event/{id}/participants/{userId}",
    tag = "events",
    params(("id" = String, Path, description = "Event id"), ("userId" = String, Path, description = "The participant's user id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "Unknown event, or not a participant", body = service_kit::error::ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(event = %id, user = %user_id))]
pub async fn remove_participant(
    State(state): State<AppState>,
    Path((id, user_id)): Path<(String, String)>,
) -> Result<StatusCode> {
    remove(&state, &id, &user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Shared by the API and the page's form.
pub async fn remove(state: &AppState, id: &str, user_id: &str) -> Result<Uuid> {
    let event = load_event(state, id).await?;
    let user = parse_id(user_id, "participant")?;
    if !state.store.remove_participant(event.id, user).await? {
        return Err(Error::NotFound("participant"));
    }
    let count = state.store.participants(event.id).await?.len();
    metrics::histogram!(EVENT_PARTICIPANTS).record(count as f64);
    Ok(event.id)
}
