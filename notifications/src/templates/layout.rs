//! What every operator page shares: the site's frame and what the pages say about the service.

use chrono::{DateTime, Utc};
use lettre::message::Mailbox;
use maud::{Markup, html};
use service_kit::config::AppUrls;
use service_kit::html::{NavLink, Site};

use crate::domain::JobStatus;

/// The service as the pages describe it: where mail goes, who sends it, how often it is tried.
#[derive(Debug, Clone)]
pub struct Pages {
    pub(super) site: Site,
    /// `None` in mailbox mode, else the SMTP server's host.
    pub(super) smtp_host: Option<String>,
    pub(super) mail_from: Mailbox,
    pub(super) max_attempts: u32,
}

impl Pages {
    pub fn new(smtp_host: Option<String>, mail_from: Mailbox, max_attempts: u32, apps: AppUrls) -> Self {
        let site = Site {
            name: "notifications",
            home: "/notifications".into(),
            nav: vec![NavLink::new("/notifications", "Jobs"), NavLink::new("/mailbox", "Mailbox")],
            apps,
        };
        Self { site, smtp_host, mail_from, max_attempts }
    }

    /// A full page around `body`; `current` is the navigation entry to mark.
    pub(super) fn page(&self, title: &str, current: Option<&str>, body: Markup) -> Markup {
        self.site.page(title, current, body)
    }

    /// Where messages go: the SMTP server, or the mailbox (linked, unless `on_mailbox`: the
    /// page showing it is the mailbox).
    pub(super) fn mode_notice(&self, on_mailbox: bool) -> Markup {
        html! {
            @match &self.smtp_host {
                Some(host) => p.muted { "Sending through the SMTP server at " (host) "." },
                None => p.notice {
                    "Mailbox mode: no SMTP_URL is set, so messages are stored instead of sent"
                    @if on_mailbox { ", and listed here." } @else { ". Read them in the " a href="/mailbox" { "mailbox" } "." }
                },
            }
        }
    }
}

/// An epoch-milliseconds time as the pages show it.
pub(super) fn when(millis: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(millis)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

pub(super) fn badge(status: JobStatus) -> Markup {
    html! { span class={ "badge " (status.as_str()) } { (status.as_str()) } }
}
