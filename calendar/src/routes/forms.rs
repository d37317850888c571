//! Endpoints for the HTML pages' forms, which can only GET and POST: deleting and editing an
//! event, removing a participant. Each answers `303 See Other` to the page to show next.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use service_kit::error::{Form, Path};

use super::events::{event_page, remove};
use super::{AppState, parse_id, see_other};
use crate::domain::{EventDraft, EventForm};
use crate::error::{Error, Result};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/event/{id}/delete", post(delete_event))
        .route("/event/{id}/edit", post(edit_event))
        .route("/event/{id}/participants/{userId}/remove", post(remove_participant))
}

async fn delete_event(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response> {
    let id = parse_id(&id, "event")?;
    let owner = state.store.delete_event(id).await?.ok_or(Error::NotFound("event"))?;
    Ok(see_other(&state.links.calendar(owner)))
}

async fn edit_event(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(form): Form<EventForm>,
) -> Result<Response> {
    let id = parse_id(&id, "event")?;
    let event = state.store.event(id).await?.ok_or(Error::NotFound("event"))?;
    match EventDraft::parse(&form.into()) {
        Ok(draft) => {
            state.store.update_event(id, &draft).await?;
            Ok(see_other(&state.links.event(id)))
        }
        Err(invalid) => {
            event_page(&state, &event, Some(&Error::Invalid(invalid)), StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

async fn remove_participant(
    State(state): State<AppState>,
    Path((id, user)): Path<(String, String)>,
) -> Result<Response> {
    let event = remove(&state, &id, &user).await?;
    Ok(see_other(&state.links.event(event)))
}
