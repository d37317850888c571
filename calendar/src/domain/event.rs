//! A calendar event as the API accepts it: the original all-day form (`day`, `month`, `year`),
//! an all-day `date`, or a timed `start`/`end`, plus optional description and location.

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc};
use serde::Deserialize;
use utoipa::ToSchema;

use super::invalid::Invalid;

const MAX_TITLE: usize = 200;
const MAX_LOCATION: usize = 200;
const MAX_DESCRIPTION: usize = 4000;
/// Years a calendar entry may fall in; keeps exports readable by every calendar client.
pub(super) const YEARS: std::ops::RangeInclusive<i32> = 1900..=2999;
/// Longest timed event.
const MAX_SPAN_DAYS: i64 = 366;

/// The body of `POST /calendar/{userId}` and `PUT /event/{id}`. Give exactly one of: `date`;
/// `start` (and optionally `end`, default one hour later); or `day`, `month` and `year` (the
/// original app's form).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct EventInput {
    /// What the event is called (1 to 200 characters).
    // An `Option` only so that a missing title gets the `422` naming it; documented as required.
    #[schema(required = true, value_type = String, min_length = 1, max_length = 200)]
    pub title: Option<String>,
    /// Day of month of an all-day event (original form).
    pub day: Option<NumberOrText>,
    /// Month (1-12) of an all-day event (original form).
    pub month: Option<NumberOrText>,
    /// Year of an all-day event (original form).
    pub year: Option<NumberOrText>,
    /// Date of an all-day event, `YYYY-MM-DD`.
    #[schema(example = "2026-12-24")]
    pub date: Option<String>,
    /// Start of a timed event, RFC 3339.
    #[schema(example = "2026-12-24T18:00:00Z")]
    pub start: Option<String>,
    /// End of a timed event, RFC 3339, after `start`.
    #[schema(example = "2026-12-24T20:00:00Z")]
    pub end: Option<String>,
    /// Free text, up to 4000 characters.
    pub description: Option<String>,
    /// Where, up to 200 characters.
    pub location: Option<String>,
}

/// A number, or a string holding one (the original clients sent either).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum NumberOrText {
    Number(i64),
    /// `24.0` is a whole number too.
    Float(f64),
    Text(String),
}

impl NumberOrText {
    fn parse(&self, field: &'static str) -> Result<i64, Invalid> {
        match self {
            Self::Number(n) => Ok(*n),
            Self::Float(f) if f.fract() == 0.0 && f.abs() < 1e9 => Ok(*f as i64),
            Self::Float(_) => Err(Invalid::new(field, format!("{field} must be a whole number"))),
            Self::Text(s) => {
                s.trim().parse().map_err(|_| Invalid::new(field, format!("{field} must be a whole number")))
            }
        }
    }
}

/// The HTML form's fields: a date, optional times of day (UTC), and the texts.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EventForm {
    pub title: Option<String>,
    pub date: Option<String>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub description: Option<String>,
    pub location: Option<String>,
}

impl From<EventForm> for EventInput {
    fn from(form: EventForm) -> Self {
        let nonempty = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
        let date = nonempty(form.date);
        let start_time = nonempty(form.start_time);
        let end_time = nonempty(form.end_time);
        let at = |time: &str| format!("{}T{}:00Z", date.as_deref().unwrap_or("").trim(), time.trim());
        match start_time {
            Some(start) => Self {
                title: form.title,
                start: Some(at(&start)),
                end: end_time.map(|end| at(&end)),
                description: form.description,
                location: form.location,
                ..Self::default()
            },
            None => Self {
                title: form.title,
                date,
                description: form.description,
                location: form.location,
                ..Self::default()
            },
        }
    }
}

/// An event title: trimmed, 1 to 200 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventTitle(String);

