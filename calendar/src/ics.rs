//! iCalendar (RFC 5545) export of a user's calendar, built with the `icalendar` crate (which
//! does the escaping of TEXT values, CRLF line endings and line folding).
//!
//! Two things the crate (0.17) leaves to us: it escapes `\`, `;`, `,` and LF in the properties
//! it knows as TEXT, but never CR, so every text is normalised to LF line breaks first (a CR
//! would end the content line for some readers); and it does not know RFC 7986's `NAME` as
//! TEXT, so it and `X-WR-CALNAME` carry `VALUE=TEXT`, through which the crate escapes them.
//!
//! Each event names its `ORGANIZER` (the owner) and one `ATTENDEE` per participant
//! (`ROLE=REQ-PARTICIPANT`, `PARTSTAT=NEEDS-ACTION`: nobody can answer yet), as `mailto:` URIs
//! with the person's name in `CN`. A parameter value cannot be escaped (RFC 5545 3.2): the crate
//! quotes one holding `:`, `;` or `,`, and a name's double quotes become single ones and its
//! control characters spaces, so no name can end the parameter or the line.

use chrono::{DateTime, TimeDelta, Utc};
use icalendar::{Calendar, Component, EventLike, Property};

use crate::domain::When;
use crate::store::{StoredEvent, User};

pub const CONTENT_TYPE: &str = "text/calendar; charset=utf-8";
const PRODID: &str = "-//microservices demo//calendar service//EN";

/// Who takes part in an event: its organizer (unknown when the owner's contact is gone) and its
/// participants.
#[derive(Debug, Default)]
pub struct People<'a> {
    pub organizer: Option<&'a User>,
    pub attendees: &'a [User],
}

/// The whole calendar of `owner`. `event_url` gives each event's page (its `URL` property),
/// `people` who takes part in it.
pub fn calendar<'a>(
    owner: &User,
    events: &[StoredEvent],
    event_url: impl Fn(&StoredEvent) -> String,
    people: impl Fn(&StoredEvent) -> People<'a>,
) -> String {
    let mut calendar = Calendar::empty();
    calendar.append_property(("VERSION", "2.0"));
    calendar.append_property(("PRODID", PRODID));
    calendar.append_property(("CALSCALE", "GREGORIAN"));
    calendar.append_property(("METHOD", "PUBLISH"));
    // `VALUE=TEXT` makes the crate escape them, and tells readers that do not know the
    // property (icalendar reads unknown ones verbatim) that the value is escaped TEXT.
    let name = text(&format!("{} (calendar)", owner.display_name()));
    for key in ["NAME", "X-WR-CALNAME"] {
        calendar.append_property(Property::new(key, &name).add_parameter("VALUE", "TEXT").done());
    }
    for stored in events {
        calendar.push(vevent(stored, &event_url(stored), people(stored), false));
    }
    calendar.done().to_string()
}

/// An iMIP (RFC 6047) invitation of `attendee` to `event`: an iTIP `METHOD:REQUEST` holding the
/// event as the subscription shows it (same `UID` and `SEQUENCE`), its organizer, and the
/// attendee it is sent to, asked to answer (`RSVP=TRUE`). Other participants are not named: an
/// invitation tells nobody who else was asked. `None` without an organizer, which iTIP requires.
pub fn request(
    event: &StoredEvent,
    organizer: Option<&User>,
    attendee: &User,
    event_url: &str,
) -> Option<String> {
    let people = People { organizer: Some(organizer?), attendees: std::slice::from_ref(attendee) };
    Some(itip("REQUEST", vevent(event, event_url, people, true)))
}

