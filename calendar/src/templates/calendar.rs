//! The calendar page: a month grid that pages by month, the month's agenda, a form to add an
//! event, and the iCalendar subscription link.

use chrono::{Datelike, NaiveDate, TimeDelta};
use maud::{Markup, html};
use service_kit::html::Site;

use super::{error_notice, when_text};
use crate::domain::{EventForm, Month, When};
use crate::links::Links;
use crate::store::{StoredEvent, User};

/// Six weeks, Monday first, covering `month`.
#[derive(Debug, Clone, Copy)]
pub struct MonthGrid {
    pub month: Month,
    pub first: NaiveDate,
}

impl MonthGrid {
    pub fn new(month: Month) -> Self {
        let day_one = month.first_day();
        let back = i64::from(day_one.weekday().num_days_from_monday());
        Self { month, first: day_one - TimeDelta::days(back) }
    }

    fn days(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        (0..42).map(|i| self.first + TimeDelta::days(i))
    }

    pub fn start_ms(&self) -> i64 {
        day_start_ms(self.first)
    }

    pub fn end_ms(&self) -> i64 {
        day_start_ms(self.first + TimeDelta::days(42))
    }
}

fn day_start_ms(day: NaiveDate) -> i64 {
    day.and_hms_opt(0, 0, 0).map_or(0, |d| d.and_utc().timestamp_millis())
}

fn on_day(event: &StoredEvent, day: NaiveDate) -> bool {
    let (start, end) = (day_start_ms(day), day_start_ms(day + TimeDelta::days(1)));
    event.when.start_ms() < end && event.when.end_ms() > start
}

pub fn page(
    site: &Site,
    links: &Links,
    user: &User,
    grid: &MonthGrid,
    events: &[StoredEvent],
    form_error: Option<(&str, &EventForm)>,
) -> Markup {
    let name = user.display_name();
    let month = grid.month.first_day();
    let (prev, next) = (grid.month.previous(), grid.month.next());
    let in_month: Vec<&StoredEvent> = events
        .iter()
        .filter(|e| {
            let after = next.map_or(month, Month::first_day);
            e.when.start_ms() < day_start_ms(after) && e.when.end_ms() > day_start_ms(month)
        })
        .collect();
    let form = form_error.map(|(_, f)| f.clone()).unwrap_or_default();
    let default_date = month.format("%Y-%m-%d").to_string();
    site.page(
        &format!("{name}: calendar"),
        None,
        html! {
            h1 { (name) "’s calendar" }
            nav.pager aria-label="Months" {
                @if let Some(prev) = prev {
                    a href={ "?month=" (prev.param()) } rel="prev" { "← " (prev.first_day().format("%B %Y")) }
                }
                strong { (month.format("%B %Y")) }
                @if let Some(next) = next {
                    a href={ "?month=" (next.param()) } rel="next" { (next.first_day().format("%B %Y")) " →" }
                }
            }
            table.month {
                thead { tr { @for d in ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"] { th scope="col" { (d) } } } }
                tbody {
                    @for week in grid.days().collect::<Vec<_>>().chunks(7) {
                        tr {
                            @for day in week {
                                td class=[(day.month() != month.month()).then_some("other")] {
                                    div.day { (day.day()) }
                                    @for event in events.iter().filter(|e| on_day(e, *day)) {
                                        div { a href={ "/event/" (event.id) } { (event.title) } (invitation_mark(event, user)) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            h2 { "This month" }
            @if in_month.is_empty() {
                p.muted { "No events in " (month.format("%B %Y")) "." }
            } @else {
                ul {
                    @for event in &in_month {
                        li { a href={ "/event/" (event.id) } { (event.title) } (invitation_mark(event, user)) " — " (when_text(&event.when)) }
                    }
                }
            }
            h2 id="add" { "Add an event" }
            (error_notice(form_error.map(|(message, _)| message)))
            form.stack method="post" action={ "/calendar/" (user.id) "/new" } {
                label { "Title" input type="text" name="title" required maxlength="200" value=[form.title.as_deref()]; }
                label { "Date" input type="date" name="date" required value=(form.date.as_deref().unwrap_or(&default_date)); }
                label { "Starts at (UTC, empty for all day)" input type="time" name="start_time" value=[form.start_time.as_deref()]; }
                label { "Ends at (UTC)" input type="time" name="end_time" value=[form.end_time.as_deref()]; }
                label { "Location" input type="text" name="location" maxlength="200" value=[form.location.as_deref()]; }
                label { "Description" textarea name="description" maxlength="4000" { (form.description.as_deref().unwrap_or("")) } }
                button type="submit" { "Add event" }
            }
            h2 { "Subscribe" }
            p {
                "Add this address to your calendar app to see these events there: "
                a href=(links.ics(user.id)) { (links.ics(user.id)) }
            }
        },
    )
}

/// After the title of an event of someone else's that the calendar's user is invited to.
fn invitation_mark(event: &StoredEvent, user: &User) -> Markup {
    html! { @if event.owner_id != user.id { " " span.badge.invited title="You are invited to this event" { "invitation" } } }
}

/// Values to prefill the edit form with.
pub fn form_values(event: &StoredEvent) -> EventForm {
    let (date, start_time, end_time) = match event.when {
        When::AllDay(date) => (date.format("%Y-%m-%d").to_string(), None, None),
        When::Timed { start, end } => {
            (start.format("%Y-%m-%d").to_string(), Some(super::time_of(&start)), Some(super::time_of(&end)))
        }
    };
    EventForm {
        title: Some(event.title.clone()),
        date: Some(date),
        start_time,
        end_time,
        description: event.description.clone(),
        location: event.location.clone(),
    }
}