impl EventTitle {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        Ok(Self(
            single_line("title", raw, MAX_TITLE)?
                .ok_or_else(|| Invalid::new("title", "title is required"))?,
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// When an event takes place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// The whole day, with no time zone (as calendar apps treat all-day events).
    AllDay(NaiveDate),
    /// From `start` to `end` (exclusive), `end > start`.
    Timed { start: DateTime<Utc>, end: DateTime<Utc> },
}

impl When {
    /// Start in epoch milliseconds (an all-day event starts at midnight UTC), for ordering.
    pub fn start_ms(&self) -> i64 {
        match self {
            Self::AllDay(date) => midnight_ms(*date),
            Self::Timed { start, .. } => start.timestamp_millis(),
        }
    }

    pub fn end_ms(&self) -> i64 {
        match self {
            Self::AllDay(date) => midnight_ms(*date) + TimeDelta::days(1).num_milliseconds(),
            Self::Timed { end, .. } => end.timestamp_millis(),
        }
    }

    /// The (UTC) day it starts on.
    pub fn start_date(&self) -> NaiveDate {
        match self {
            Self::AllDay(date) => *date,
            Self::Timed { start, .. } => start.date_naive(),
        }
    }
}

fn midnight_ms(date: NaiveDate) -> i64 {
    date.and_hms_opt(0, 0, 0).map(|dt| dt.and_utc().timestamp_millis()).unwrap_or(0)
}

/// A validated event, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventDraft {
    pub title: EventTitle,
    pub when: When,
    pub description: Option<String>,
    pub location: Option<String>,
}

impl EventDraft {
    pub fn parse(input: &EventInput) -> Result<Self, Invalid> {
        let title = EventTitle::parse(input.title.as_deref().unwrap_or(""))?;
        let when = parse_when(input)?;
        let description = match input.description.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(text) if text.chars().count() > MAX_DESCRIPTION => {
                return Err(Invalid::new(
                    "description",
                    format!("description is longer than {MAX_DESCRIPTION} characters"),
                ));
            }
            Some(text) if text.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) => {
                return Err(Invalid::new("description", "description contains control characters"));
            }
            Some(text) if service_kit::text::first_unsafe_char(text, true).is_some() => {
                let c = service_kit::text::first_unsafe_char(text, true).unwrap_or_default();
                return Err(noncharacter("description", c));
            }
            // Browsers send a textarea's line breaks as CRLF, other clients may send a lone CR:
            // stored as LF, so every reader (pages, JSON, .ics) sees one kind of line break.
            Some(text) => Some(text.replace("\r\n", "\n").replace('\r', "\n")),
        };
        let location = single_line("location", input.location.as_deref().unwrap_or(""), MAX_LOCATION)?;
        Ok(Self { title, when, description, location })
    }
}

/// A text holding a noncharacter (U+FFFE and the like), which no export format can carry.
fn noncharacter(field: &'static str, c: char) -> Invalid {
    Invalid::new(field, format!("{field} must not contain {}", service_kit::text::describe(c)))
}

/// Trimmed single-line text up to `max` characters; empty is `None`.
fn single_line(field: &'static str, raw: &str, max: usize) -> Result<Option<String>, Invalid> {
    let text = raw.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if text.chars().count() > max {
        return Err(Invalid::new(field, format!("{field} is longer than {max} characters")));
    }
    if text.chars().any(char::is_control) {
        return Err(Invalid::new(field, format!("{field} must be a single line without control characters")));
    }
    if let Some(c) = service_kit::text::first_unsafe_char(text, false) {
        return Err(noncharacter(field, c));
    }
    Ok(Some(text.to_string()))
}

