//! A user's calendar: `GET /calendar/{userId}` (iCalendar by default, JSON or HTML by `Accept`),
//! `GET /calendar/{userId}.ics`, and `POST /calendar/{userId}` to add an event (JSON; the page's
//! form posts to `/calendar/{userId}/new`, see `forms`).

use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::Deserialize;
use service_kit::error::{Json, Path, Query};
use service_kit::negotiate::preferred;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::actions::load_user;
use super::html::calendar_page;
use super::owners::may_write_calendar;
use super::params::page_limit;
use super::state::AppState;
use super::views::{EventList, EventView};
use crate::domain::{EventDraft, EventInput, Month};
use crate::error::{Error, Result};
use crate::ics;
use crate::store::{Cursor, User};
use service_kit::auth::Caller;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_calendar, create_event))
}

/// Query of `GET /calendar/{userId}`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CalendarQuery {
    /// Page size for JSON, 1 to 200 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// Opaque position from a previous page's `next`.
    pub cursor: Option<String>,
    /// JSON: only events ending after this date (`YYYY-MM-DD`).
    #[param(value_type = Option<String>, format = Date)]
    pub from: Option<String>,
    /// JSON: only events starting before this date (`YYYY-MM-DD`).
    #[param(value_type = Option<String>, format = Date)]
    pub to: Option<String>,
    /// HTML: the month to show (`YYYY-MM`, default this month).
    #[param(pattern = r"^(19|2[0-9])[0-9]{2}-(0[1-9]|1[0-2])$")]
    pub month: Option<String>,
}

/// The calendar of a user: iCalendar for calendar clients (and `*/*` or no `Accept`), JSON for
/// `application/json`, HTML for browsers. `GET /calendar/{userId}.ics` always gives iCalendar:
/// the URL to subscribe to in a calendar app.
#[utoipa::path(
    get,
    path = "/calendar/{userId}",
    tag = "calendars",
    params(("userId" = String, Path, description = "The user's (contact's) UUID, optionally with .ics"), CalendarQuery),
    responses(
        (status = 200, description = "The calendar", body = EventList, content_type = "application/json"),
        (status = 200, description = "The calendar as iCalendar", body = String, content_type = "text/calendar"),
        (status = 400, description = "Bad query", body = service_kit::error::ErrorBody),
        (status = 404, description = "Unknown user", body = service_kit::error::ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(user = %user_id))]
pub async fn get_calendar(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(user_id): Path<String>,
    Query(query): Query<CalendarQuery>,
) -> Result<Response> {
    let (raw_id, ics_suffix) = match user_id.strip_suffix(".ics") {
        Some(id) => (id, true),
        None => (user_id.as_str(), false),
    };
    let user = load_user(&state, raw_id).await?;
    let representation =
        if ics_suffix { 0 } else { preferred(&headers, &["text/calendar", "application/json", "text/html"]) };
    match representation {
        1 => json_calendar(&state, &user, &query).await,
        2 => {
            let month = month_param(query.month.as_deref())?;
            calendar_page(&state, &user, month, None, StatusCode::OK).await
        }
        _ => ics_calendar(&state, &user).await,
    }
}

async fn ics_calendar(state: &AppState, user: &User) -> Result<Response> {
    let events = state.store.events_of(user.id).await?;
    let people = state.store.people_of(user.id).await?;
    let body = ics::calendar(
        user,
        &events,
        |e| state.links.event(e.id),
        |e| ics::People {
            organizer: people.owners.get(&e.owner_id),
            attendees: people.participants.get(&e.id).map_or(&[], Vec::as_slice),
        },
    );
    Ok(([(CONTENT_TYPE, ics::CONTENT_TYPE), (CACHE_CONTROL, "no-cache")], body).into_response())
}

