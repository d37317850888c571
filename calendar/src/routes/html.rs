//! The pages that more than one endpoint shows (the GET that negotiates HTML, and a form's
//! answer when its input was refused): loads what the page needs and renders it.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::state::AppState;
use crate::domain::{EventForm, Month};
use crate::error::{Error, Result};
use crate::store::{StoredEvent, User};
use crate::templates;

/// The month page of a calendar (after a refused form: with the error and the entered values).
pub async fn calendar_page(
    state: &AppState,
    user: &User,
    month: Month,
    form_error: Option<(&Error, &EventForm)>,
    status: StatusCode,
) -> Result<Response> {
    let grid = templates::calendar::MonthGrid::new(month);
    let events = state.store.events(user.id, grid.start_ms(), grid.end_ms(), None, 1000).await?;
    let shown = form_error.map(|(error, form)| (error.user_message(), form));
    let form_error = shown.as_ref().map(|(message, form)| (message.as_str(), *form));
    let page = templates::calendar::page(&state.site, &state.links, user, &grid, &events, form_error);
    Ok((status, page).into_response())
}

/// The event page, optionally with the error of a refused form.
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
        error.map(Error::user_message).as_deref(),
    );
    Ok((status, page).into_response())
}