fn parse_when(input: &EventInput) -> Result<When, Invalid> {
    let original = input.day.is_some() || input.month.is_some() || input.year.is_some();
    let given = [original, input.date.is_some(), input.start.is_some()].iter().filter(|g| **g).count();
    if given != 1 {
        return Err(Invalid::new(
            "date",
            "give exactly one of: date; start (and end); or day, month and year",
        ));
    }
    if input.end.is_some() && input.start.is_none() {
        return Err(Invalid::new("end", "end needs a start"));
    }
    if original {
        let part = |value: &Option<NumberOrText>, field: &'static str| {
            value
                .as_ref()
                .ok_or_else(|| Invalid::new(field, format!("{field} is required with day, month and year")))?
                .parse(field)
        };
        let (day, month, year) =
            (part(&input.day, "day")?, part(&input.month, "month")?, part(&input.year, "year")?);
        let date = i32::try_from(year)
            .ok()
            .zip(u32::try_from(month).ok())
            .zip(u32::try_from(day).ok())
            .and_then(|((y, m), d)| NaiveDate::from_ymd_opt(y, m, d))
            .ok_or_else(|| {
                Invalid::new("day", format!("no such date: day {day}, month {month}, year {year}"))
            })?;
        return check_year("year", date).map(When::AllDay);
    }
    if let Some(raw) = &input.date {
        let date = NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
            .map_err(|_| Invalid::new("date", format!("not a real date in the form YYYY-MM-DD: {raw:?}")))?;
        return check_year("date", date).map(When::AllDay);
    }
    let start = parse_instant("start", input.start.as_deref().unwrap_or(""))?;
    let end = match &input.end {
        Some(raw) => parse_instant("end", raw)?,
        None => start + TimeDelta::hours(1),
    };
    if end <= start {
        return Err(Invalid::new("end", "end must be after start"));
    }
    if end - start > TimeDelta::days(MAX_SPAN_DAYS) {
        return Err(Invalid::new("end", format!("an event may last at most {MAX_SPAN_DAYS} days")));
    }
    check_year("end", end.date_naive())?;
    Ok(When::Timed { start, end })
}

fn parse_instant(field: &'static str, raw: &str) -> Result<DateTime<Utc>, Invalid> {
    let instant = DateTime::parse_from_rfc3339(raw.trim())
        .map_err(|_| {
            Invalid::new(
                field,
                format!("{field} must be an RFC 3339 date-time like 2026-12-24T18:00:00Z: {raw:?}"),
            )
        })?
        .with_timezone(&Utc);
    check_year(field, instant.date_naive())?;
    Ok(instant)
}

