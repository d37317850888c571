//! The HTML pages (maud escapes every interpolated value, so user data only ever shows as text).

use maud::{Markup, html};
use service_kit::html::Site;

use crate::domain::{Contact, EMAIL_MAX_CHARS, FieldError, NAME_MAX_CHARS};

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
                dt { "Email" } dd { a href={ "mailto:" (contact.email) } { (contact.email) } }
                dt { "Id" } dd.muted { (contact.id) }
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
