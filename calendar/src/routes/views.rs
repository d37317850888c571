//! The JSON representations of users and events.

use chrono::{DateTime, Datelike, SecondsFormat, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::When;
use crate::links::Links;
use crate::store::{StoredEvent, User};

/// A user of the replica.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: Uuid,
    /// This user at calendar.
    #[serde(rename = "self")]
    pub self_url: String,
    pub email: String,
    pub firstname: String,
    pub lastname: String,
    /// The contact at contacts.
    pub contact: String,
    /// The user's calendar (iCalendar, JSON or HTML by `Accept`).
    pub calendar: String,
    pub updated: String,
}

impl UserView {
    pub fn new(links: &Links, user: &User) -> Self {
        Self {
            id: user.id,
            self_url: links.user(user.id),
            email: user.email.clone(),
            firstname: user.firstname.clone(),
            lastname: user.lastname.clone(),
            contact: user.contact_url.clone(),
            calendar: links.calendar(user.id),
            updated: rfc3339(user.updated_at),
        }
    }
}

/// A page of users.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserList {
    pub items: Vec<UserView>,
    /// The next page, or `null` on the last one.
    pub next: Option<String>,
}

/// A calendar event.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventView {
    pub id: Uuid,
    #[serde(rename = "self")]
    pub self_url: String,
    /// The owner's calendar.
    pub calendar: String,
    /// The owner (a user URL).
    pub owner: String,
    pub title: String,
    pub description: Option<String>,
    pub location: Option<String>,
    /// All-day events have `date`; timed ones `start` and `end`.
    pub all_day: bool,
    pub date: Option<String>,
    pub start: Option<String>,
    pub end: Option<String>,
    /// Day, month and year of the (UTC) start, as in the original app.
    pub day: u32,
    pub month: u32,
    pub year: i32,
    /// The participants list (user URLs).
    pub participants: String,
    /// In a calendar's listing: `true` for an event of another user's that the calendar's user
    /// is invited to (takes part in), `false` for the calendar's own; absent elsewhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invited: Option<bool>,
    pub created: String,
    pub updated: String,
}

impl EventView {
    pub fn new(links: &Links, event: &StoredEvent) -> Self {
        let date = event.when.start_date();
        let (all_day, day_text, start, end) = match event.when {
            When::AllDay(d) => (true, Some(d.format("%Y-%m-%d").to_string()), None, None),
            When::Timed { start, end } => (false, None, Some(instant(start)), Some(instant(end))),
        };
        Self {
            id: event.id,
            self_url: links.event(event.id),
            calendar: links.calendar(event.owner_id),
            owner: links.user(event.owner_id),
            title: event.title.clone(),
            description: event.description.clone(),
            location: event.location.clone(),
            all_day,
            date: day_text,
            start,
            end,
            day: date.day(),
            month: date.month(),
            year: date.year(),
            participants: links.participants(event.id),
            invited: None,
            created: rfc3339(event.created_at),
            updated: rfc3339(event.updated_at),
        }
    }

    /// The event as an item of `calendar`'s listing (marked when it is an invitation).
    pub fn in_calendar_of(links: &Links, event: &StoredEvent, calendar: Uuid) -> Self {
        Self { invited: Some(event.owner_id != calendar), ..Self::new(links, event) }
    }
}

/// A page of a calendar's events: those its user owns and those they are invited to.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventList {
    /// The calendar's owner (a user URL).
    pub owner: String,
    /// The same calendar as iCalendar, to subscribe to.
    pub ics: String,
    pub items: Vec<EventView>,
    pub next: Option<String>,
}

pub fn rfc3339(ms: i64) -> String {
    instant(DateTime::from_timestamp_millis(ms).unwrap_or_default())
}

fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}
