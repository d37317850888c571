//! Names of the domain metrics, described once at start-up so they show on `/metrics` with help
//! text (and zero values) before the first event.

use crate::domain::EventKind;

/// Gauge: live contacts.
pub const CONTACTS: &str = "contacts";
/// Counter by `type`: events this process committed.
pub const EVENTS: &str = "contact_events_total";
/// Histogram: contacts returned per search request (one page of results).
pub const SEARCH_RESULTS: &str = "contacts_search_results";
/// Counter by `outcome`: feed and archive requests.
pub const FEED_REQUESTS: &str = "feed_requests_total";

/// Histograms that count things (they get count buckets instead of seconds buckets).
pub const COUNT_HISTOGRAMS: &[&str] = &[SEARCH_RESULTS];

/// Outcomes of a feed request.
#[derive(Debug, Clone, Copy)]
pub enum FeedOutcome {
    /// A document was sent at once.
    Ok,
    /// `If-None-Match` was current: `304` at once.
    NotModified,
    /// No such archive page.
    NotFound,
    /// A held request was answered with a new document.
    LongPollWoken,
    /// A held request ended without news (`304`).
    LongPollTimedOut,
}

impl FeedOutcome {
    const ALL: [Self; 5] =
        [Self::Ok, Self::NotModified, Self::NotFound, Self::LongPollWoken, Self::LongPollTimedOut];

    fn label(self) -> &'static str {
        match self {
            Self::Ok => "200",
            Self::NotModified => "304",
            Self::NotFound => "404",
            Self::LongPollWoken => "long_poll_woken",
            Self::LongPollTimedOut => "long_poll_timed_out",
        }
    }

    pub fn record(self) {
        metrics::counter!(FEED_REQUESTS, "outcome" => self.label()).increment(1);
    }
}

pub fn record_event(kind: EventKind) {
    metrics::counter!(EVENTS, "type" => kind.as_str()).increment(1);
}

/// Describes the metrics and registers every label value, so dashboards see zeros, not gaps.
pub fn describe() {
    metrics::describe_gauge!(CONTACTS, "Contacts currently stored");
    metrics::describe_counter!(EVENTS, "Contact events committed by this process, by type");
    metrics::describe_histogram!(SEARCH_RESULTS, "Contacts returned per search request (?q=)");
    metrics::describe_counter!(
        FEED_REQUESTS,
        "Feed requests by outcome: 200, 304, 404, long_poll_woken, long_poll_timed_out"
    );
    for kind in EventKind::ALL {
        metrics::counter!(EVENTS, "type" => kind.as_str()).increment(0);
    }
    for outcome in FeedOutcome::ALL {
        metrics::counter!(FEED_REQUESTS, "outcome" => outcome.label()).increment(0);
    }
}
