//! Server-rendered pages (maud: every interpolated value is escaped), in the shared layout.
//! Usable without JavaScript: links and forms that post and redirect. Also the invitation
//! e-mail's text. Templates take what they show as arguments (domain values, store rows,
//! [`crate::links::Links`]) and know nothing of routes or requests.

pub mod calendar;
pub mod event;
pub mod invitation;
pub mod parked;
pub mod users;

use chrono::{DateTime, Utc};
use maud::{Markup, html};

use crate::domain::When;

/// A human-readable "when".
pub fn when_text(when: &When) -> String {
    match when {
        When::AllDay(date) => format!("{} (all day)", date.format("%a %-d %b %Y")),
        When::Timed { start, end } if start.date_naive() == end.date_naive() => {
            format!("{}–{} UTC", start.format("%a %-d %b %Y, %H:%M"), end.format("%H:%M"))
        }
        When::Timed { start, end } => {
            format!("{} – {} UTC", start.format("%a %-d %b %Y, %H:%M"), end.format("%a %-d %b %Y, %H:%M"))
        }
    }
}

pub fn time_of(at: &DateTime<Utc>) -> String {
    at.format("%H:%M").to_string()
}

/// An error banner.
pub fn error_notice(message: Option<&str>) -> Markup {
    html! {
        @if let Some(message) = message {
            p.notice.error role="alert" { (message) }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone};

    use super::*;

    #[test]
    fn single_digit_days_are_not_padded() {
        let date = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        assert_eq!(when_text(&When::AllDay(date)), "Sun 1 Nov 2026 (all day)");
        let start = Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap();
        let end = Utc.with_ymd_and_hms(2026, 3, 2, 11, 30, 0).unwrap();
        assert_eq!(when_text(&When::Timed { start, end }), "Mon 2 Mar 2026, 10:00–11:30 UTC");
    }
}
