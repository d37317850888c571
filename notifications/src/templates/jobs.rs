//! The job list and one job's page.

use maud::{Markup, html};

use super::layout::{Pages, badge, when};
use crate::domain::{Job, JobStatus};
use crate::store::Page;

/// `GET /notifications` for a browser: one page of jobs (`limit` of them, only those with
/// `selected` status if given), with the status filter and a link to older jobs.
pub fn job_list(pages: &Pages, page: &Page<Job>, limit: u32, selected: Option<JobStatus>) -> Markup {
    let body = html! {
        h1 { "Notification jobs" }
        (pages.mode_notice())
        form.inline method="get" action="/notifications" {
            label {
                "Status"
                select name="status" {
                    option value="" selected[selected.is_none()] { "all" }
                    @for status in JobStatus::ALL {
                        option value=(status.as_str()) selected[selected == Some(status)] { (status.as_str()) }
                    }
                }
            }
            button type="submit" { "Show" }
        }
        @if page.items.is_empty() {
            p.muted { "No jobs yet." }
        } @else {
            table {
                thead { tr { th { "Created" } th { "To" } th { "Subject" } th { "Status" } th { "Attempts" } } }
                tbody {
                    @for job in &page.items {
                        tr {
                            td { a href={ "/notifications/" (job.id) } { (when(job.created_at)) } }
                            td { (job.notification.recipients().join(", ")) }
                            td { (job.notification.subject()) }
                            td { (badge(job.status)) }
                            td { (job.attempts) }
                        }
                    }
                }
            }
        }
        @if let Some(cursor) = page.next {
            nav.pager {
                a href={ "/notifications?limit=" (limit) "&cursor=" (cursor)
                    @if let Some(status) = selected { "&status=" (status.as_str()) } } { "Older jobs →" }
            }
        }
    };
    pages.page("Jobs", Some("/notifications"), body)
}

/// `GET /notifications/{id}` for a browser: the job, and in mailbox mode the message as stored
/// (`stored`: the raw message and when it was stored).
pub fn job(pages: &Pages, job: &Job, stored: Option<(String, i64)>) -> Markup {
    let body = html! {
        h1 { (job.notification.subject()) }
        div.card {
            dl.fields {
                dt { "Status" } dd { (badge(job.status)) }
                dt { "To" } dd { (job.notification.recipients().join(", ")) }
                dt { "From" } dd { (pages.mail_from) }
                dt { "Message-ID" } dd { code { (job.message_id) } }
                dt { "Attempts" } dd { (job.attempts) " of " (pages.max_attempts) }
                @if let Some(error) = &job.last_error { dt { "Last error" } dd.error { (error) } }
                dt { "Created" } dd { (when(job.created_at)) }
                dt { "Updated" } dd { (when(job.updated_at)) }
                @if job.status == JobStatus::Queued { dt { "Next attempt" } dd { (when(job.next_attempt_at)) } }
                @if let Some(sent) = job.sent_at { dt { "Sent" } dd { (when(sent)) } }
            }
        }
        h2 { "Message" }
        pre.mail { (job.notification.body()) }
        @if let Some((raw, stored_at)) = stored {
            h2 { "Stored message" }
            p.muted { "Stored in the mailbox at " (when(stored_at)) ", exactly as it would have been sent:" }
            pre.mail { (raw) }
        }
        p { a href="/notifications" { "← All jobs" } }
    };
    pages.page(job.notification.subject(), Some("/notifications"), body)
}

/// The page for a job id that names no job.
pub fn job_not_found(pages: &Pages) -> Markup {
    let body = html! { h1 { "Not found" } p { "There is no notification job with this id." } };
    pages.page("Not found", None, body)
}