async fn json_calendar(state: &AppState, user: &User, query: &CalendarQuery) -> Result<Response> {
    let limit = page_limit(query.limit.as_deref())?;
    let from_ms = optional_date("from", query.from.as_deref())?.map_or(i64::MIN, midnight_ms);
    let to_ms = optional_date("to", query.to.as_deref())?.map_or(i64::MAX, midnight_ms);
    let cursor = query.cursor.as_deref().filter(|c| !c.is_empty()).map(parse_cursor).transpose()?;
    let mut page = state.store.events(user.id, from_ms, to_ms, cursor.as_ref(), limit + 1).await?;
    let more = page.len() > limit as usize;
    page.truncate(limit as usize);
    let next = match (more, page.last()) {
        (true, Some(last)) => {
            let mut url = url::Url::parse(&state.links.calendar(user.id))
                .map_err(|e| Error::BadRequest(e.to_string()))?;
            {
                let mut pairs = url.query_pairs_mut();
                pairs.append_pair("limit", &limit.to_string());
                pairs.append_pair("cursor", &format!("{}.{}", last.when.start_ms(), last.id));
                if let Some(from) = &query.from {
                    pairs.append_pair("from", from);
                }
                if let Some(to) = &query.to {
                    pairs.append_pair("to", to);
                }
            }
            Some(url.to_string())
        }
        _ => None,
    };
    let items = page.iter().map(|e| EventView::in_calendar_of(&state.links, e, user.id)).collect();
    Ok(axum::Json(EventList { owner: state.links.user(user.id), ics: state.links.ics(user.id), items, next })
        .into_response())
}

/// Adds an event to the user's calendar. The original app's body `{"title","day","month","year"}`
/// still works; `date` or `start`/`end` (RFC 3339) are the newer forms.
#[utoipa::path(
    post,
    path = "/calendar/{userId}",
    tag = "calendars",
    params(("userId" = String, Path, description = "The user's (contact's) UUID")),
    request_body = EventInput,
    responses(
        (status = 201, description = "Created; Location names the event", body = EventView),
        (status = 400, description = "Malformed JSON", body = service_kit::error::ErrorBody),
        (status = 403, description = "Not the calendar's owner", body = service_kit::error::ErrorBody),
        (status = 404, description = "Unknown user", body = service_kit::error::ErrorBody),
        (status = 415, description = "Not JSON", body = service_kit::error::ErrorBody),
        (status = 422, description = "Invalid field (named)", body = service_kit::error::ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(user = %user_id))]
pub async fn create_event(
    State(state): State<AppState>,
    caller: Caller,
    Path(user_id): Path<String>,
    Json(input): Json<EventInput>,
) -> Result<Response> {
    let user = load_user(&state, &user_id).await?;
    may_write_calendar(&caller, &user)?;
    let draft = EventDraft::parse(&input)?;
    let event = state.store.insert_event(user.id, &draft).await?;
    let location = state.links.event(event.id);
    Ok((StatusCode::CREATED, [(LOCATION, location)], axum::Json(EventView::new(&state.links, &event)))
        .into_response())
}

fn parse_cursor(raw: &str) -> Result<Cursor> {
    let bad = || Error::BadRequest("cursor is not valid".into());
    let (ms, id) = raw.split_once('.').ok_or_else(bad)?;
    Ok(Cursor { start_ms: ms.parse().map_err(|_| bad())?, id: Uuid::parse_str(id).map_err(|_| bad())? })
}

fn optional_date(name: &str, raw: Option<&str>) -> Result<Option<NaiveDate>> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| Error::BadRequest(format!("{name} must be a date like 2026-12-24, got {s:?}"))),
    }
}

fn midnight_ms(date: NaiveDate) -> i64 {
    date.and_hms_opt(0, 0, 0).map_or(0, |d| d.and_utc().timestamp_millis())
}

/// `?month=` of the HTML page: `YYYY-MM`, this month when absent or empty.
fn month_param(raw: Option<&str>) -> Result<Month> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(Month::current()),
        Some(raw) => Month::parse(raw)
            .ok_or_else(|| Error::BadRequest(format!("month must look like 2026-12, got {raw:?}"))),
    }
}
