//! The invitation e-mail (plain text) for a new participant of an event.

use crate::domain::When;
use crate::store::{NewJob, StoredEvent, User};

/// The notification job inviting `guest` to `event`, hosted by `owner`, with a link to the
/// event's page at `event_url`.
pub fn invitation(guest: &User, event: &StoredEvent, owner: Option<&User>, event_url: &str) -> NewJob {
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
