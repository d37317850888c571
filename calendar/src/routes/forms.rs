//! Endpoints for the HTML pages' forms, which can only GET and POST: adding an event, editing
//! and deleting one, inviting participants, removing one. Each answers `303 See Other` to the
//! page to show next, or the page again with the error (`422`) when the input was refused. The
//! JSON endpoints of the same resources take JSON only. A caller who may not make the change
//! (see `owners`) gets the page with the refusal and `403`; nothing changes.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Deserialize;
use service_kit::error::{Form, Path};
use service_kit::http::RequestId;

use super::actions::{self, change_event, invite, load_event, load_user, remove_participant};
use super::html::{calendar_page, event_page};
use super::owners::{may_change_event, may_write_calendar};
use super::state::AppState;
use crate::domain::{EventDraft, EventForm, Month};
use crate::error::{Error, Result};
use crate::store::StoredEvent;
use service_kit::auth::Caller;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/calendar/{userId}/new", post(create_event))
        .route("/event/{id}/edit", post(edit_event))
        .route("/event/{id}/delete", post(delete_event))
        .route("/event/{id}/invite", post(invite_participants))
        .route("/event/{id}/participants/{userId}/remove", post(remove))
}

/// `303 See Other` to `location`.
fn see_other(location: &str) -> Response {
    (StatusCode::SEE_OTHER, [(LOCATION, location.to_string())]).into_response()
}

/// Adds an event from the calendar page's form; on refusal, the month of the entered date is
/// shown again with the error and the values.
async fn create_event(
    State(state): State<AppState>,
    caller: Caller,
    Path(user_id): Path<String>,
    Form(form): Form<EventForm>,
) -> Result<Response> {
    let user = load_user(&state, &user_id).await?;
    if let Err(refused) = may_write_calendar(&caller, &user) {
        let month = Month::current();
        return calendar_page(&state, &user, month, Some((&refused, &form)), StatusCode::FORBIDDEN).await;
    }
    match EventDraft::parse(&form.clone().into()) {
        Ok(draft) => {
            let event = state.store.insert_event(user.id, &draft).await?;
            Ok(see_other(&state.links.event(event.id)))
        }
        Err(invalid) => {
            let month = form
                .date
                .as_deref()
                .and_then(|d| d.get(..7))
                .and_then(Month::parse)
                .unwrap_or_else(Month::current);
            let error = Error::Invalid(invalid);
            calendar_page(&state, &user, month, Some((&error, &form)), StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

/// The event page with `refused` and `403`.
async fn refused_on_event_page(state: &AppState, event: &StoredEvent, refused: Error) -> Result<Response> {
    event_page(state, event, Some(&refused), StatusCode::FORBIDDEN).await
}

async fn edit_event(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    request_id: RequestId,
    Form(form): Form<EventForm>,
) -> Result<Response> {
    let event = load_event(&state, &id).await?;
    if let Err(refused) = may_change_event(&state, &caller, &event).await {
        return refused_on_event_page(&state, &event, refused).await;
    }
    match EventDraft::parse(&form.into()) {
        Ok(draft) => {
            change_event(&state, &event, &draft, &request_id).await?;
            Ok(see_other(&state.links.event(event.id)))
        }
        Err(invalid) => {
            event_page(&state, &event, Some(&Error::Invalid(invalid)), StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

async fn delete_event(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    request_id: RequestId,
) -> Result<Response> {
    let event = load_event(&state, &id).await?;
    if let Err(refused) = may_change_event(&state, &caller, &event).await {
        return refused_on_event_page(&state, &event, refused).await;
    }
    let owner = actions::delete_event(&state, &event, &request_id).await?;
    Ok(see_other(&state.links.calendar(owner)))
}

/// The invitation form's field: e-mails separated by commas, semicolons or white space.
#[derive(Debug, Clone, Default, Deserialize)]
struct InviteForm {
    emails: Option<String>,
}

impl InviteForm {
    fn emails(&self) -> Vec<String> {
        self.emails
            .as_deref()
            .unwrap_or_default()
            .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }
}

/// Invites from the event page's form; refused addresses are named on the page.
async fn invite_participants(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    request_id: RequestId,
    Form(form): Form<InviteForm>,
) -> Result<Response> {
    let event = load_event(&state, &id).await?;
    if let Err(refused) = may_change_event(&state, &caller, &event).await {
        return refused_on_event_page(&state, &event, refused).await;
    }
    match invite(&state, &event, &form.emails(), &request_id).await {
        Ok(_) => Ok(see_other(&state.links.event(event.id))),
        Err(e @ (Error::Invalid(_) | Error::UnknownParticipants(_) | Error::QuotaExceeded(_))) => {
            let status = e.status();
            event_page(&state, &event, Some(&e), status).await
        }
        Err(e) => Err(e),
    }
}

async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, user)): Path<(String, String)>,
    request_id: RequestId,
) -> Result<Response> {
    match remove_participant(&state, &caller, &id, &user, &request_id).await {
        Ok(event) => Ok(see_other(&state.links.event(event))),
        Err(refused @ Error::Forbidden(_)) => {
            let event = load_event(&state, &id).await?;
            refused_on_event_page(&state, &event, refused).await
        }
        Err(e) => Err(e),
    }
}
