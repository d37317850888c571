//! The HTML pages (maud escapes every interpolated value, so user data only ever shows as text).

use maud::{Markup, html};
use service_kit::html::Site;

use crate::domain::{Contact, EMAIL_MAX_CHARS, Event, EventData, FieldError, NAME_MAX_CHARS};

/// What a contact form shows: the values as typed and the errors per field.
#[derive(Debug, Default)]
pub struct FormState {
    pub firstname: String,
    pub lastname: String,
    pub email: String,
    pub errors: Vec<FieldError>,
}

impl FormState {
    pub fn from_contact(contact: &Contact) -> Self {
        Self {
            firstname: contact.firstname.clone(),
            lastname: contact.lastname.clone(),
            email: contact.email.clone(),
            errors: Vec::new(),
        }
    }

    fn error(&self, field: &str) -> Option<&str> {
        self.errors.iter().find(|e| e.field == field).map(|e| e.message.as_str())
    }
}

pub fn list(site: &Site, search: &str, contacts: &[Contact], next_href: Option<&str>) -> Markup {
    let body = html! {
        h1 { "Contacts" }
        form.inline method="get" action="/" role="search" {
            label { "Search" input type="search" name="q" value=(search) placeholder="name or email"; }
            button type="submit" { "Search" }
            @if !search.is_empty() { a.button.secondary href="/" { "Clear" } }
        }
        div.actions {
            a.button href="/contacts/new" { "New contact" }
            a.button.secondary href="/feed" { "Event feed (Atom)" }
        }
        @if contacts.is_empty() {
            p.muted { @if search.is_empty() { "No contacts yet." } @else { "No contact matches \u{201c}" (search) "\u{201d}." } }
        } @else {
            table {
                thead { tr { th { "Name" } th { "Email" } } }
                tbody {
                    @for c in contacts {
                        tr {
                            td { a href={ "/contacts/" (c.id) } { (c.lastname) ", " (c.firstname) } }
                            td { (c.email) }
                        }
                    }
                }
            }
        }
        @if let Some(href) = next_href {
            div.pager { a href=(href) rel="next" { "Next page \u{2192}" } }
        }
    };
    site.page("Contacts", Some("/"), body)
}

pub fn contact(site: &Site, contact: &Contact) -> Markup {
    let name = format!("{} {}", contact.firstname, contact.lastname);
    let body = html! {
        h1 { (name) }
        div.card {
            dl.fields {
                dt { "First name" } dd { (contact.firstname) }
                dt { "Last name" } dd { (contact.lastname) }
                dt { "Email" } dd { a href=(service_kit::email::mailto(&contact.email)) { (contact.email) } }
                dt { "Calendar" } dd { a href=(site.apps.calendar.join(&format!("calendar/{}", contact.id)).map(String::from).unwrap_or_default()) { (name) "\u{2019}s calendar" } }
            }
        }
        div.actions {
            a.button href={ "/contacts/" (contact.id) "/edit" } { "Edit" }
            a.button.secondary href={ "/contacts/" (contact.id) "/delete" } { "Delete" }
            a.button.secondary href="/" { "All contacts" }
        }
    };
    site.page(&name, None, body)
}

/// The create and edit form; posts to `action`, shows errors next to their fields.
pub fn contact_form(
    site: &Site,
    title: &str,
    action: &str,
    submit: &str,
    cancel: &str,
    form: &FormState,
) -> Markup {
    let field = |name: &str, label: &str, kind: &str, value: &str, max: usize| {
        let error = form.error(name);
        let error_id = format!("{name}-error");
        html! {
            label {
                (label)
                input type=(kind) name=(name) value=(value) required maxlength=(max)
                    aria-invalid=[error.map(|_| "true")] aria-describedby=[error.map(|_| error_id.as_str())];
                @if let Some(message) = error {
                    span.error id=(error_id) { (label) " " (message) }
                }
            }
        }
    };
    let body = html! {
        h1 { (title) }
        @if !form.errors.is_empty() {
            div.notice.error role="alert" { "Please correct the fields marked below." }
        }
        form.stack method="post" action=(action) novalidate {
            (field("firstname", "First name", "text", &form.firstname, NAME_MAX_CHARS))
            (field("lastname", "Last name", "text", &form.lastname, NAME_MAX_CHARS))
            (field("email", "Email", "email", &form.email, EMAIL_MAX_CHARS))
            div.actions {
                button type="submit" { (submit) }
                a.button.secondary href=(cancel) { "Cancel" }
            }
        }
    };
    site.page(title, None, body)
}

pub fn confirm_delete(site: &Site, contact: &Contact) -> Markup {
    let name = format!("{} {}", contact.firstname, contact.lastname);
    let body = html! {
        h1 { "Delete " (name) "?" }
        p { "This removes " strong { (name) } " (" (contact.email) ") for good." }
        form method="post" action={ "/contacts/" (contact.id) "/delete" } {
            div.actions {
                button.danger type="submit" { "Delete" }
                a.button.secondary href={ "/contacts/" (contact.id) } { "Cancel" }
            }
        }
    };
    site.page(&format!("Delete {name}"), None, body)
}

pub fn not_found(site: &Site) -> Markup {
    let body = html! {
        h1 { "Not found" }
        p { "There is no such contact. It may have been deleted." }
        p { a href="/" { "All contacts" } }
    };
    site.page("Not found", None, body)
}

/// Where a feed page leads: the older and newer documents, when there are.
#[derive(Debug, Default)]
pub struct FeedNav {
    pub older: Option<String>,
    pub newer: Option<String>,
}

/// A feed document as a page (what a browser asks for; feed readers get Atom from the same URL).
pub fn feed(site: &Site, heading: &str, feed_url: &str, events: &[Event], nav: &FeedNav) -> Markup {
    let body = html! {
        h1 { (heading) }
        p.muted {
            "Every change to a contact, newest first. Feed readers and the calendar service subscribe to "
            code { (feed_url) } " and get it as Atom (RFC 4287, archived per RFC 5005)."
        }
        @if events.is_empty() {
            p.muted { "No events yet." }
        } @else {
            table {
                thead { tr { th { "#" } th { "When (UTC)" } th { "Event" } th { "Contact" } th { "Data" } } }
                tbody {
                    @for event in events {
                        tr {
                            td { (event.sequence) }
                            td { (when(event.occurred_at)) }
                            td { (event.data.kind().as_str()) }
                            td {
                                @if matches!(event.data, EventData::Deleted) { code { (event.contact_id) } }
                                @else { a href={ "/contacts/" (event.contact_id) } { code { (event.contact_id) } } }
                            }
                            td { (summary(&event.data)) }
                        }
                    }
                }
            }
        }
        div.pager {
            @if let Some(href) = &nav.older { a href=(href) rel="prev-archive" { "\u{2190} Older events" } }
            " "
            @if let Some(href) = &nav.newer { a href=(href) rel="next-archive" { "Newer events \u{2192}" } }
        }
    };
    site.page(heading, Some("/feed"), body)
}

fn when(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .unwrap_or_default()
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

fn summary(data: &EventData) -> String {
    match data {
        EventData::Created { firstname, lastname, email } => format!("{firstname} {lastname} <{email}>"),
        EventData::Updated(updates) => [
            updates.firstname.as_ref().map(|v| format!("first name: {v}")),
            updates.lastname.as_ref().map(|v| format!("last name: {v}")),
            updates.email.as_ref().map(|v| format!("e-mail: {v}")),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", "),
        EventData::Deleted => String::new(),
    }
}
