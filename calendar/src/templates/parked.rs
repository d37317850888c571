//! The operator page of parked feed entries: what the follower could not apply, why, and a
//! button to retry each open one once the cause is fixed.

use chrono::DateTime;
use maud::{Markup, html};
use service_kit::html::Site;

use super::error_notice;
use crate::store::ParkedEntry;

fn when(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

pub fn list(site: &Site, entries: &[ParkedEntry], error: Option<&str>) -> Markup {
    let open = entries.iter().filter(|e| e.resolved_at.is_none()).count();
    site.page(
        "Parked feed entries",
        Some("/feed/parked"),
        html! {
            h1 { "Parked feed entries" }
            (error_notice(error))
            p.muted {
                "Entries of the contacts feed calendar could not apply, parked so that the entries after them still "
                "arrive. Retrying one fetches the contact's current state from contacts and applies it."
            }
            @if entries.is_empty() {
                p { "Nothing parked: every entry of the feed was applied." }
            } @else {
                p { (open) " open, " (entries.len() - open) " resolved." }
                table {
                    thead { tr { th { "Parked" } th { "Type" } th { "Entry" } th { "Reason" } th { "Attempts" } th { "State" } } }
                    tbody {
                        @for entry in entries {
                            tr {
                                td { (when(entry.parked_at)) }
                                td { (entry.kind) }
                                td {
                                    (entry.entry_id)
                                    @if let Some(sequence) = entry.sequence { " (sequence " (sequence) ")" }
                                    @if let Some(contact) = &entry.contact_url { br; span.muted { (contact) } }
                                    details { summary { "Content" } pre { (entry.content) } }
                                }
                                td { (entry.reason) }
                                td { (entry.attempts) }
                                td {
                                    @match (entry.resolved_at, &entry.resolution) {
                                        (Some(at), resolution) => {
                                            "resolved " (when(at))
                                            @if let Some(how) = resolution { br; span.muted { (how) } }
                                        }
                                        (None, _) => {
                                            form method="post" action={ "/feed/parked/" (entry.id) "/retry" } {
                                                button type="submit" { "Retry" }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}
