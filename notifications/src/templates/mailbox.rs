//! The mailbox: the messages stored in mailbox mode, newest first.

use maud::{Markup, html};

use super::layout::{Pages, when};
use crate::domain::Job;
use crate::store::{Page, StoredMessage};

/// `GET /mailbox`: one page of `limit` stored messages, with a link to older ones.
pub fn mailbox(pages: &Pages, page: &Page<StoredMessage>, limit: u32) -> Markup {
    let body = html! {
        h1 { "Mailbox" }
        (pages.mode_notice(true))
        @if page.items.is_empty() {
            p.muted { "No messages stored." }
        } @else {
            table {
                thead { tr { th { "Stored" } th { "To" } th { "Subject" } } }
                tbody {
                    @for message in &page.items {
                        (row(&message.job, message.stored_at))
                    }
                }
            }
        }
        @if let Some(cursor) = page.next {
            nav.pager { a href={ "/mailbox?limit=" (limit) "&cursor=" (cursor) } { "Older messages →" } }
        }
    };
    pages.page("Mailbox", Some("/mailbox"), body)
}

fn row(job: &Job, stored_at: i64) -> Markup {
    html! {
        tr {
            td { a href={ "/notifications/" (job.id) } { (when(stored_at)) } }
            td { (job.notification.recipients().join(", ")) }
            td { (job.notification.subject()) }
        }
    }
}