/// An iMIP cancellation for `attendee` (the event was deleted, or they were removed from it): an
/// iTIP `METHOD:CANCEL` with the event's `UID`, `STATUS:CANCELLED` and a `SEQUENCE` one above
/// the event's, so it supersedes the last request. `None` without an organizer.
pub fn cancel(
    event: &StoredEvent,
    organizer: Option<&User>,
    attendee: &User,
    event_url: &str,
) -> Option<String> {
    let people = People { organizer: Some(organizer?), attendees: std::slice::from_ref(attendee) };
    let mut vevent = vevent(event, event_url, people, false);
    vevent
        .sequence(u32::try_from(event.revision + 1).unwrap_or(u32::MAX))
        .status(icalendar::EventStatus::Cancelled);
    Some(itip("CANCEL", vevent.done()))
}

/// An iTIP message (RFC 5546) with one event.
fn itip(method: &str, event: icalendar::Event) -> String {
    let mut calendar = Calendar::empty();
    calendar.append_property(("VERSION", "2.0"));
    calendar.append_property(("PRODID", PRODID));
    calendar.append_property(("CALSCALE", "GREGORIAN"));
    calendar.append_property(("METHOD", method));
    calendar.push(event);
    calendar.done().to_string()
}

/// One `VEVENT`; `rsvp`: each attendee is asked to answer (`RSVP=TRUE`, in an invitation).
fn vevent(stored: &StoredEvent, url: &str, people: People<'_>, rsvp: bool) -> icalendar::Event {
    let mut event = icalendar::Event::new();
    event
        .uid(&format!("{}@calendar", stored.id))
        .timestamp(instant(stored.updated_at))
        .created(instant(stored.created_at))
        .last_modified(instant(stored.updated_at))
        .sequence(u32::try_from(stored.revision).unwrap_or(u32::MAX))
        .summary(&text(&stored.title))
        .url(url);
    match stored.when {
        When::AllDay(date) => {
            event.starts(date).ends(date + TimeDelta::days(1));
        }
        When::Timed { start, end } => {
            event.starts(start).ends(end);
        }
    }
    if let Some(description) = &stored.description {
        event.description(&text(description));
    }
    if let Some(location) = &stored.location {
        event.location(&text(location));
    }
    let People { organizer, attendees } = people;
    if let Some(organizer) = organizer {
        event.append_property(person("ORGANIZER", organizer));
    }
    for attendee in attendees {
        let mut property = person("ATTENDEE", attendee);
        property.add_parameter("ROLE", "REQ-PARTICIPANT").add_parameter("PARTSTAT", "NEEDS-ACTION");
        if rsvp {
            property.add_parameter("RSVP", "TRUE");
        }
        event.append_multi_property(property.done());
    }
    event.done()
}