fn check_year(field: &'static str, date: NaiveDate) -> Result<NaiveDate, Invalid> {
    if YEARS.contains(&date.year()) {
        Ok(date)
    } else {
        Err(Invalid::new(field, format!("the year must be from {} to {}", YEARS.start(), YEARS.end())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(json: serde_json::Value) -> EventInput {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn the_original_form_gives_an_all_day_event() {
        let draft = EventDraft::parse(&input(
            serde_json::json!({"title": "Party", "day": 24, "month": "12", "year": 2026}),
        ))
        .unwrap();
        assert_eq!(draft.when, When::AllDay(NaiveDate::from_ymd_opt(2026, 12, 24).unwrap()));
        assert_eq!(draft.title.as_str(), "Party");
    }

    #[test]
    fn texts_no_export_format_can_carry_are_refused() {
        for (field, body) in [
            ("title", serde_json::json!({"title": "Pa\u{FFFE}rty", "date": "2026-12-24"})),
            (
                "location",
                serde_json::json!({"title": "x", "date": "2026-12-24", "location": "Room \u{FFFF}"}),
            ),
            (
                "description",
                serde_json::json!({"title": "x", "date": "2026-12-24", "description": "a\n\u{FDD0}"}),
            ),
        ] {
            let err = EventDraft::parse(&input(body)).unwrap_err();
            assert_eq!(err.field, field);
            assert!(err.message.contains("U+"), "{}", err.message);
        }
        let ok =
            serde_json::json!({"title": "x", "date": "2026-12-24", "description": "line\r\nline\ttab\rend"});
        let draft = EventDraft::parse(&input(ok)).expect("line breaks and tabs stay fine in a description");
        assert_eq!(
            draft.description.as_deref(),
            Some("line\nline\ttab\nend"),
            "CRLF and a lone CR are stored as LF"
        );
    }

    #[test]
    fn impossible_dates_are_refused() {
        let err =
            EventDraft::parse(&input(serde_json::json!({"title": "x", "day": 31, "month": 2, "year": 2026})))
                .unwrap_err();
        assert_eq!(err.field, "day");
        let err =
            EventDraft::parse(&input(serde_json::json!({"title": "x", "date": "2026-02-30"}))).unwrap_err();
        assert_eq!(err.field, "date");
        assert!(EventDraft::parse(&input(serde_json::json!({"title": "x", "date": "2028-02-29"}))).is_ok());
        let err =
            EventDraft::parse(&input(serde_json::json!({"title": "x", "date": "0001-01-01"}))).unwrap_err();
        assert_eq!(err.field, "date");
    }

    #[test]
    fn timed_events_need_an_end_after_the_start() {
        let ok = EventDraft::parse(&input(
            serde_json::json!({"title": "x", "start": "2026-12-24T18:00:00+01:00"}),
        ))
        .unwrap();
        let When::Timed { start, end } = ok.when else { panic!("timed") };
        assert_eq!(start.to_rfc3339(), "2026-12-24T17:00:00+00:00");
        assert_eq!(end - start, TimeDelta::hours(1));
        let err = EventDraft::parse(&input(
            serde_json::json!({"title": "x", "start": "2026-12-24T18:00:00Z", "end": "2026-12-24T17:00:00Z"}),
        ))
        .unwrap_err();
        assert_eq!(err.field, "end");
        let err =
            EventDraft::parse(&input(serde_json::json!({"title": "x", "start": "tomorrow"}))).unwrap_err();
        assert_eq!(err.field, "start");
    }

    #[test]
    fn exactly_one_way_of_saying_when() {
        assert_eq!(EventDraft::parse(&input(serde_json::json!({"title": "x"}))).unwrap_err().field, "date");
        let both = serde_json::json!({"title": "x", "date": "2026-01-01", "start": "2026-01-01T10:00:00Z"});
        assert_eq!(EventDraft::parse(&input(both)).unwrap_err().field, "date");
        let partial = serde_json::json!({"title": "x", "day": 1, "month": 2});
        assert_eq!(EventDraft::parse(&input(partial)).unwrap_err().field, "year");
    }

    #[test]
    fn texts_are_bounded_and_single_line_where_needed() {
        let base = |extra: serde_json::Value| {
            let mut v = serde_json::json!({"title": "x", "date": "2026-01-01"});
            v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            EventDraft::parse(&input(v))
        };
        assert_eq!(base(serde_json::json!({"title": "  "})).unwrap_err().field, "title");
        assert_eq!(base(serde_json::json!({"title": "a\nb"})).unwrap_err().field, "title");
        assert_eq!(base(serde_json::json!({"title": "a".repeat(201)})).unwrap_err().field, "title");
        assert_eq!(base(serde_json::json!({"location": "a\u{7}"})).unwrap_err().field, "location");
        let ok = base(serde_json::json!({"description": "line one\nline two", "location": ""})).unwrap();
        assert_eq!(ok.description.as_deref(), Some("line one\nline two"));
        assert_eq!(ok.location, None);
    }

    #[test]
    fn the_html_form_maps_times_to_utc_instants() {
        let form = EventForm {
            title: Some("x".into()),
            date: Some("2026-03-01".into()),
            start_time: Some("09:30".into()),
            end_time: Some("".into()),
            ..EventForm::default()
        };
        let draft = EventDraft::parse(&form.into()).unwrap();
        assert_eq!(
            draft.when.start_ms(),
            DateTime::parse_from_rfc3339("2026-03-01T09:30:00Z").unwrap().timestamp_millis()
        );
    }
}
