//! The event page: details, participants (with remove buttons), an invitation form, the
//! invitations' delivery state, and forms to edit or delete the event.

use maud::{Markup, html};
use service_kit::html::Site;

use super::calendar::form_values;
use super::{error_notice, when_text};
use crate::links::Links;
use crate::store::{JobStatus, JobSummary, StoredEvent, User};

pub fn page(
    site: &Site,
    links: &Links,
    event: &StoredEvent,
    owner: Option<&User>,
    participants: &[User],
    invitations: &[JobSummary],
    error: Option<&str>,
) -> Markup {
    let form = form_values(event);
    site.page(
        &event.title,
        None,
        html! {
            h1 { (event.title) }
            (error_notice(error))
            div.card {
                dl.fields {
                    dt { "When" } dd { (when_text(&event.when)) }
                    @if let Some(location) = &event.location { dt { "Where" } dd { (location) } }
                    dt { "Calendar" }
                    dd {
                        a href={ "/calendar/" (event.owner_id) } {
                            (owner.map_or_else(|| event.owner_id.to_string(), User::display_name))
                        }
                    }
                }
                @if let Some(description) = &event.description {
                    @for line in description.lines() { p { (line) } }
                }
            }
            h2 { "Participants" }
            @if participants.is_empty() {
                p.muted { "Nobody invited yet." }
            } @else {
                table {
                    thead { tr { th { "Name" } th { "E-mail" } th { "Contact" } th { span.muted { "Remove" } } } }
                    tbody {
                        @for user in participants {
                            tr {
                                td { a href={ "/users/" (user.id) } { (user.display_name()) } }
                                td { (user.email) }
                                td { a href=(super::users::contact_href(site, user)) { "in contacts" } }
                                td {
                                    form.inline method="post" action={ "/event/" (event.id) "/participants/" (user.id) "/remove" } {
                                        button.secondary type="submit" { "Remove" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            h2 id="invite" { "Invite" }
            form.stack method="post" action={ "/event/" (event.id) "/invite" } {
                label {
                    "E-mail addresses of known users (separated by commas or new lines)"
                    textarea name="emails" required {}
                }
                button type="submit" { "Invite" }
            }
            @if !invitations.is_empty() {
                h2 { "Invitations" }
                table {
                    thead { tr { th { "To" } th { "State" } th { "Attempts" } th { "Last problem" } th { "At notifications" } } }
                    tbody {
                        @for job in invitations {
                            tr {
                                td { (job.email) }
                                td { span class={ "badge " (badge(job.status)) } { (job.status) } }
                                td { (job.attempts) }
                                td.muted { (job.last_error.as_deref().unwrap_or("")) }
                                td {
                                    @if let Some(url) = job.job_id.and_then(|id| site.apps.notifications.join(&format!("notifications/{id}")).ok()) {
                                        a href=(url) { "the job" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            h2 { "Edit" }
            form.stack method="post" action={ "/event/" (event.id) "/edit" } {
                label { "Title" input type="text" name="title" required maxlength="200" value=[form.title.as_deref()]; }
                label { "Date" input type="date" name="date" required value=[form.date.as_deref()]; }
                label { "Starts at (UTC, empty for all day)" input type="time" name="start_time" value=[form.start_time.as_deref()]; }
                label { "Ends at (UTC)" input type="time" name="end_time" value=[form.end_time.as_deref()]; }
                label { "Location" input type="text" name="location" maxlength="200" value=[form.location.as_deref()]; }
                label { "Description" textarea name="description" maxlength="4000" { (form.description.as_deref().unwrap_or("")) } }
                button type="submit" { "Save" }
            }
            div.actions {
                a.button.secondary href=(links.ics(event.owner_id)) { "Calendar as .ics" }
                form.inline method="post" action={ "/event/" (event.id) "/delete" } {
                    button.danger type="submit" { "Delete event" }
                }
            }
        },
    )
}

fn badge(status: JobStatus) -> &'static str {
    match status {
        JobStatus::Sent => "sent",
        JobStatus::Failed | JobStatus::Cancelled => "failed",
        JobStatus::Pending => "queued",
    }
}
