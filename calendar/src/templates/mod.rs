//! Server-rendered pages (maud: every interpolated value is escaped), in the shared layout.
//! Usable without JavaScript: links and forms that post and redirect.

pub mod calendar;
pub mod event;
pub mod users;

use chrono::{DateTime, Utc};
use maud::{Markup, html};

use crate::domain::When;

/// A human-readable "when".
pub fn when_text(when: &When) -> String {
    match when {
        When::AllDay(date) => format!("{} (all day)", date.format("%a %e %b %Y")),
        When::Timed { start, end } if start.date_naive() == end.date_naive() => {
            format!("{}–{} UTC", start.format("%a %e %b %Y, %H:%M"), end.format("%H:%M"))
        }
        When::Timed { start, end } => {
            format!("{} – {} UTC", start.format("%a %e %b %Y, %H:%M"), end.format("%a %e %b %Y, %H:%M"))
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