/// `ORGANIZER` or `ATTENDEE`: the person's `mailto:` address, their name as `CN`.
fn person(key: &str, user: &User) -> Property {
    let name: String = user
        .display_name()
        .chars()
        .map(|c| match c {
            '"' => '\'',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect();
    Property::new(key, service_kit::email::mailto(&user.email)).add_parameter("CN", name.trim()).done()
}

/// Text with every line break as LF (`\r\n` and a lone `\r` alike), which the crate escapes.
fn text(raw: &str) -> String {
    raw.replace("\r\n", "\n").replace('\r', "\n")
}

fn instant(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use uuid::Uuid;

    use super::*;

    fn user() -> User {
        User {
            id: Uuid::nil(),
            email: "ann@example.org".into(),
            firstname: "Ann".into(),
            lastname: "Lee".into(),
            contact_url: "http://contacts/contacts/0".into(),
            updated_at: 0,
        }
    }

    fn event(when: When, title: &str) -> StoredEvent {
        StoredEvent {
            id: Uuid::now_v7(),
            owner_id: Uuid::nil(),
            title: title.into(),
            description: Some("line one\nline two; with, commas".into()),
            location: None,
            when,
            revision: 2,
            created_at: 1_700_000_000_000,
            updated_at: 1_700_000_000_000,
        }
    }

    #[test]
    fn an_invitation_is_an_itip_request_naming_the_organizer_and_the_invitee_only() {
        let date = NaiveDate::from_ymd_opt(2026, 12, 24).unwrap();
        let stored = event(When::AllDay(date), "Party");
        let mut guest = user();
        guest.id = Uuid::now_v7();
        guest.email = "bob@example.org".into();
        guest.firstname = "Bob \"the\" Builder".into();
        let ics = request(&stored, Some(&user()), &guest, "http://localhost:3002/event/x").unwrap();
        let unfolded = ics.replace("\r\n ", "");
        assert!(unfolded.contains("\r\nMETHOD:REQUEST\r\n"), "{unfolded}");
        assert!(unfolded.contains(&format!("\r\nUID:{}@calendar\r\n", stored.id)), "{unfolded}");
        assert!(unfolded.contains("\r\nSEQUENCE:2\r\n"), "{unfolded}");
        assert!(unfolded.contains("\r\nORGANIZER;CN=Ann Lee:mailto:ann@example.org\r\n"), "{unfolded}");
        assert!(
            unfolded.contains(
                "\r\nATTENDEE;CN=Bob 'the' Builder Lee;PARTSTAT=NEEDS-ACTION;ROLE=REQ-PARTICIPANT;RSVP=TRUE:mailto:bob@example.org\r\n"
            ),
            "{unfolded}"
        );
        assert_eq!(unfolded.matches("ATTENDEE").count(), 1);
        assert!(request(&stored, None, &guest, "http://x/").is_none(), "iTIP needs an organizer");
    }

    #[test]
    fn a_cancellation_supersedes_the_request_and_says_the_event_is_cancelled() {
        let start = DateTime::parse_from_rfc3339("2026-12-24T18:00:00Z").unwrap().to_utc();
        let stored = event(When::Timed { start, end: start + TimeDelta::hours(1) }, "Party");
        let mut guest = user();
        guest.email = "bob@example.org".into();
        let request = request(&stored, Some(&user()), &guest, "http://x/").unwrap();
        let cancel = cancel(&stored, Some(&user()), &guest, "http://x/").unwrap();
        assert!(cancel.contains("\r\nMETHOD:CANCEL\r\n"), "{cancel}");
        assert!(cancel.contains("\r\nSTATUS:CANCELLED\r\n"), "{cancel}");
        assert!(request.contains("\r\nSEQUENCE:2\r\n") && cancel.contains("\r\nSEQUENCE:3\r\n"), "{cancel}");
        assert_eq!(cancel.matches("\r\nSEQUENCE:").count(), 1, "{cancel}");
        assert!(!cancel.contains("RSVP"), "nothing to answer: {cancel}");
        assert!(super::cancel(&stored, None, &guest, "http://x/").is_none());
    }

    #[test]
    fn all_day_and_timed_events_have_the_required_properties() {
        let date = NaiveDate::from_ymd_opt(2026, 12, 24).unwrap();
        let start = DateTime::parse_from_rfc3339("2026-12-24T18:00:00Z").unwrap().to_utc();
        let events = [
            event(When::AllDay(date), "Christmas Eve"),
            event(When::Timed { start, end: start + TimeDelta::hours(2) }, &"Long title ".repeat(10)),
        ];
        let ics = calendar(
            &user(),
            &events,
            |_| "http://localhost:3002/event/x".to_string(),
            |_| People::default(),
        );
        assert!(ics.starts_with("BEGIN:VCALENDAR\r\n"), "{ics}");
        assert!(ics.contains("VERSION:2.0\r\n") && ics.contains(&format!("PRODID:{PRODID}\r\n")));
        assert!(ics.contains("DTSTART;VALUE=DATE:20261224\r\n"), "{ics}");
        assert!(ics.contains("DTEND;VALUE=DATE:20261225\r\n"), "{ics}");
        assert!(ics.contains("DTSTART:20261224T180000Z\r\n"), "{ics}");
        assert!(ics.contains("DESCRIPTION:line one\\nline two\\; with\\, commas\r\n"), "{ics}");
        assert_eq!(ics.matches("DTSTAMP:").count(), 2);
        assert!(ics.lines().all(|l| l.len() <= 75), "lines are folded: {ics}");
        assert!(!ics.replace("\r\n", "").contains('\n'), "only CRLF line endings");
    }

    #[test]
    fn names_and_texts_with_line_breaks_and_separators_stay_inside_their_properties() {
        let mut owner = user();
        owner.firstname = "Ann\r\nEND:VCALENDAR".into();
        owner.lastname = "Lee;\rJr, \\x".into();
        let date = NaiveDate::from_ymd_opt(2026, 12, 24).unwrap();
        let mut hostile = event(When::AllDay(date), "a\rb\r\nc");
        hostile.description = Some("one\r\ntwo\rthree".into());
        let ics = calendar(
            &owner,
            &[hostile],
            |_| "http://localhost:3002/event/x".to_string(),
            |_| People::default(),
        );
        let unfolded = ics.replace("\r\n ", "");
        assert!(
            unfolded.contains("\r\nNAME;VALUE=TEXT:Ann\\nEND:VCALENDAR Lee\\;\\nJr\\, \\\\x (calendar)\r\n"),
            "{unfolded}"
        );
        assert!(
            unfolded.contains(
                "\r\nX-WR-CALNAME;VALUE=TEXT:Ann\\nEND:VCALENDAR Lee\\;\\nJr\\, \\\\x (calendar)\r\n"
            ),
            "{unfolded}"
        );
        assert!(unfolded.contains("\r\nSUMMARY:a\\nb\\nc\r\n"), "{unfolded}");
        assert!(unfolded.contains("\r\nDESCRIPTION:one\\ntwo\\nthree\r\n"), "{unfolded}");
        assert!(!ics.replace("\r\n", "").contains('\r'), "no CR but in line ends: {ics:?}");
        assert_eq!(
            unfolded.matches("END:VCALENDAR").count(),
            3,
            "the end, and the escaped text in the two names"
        );
    }

    #[test]
    fn the_organizer_and_each_attendee_are_named_by_address_and_a_name_that_cannot_break_out() {
        let owner = user();
        let mut guest = user();
        guest.email = "bob+x@example.org".into();
        guest.firstname = "Bob \"the;Boss\"".into();
        guest.lastname = "Ray:\r\nEND:VEVENT".into();
        let mut plain = user();
        plain.email = "cy@example.org".into();
        plain.firstname = "Cy".into();
        plain.lastname = "Dee".into();
        let attendees = [guest, plain];
        let date = NaiveDate::from_ymd_opt(2026, 12, 24).unwrap();
        let ics = calendar(
            &owner,
            &[event(When::AllDay(date), "Party")],
            |_| String::new(),
            |_| People { organizer: Some(&owner), attendees: &attendees },
        );
        let unfolded = ics.replace("\r\n ", "");
        assert!(unfolded.contains("\r\nORGANIZER;CN=Ann Lee:mailto:ann@example.org\r\n"), "{unfolded}");
        assert!(
            unfolded.contains(
                "\r\nATTENDEE;CN=\"Bob 'the;Boss' Ray:  END:VEVENT\";PARTSTAT=NEEDS-ACTION;ROLE=REQ-PARTICIPANT:mailto:bob+x@example.org\r\n"
            ),
            "{unfolded}"
        );
        assert!(
            unfolded.contains(
                "\r\nATTENDEE;CN=Cy Dee;PARTSTAT=NEEDS-ACTION;ROLE=REQ-PARTICIPANT:mailto:cy@example.org\r\n"
            ),
            "{unfolded}"
        );
        assert_eq!(unfolded.matches("\r\nEND:VEVENT\r\n").count(), 1, "one event: {unfolded}");
    }
}
