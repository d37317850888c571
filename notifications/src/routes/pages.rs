//! The operator's pages: the job list, one job (with its stored message in mailbox mode), and
//! the mailbox. Plain HTML forms and links, no scripts; `maud` escapes everything interpolated.
//! All of them need the operator's HTTP Basic credentials (see [`crate::auth`]).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use service_kit::error::Query;
use uuid::Uuid;

use super::notifications::ListParams;
use super::{AppState, into_private};
use crate::auth::Auth;
use crate::domain::{Job, JobStatus};
use crate::error::Error;

fn when(millis: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(millis)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

fn badge(status: JobStatus) -> Markup {
    html! { span class={ "badge " (status.as_str()) } { (status.as_str()) } }
}

fn mode_notice(app: &AppState) -> Markup {
    html! {
        @match &app.smtp_host {
            Some(host) => p.muted { "Sending through the SMTP server at " (host) "." },
            None => p.notice {
                "Mailbox mode: no SMTP_URL is set, so messages are stored instead of sent. Read them in the "
                a href="/mailbox" { "mailbox" } "."
            },
        }
    }
}

/// `GET /notifications` for a browser.
pub(super) async fn job_list(
    app: &AppState,
    headers: &HeaderMap,
    params: &ListParams,
) -> Result<Response, Error> {
    if !app.auth.is_operator(headers) {
        return Ok(Auth::page_challenge());
    }
    let limit = params.limit()?;
    let found = app.store.list(params.status, params.cursor()?, limit).await?;
    let (page, next) = (found.items, found.next);
    let selected = params.status;
    let body = html! {
        h1 { "Notification jobs" }
        (mode_notice(app))
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
        @if page.is_empty() {
            p.muted { "No jobs yet." }
        } @else {
            table {
                thead { tr { th { "Created" } th { "To" } th { "Subject" } th { "Status" } th { "Attempts" } } }
                tbody {
                    @for job in &page {
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
        @if let Some(cursor) = next {
            nav.pager {
                a href={ "/notifications?limit=" (limit) "&cursor=" (cursor)
                    @if let Some(status) = selected { "&status=" (status.as_str()) } } { "Older jobs →" }
            }
        }
    };
    Ok(into_private(app.site().page("Jobs", Some("/notifications"), body)))
}

/// `GET /notifications/{id}` for a browser.
pub(super) async fn job(app: &AppState, headers: &HeaderMap, id: Uuid) -> Result<Response, Error> {
    if !app.auth.is_operator(headers) {
        return Ok(Auth::page_challenge());
    }
    let Some(job) = app.store.get(id).await? else {
        let body = html! { h1 { "Not found" } p { "There is no notification job with this id." } };
        let page = app.site().page("Not found", None, body);
        return Ok(into_private((axum::http::StatusCode::NOT_FOUND, page)));
    };
    let stored = app.store.mailbox_message(id).await?;
    let body = html! {
        h1 { (job.notification.subject()) }
        div.card {
            dl.fields {
                dt { "Status" } dd { (badge(job.status)) }
                dt { "To" } dd { (job.notification.recipients().join(", ")) }
                dt { "From" } dd { (app.mail_from) }
                dt { "Message-ID" } dd { code { (job.message_id) } }
                dt { "Attempts" } dd { (job.attempts) " of " (app.max_attempts) }
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
    Ok(into_private(app.site().page(job.notification.subject(), Some("/notifications"), body)))
}

/// `GET /mailbox`: the messages stored in mailbox mode, newest first.
pub(super) async fn mailbox(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<ListParams>,
) -> Result<Response, Error> {
    if !app.auth.is_operator(&headers) {
        return Ok(Auth::page_challenge());
    }
    let limit = params.limit()?;
    let found = app.store.list_mailbox(params.cursor()?, limit).await?;
    let (page, next) = (found.items, found.next);
    let body = html! {
        h1 { "Mailbox" }
        (mode_notice(&app))
        @if page.is_empty() {
            p.muted { "No messages stored." }
        } @else {
            table {
                thead { tr { th { "Stored" } th { "To" } th { "Subject" } } }
                tbody {
                    @for message in &page {
                        (mailbox_row(&message.job, message.stored_at))
                    }
                }
            }
        }
        @if let Some(cursor) = next {
            nav.pager { a href={ "/mailbox?limit=" (limit) "&cursor=" (cursor) } { "Older messages →" } }
        }
    };
    Ok(into_private(app.site().page("Mailbox", Some("/mailbox"), body)))
}

fn mailbox_row(job: &Job, stored_at: i64) -> Markup {
    html! {
        tr {
            td { a href={ "/notifications/" (job.id) } { (when(stored_at)) } }
            td { (job.notification.recipients().join(", ")) }
            td { (job.notification.subject()) }
        }
    }
}
