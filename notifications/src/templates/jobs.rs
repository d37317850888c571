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
        (pages.mode_notice(false))
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
                @if !job.notification.parts().is_empty() {
                    dt { "Other parts" }
                    dd {
                        ul {
                            @for part in job.notification.parts() {
                                li {
                                    code { (part.content_type) }
                                    @if let Some(name) = &part.filename { " attachment " q { (name) } } @else { " alternative" }
                                    ", " (part.size()) " bytes"
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Message" }
        pre.mail { (linked(job.notification.body())) }
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

/// A message body as text whose `http(s)://` addresses are links (the invitation's link to its
/// event); everything else, the addresses included, is escaped text.
fn linked(body: &str) -> Markup {
    let mut parts = Vec::new();
    let mut rest = body;
    while let Some(start) = ["https://", "http://"].iter().filter_map(|scheme| rest.find(scheme)).min() {
        let end = start + rest[start..].find(char::is_whitespace).unwrap_or(rest.len() - start);
        parts.push((&rest[..start], false));
        parts.push((&rest[start..end], true));
        rest = &rest[end..];
    }
    parts.push((rest, false));
    html! {
        @for (text, is_link) in parts {
            @if is_link { a href=(text) { (text) } } @else { (text) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::linked;

    #[test]
    fn addresses_in_a_message_become_links_and_the_rest_stays_text() {
        let html = linked("Hi <b>Ann</b>,\nsee https://cal.example/event/1?a=1&b=2 now\nhttp://x.example")
            .into_string();
        assert_eq!(
            html,
            "Hi &lt;b&gt;Ann&lt;/b&gt;,\nsee <a href=\"https://cal.example/event/1?a=1&amp;b=2\">https://cal.example/event/1?a=1&amp;b=2</a> now\n<a href=\"http://x.example\">http://x.example</a>"
        );
        assert_eq!(linked("no links, \"quoted\"").into_string(), "no links, &quot;quoted&quot;");
        assert_eq!(
            linked("javascript:alert(1) https://\"onmouseover=x").into_string(),
            "javascript:alert(1) <a href=\"https://&quot;onmouseover=x\">https://&quot;onmouseover=x</a>"
        );
    }
}
