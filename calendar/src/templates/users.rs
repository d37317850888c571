//! The users pages.

use maud::{Markup, html};
use service_kit::html::Site;

use crate::links::Links;
use crate::store::User;

pub fn list(site: &Site, users: &[User], next: Option<&str>) -> Markup {
    site.page(
        "Users",
        Some("/users"),
        html! {
            h1 { "Users" }
            p.muted { "People known to calendar, as published by the contacts service." }
            @if users.is_empty() {
                p { "Nobody yet: users appear here when contacts publishes them." }
            } @else {
                table {
                    thead { tr { th { "Name" } th { "E-mail" } th { "Calendar" } } }
                    tbody {
                        @for user in users {
                            tr {
                                td { a href={ "/users/" (user.id) } { (user.display_name()) } }
                                td { (user.email) }
                                td { a href={ "/calendar/" (user.id) } { "Calendar" } }
                            }
                        }
                    }
                }
            }
            @if let Some(next) = next {
                nav.pager { a href=(next) { "Next page" } }
            }
        },
    )
}

pub fn one(site: &Site, links: &Links, user: &User) -> Markup {
    site.page(
        &user.display_name(),
        Some("/users"),
        html! {
            h1 { (user.display_name()) }
            div.card {
                dl.fields {
                    dt { "First name" } dd { (user.firstname) }
                    dt { "Last name" } dd { (user.lastname) }
                    dt { "E-mail" } dd { (user.email) }
                    dt { "Contact" } dd { a href=(contact_href(site, user)) { (user.display_name()) " in contacts" } }
                }
            }
            div.actions {
                a.button href={ "/calendar/" (user.id) } { "Open calendar" }
                a.button.secondary href=(links.ics(user.id)) { "Subscribe (.ics)" }
            }
        },
    )
}

/// The user's contact page, where a browser finds contacts (the replica's `contact_url` is where
/// calendar fetched it, which may be a name only the services resolve).
pub fn contact_href(site: &Site, user: &User) -> String {
    site.apps.contacts.join(&format!("contacts/{}", user.id)).map(String::from).unwrap_or_default()
}
