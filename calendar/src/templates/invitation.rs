//! The invitation e-mail for a new participant of an event, the update for every participant
//! when it changes, and the cancellation when it is deleted or they are removed: plain text, and the iMIP
//! `METHOD:REQUEST` a mail client offers to accept or decline.

use crate::domain::When;
use crate::ics;
use crate::store::{NewJob, StoredEvent, User};

/// The notification job inviting `guest` to `event`, hosted by `owner`, with a link to the
/// event's page at `event_url`.
pub fn invitation(guest: &User, event: &StoredEvent, owner: Option<&User>, event_url: &str) -> NewJob {
    let host = host(owner);
    NewJob {
        email: guest.email.clone(),
        subject: format!("Invitation: {}", event.title),
        message: format!(
            "{host} invites you to \"{}\".\n\n{}\n\nDetails: {event_url}\n",
            event.title,
            details(event)
        ),
        calendar: ics::request(event, owner, guest, event_url),
    }
}

/// The notification job telling participant `guest` that `event` changed (its title, time or
/// place): a new iMIP request, with the event's higher `SEQUENCE`.
pub fn update(guest: &User, event: &StoredEvent, owner: Option<&User>, event_url: &str) -> NewJob {
    let host = host(owner);
    NewJob {
        email: guest.email.clone(),
        subject: format!("Updated invitation: {}", event.title),
        message: format!(
            "{host} changed \"{}\", which you are invited to. It is now:\n\n{}\n\nDetails: {event_url}\n",
            event.title,
            details(event)
        ),
        calendar: ics::request(event, owner, guest, event_url),
    }
}

/// The notification job telling participant `guest` that `event` was deleted: an iMIP
/// cancellation.
pub fn cancellation(guest: &User, event: &StoredEvent, owner: Option<&User>, event_url: &str) -> NewJob {
    NewJob {
        email: guest.email.clone(),
        subject: format!("Cancelled: {}", event.title),
        message: format!(
            "{} cancelled \"{}\", which you were invited to.\n\n{}\n",
            host(owner),
            event.title,
            details(event)
        ),
        calendar: ics::cancel(event, owner, guest, event_url),
    }
}

/// The notification job telling `guest` they were removed from `event`: an iMIP cancellation
/// for them alone.
pub fn removal(guest: &User, event: &StoredEvent, owner: Option<&User>, event_url: &str) -> NewJob {
    NewJob {
        email: guest.email.clone(),
        subject: format!("No longer invited: {}", event.title),
        message: format!(
            "You are no longer a participant of \"{}\" ({}).\n\n{}\n",
            event.title,
            host(owner),
            details(event)
        ),
        calendar: ics::cancel(event, owner, guest, event_url),
    }
}

fn host(owner: Option<&User>) -> String {
    owner.map_or_else(|| "Someone".to_string(), User::display_name)
}

/// "When: …" and, if the event has a place, "Where: …".
fn details(event: &StoredEvent) -> String {
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
    format!("When: {when}{place}")
}
