//! calendar's domain metrics: names, descriptions and the label values they take.

/// Histogram of participants per event (a count, not a duration).
pub const EVENT_PARTICIPANTS: &str = "event_participants";
pub const FEED_EVENTS_PROCESSED: &str = "feed_events_processed_total";
pub const FEED_CONSUMER_LAG: &str = "feed_consumer_lag_seconds";
pub const FEED_LAST_SUCCESS: &str = "feed_last_success_timestamp_seconds";
pub const FEED_CHECKPOINT: &str = "feed_checkpoint_sequence";
pub const FEED_CONSUMER_POSITION: &str = "feed_consumer_position";
pub const FEED_ENTRIES_PARKED: &str = "feed_entries_parked_total";
pub const FEED_ERRORS: &str = "feed_errors_total";
pub const OUTBOX_PENDING: &str = "outbox_pending";
pub const OUTBOX_OLDEST_PENDING_AGE: &str = "outbox_oldest_pending_age_seconds";
pub const NOTIFICATIONS_DISPATCHED: &str = "notifications_dispatched_total";
pub const CIRCUIT_BREAKER_STATE: &str = "circuit_breaker_state";
/// Invitation requests refused with `429` (`QUOTA_INVITATIONS_PER_HOUR`), label `quota`.
pub const QUOTA_REFUSALS: &str = "quota_refusals_total";

/// The `type` values of `feed_events_processed_total` and `feed_entries_parked_total`
/// (`apply::type_label`).
const FEED_EVENT_TYPES: &[&str] = &["contact-created", "contact-updated", "contact-deleted", "unknown"];
/// The `kind` values of `feed_errors_total` (`FeedError::kind`, and `Refusal::kind` for a failed
/// attempt at an entry; `cancelled` is never counted).
const FEED_ERROR_KINDS: &[&str] = &[
    "timeout",
    "connect",
    "redirect",
    "http_status",
    "too_large",
    "body",
    "forbidden_origin",
    "charset",
    "malformed_document",
    "malformed_entry",
    "refused_entry",
    "gap",
    "cycle",
    "too_many_pages",
    "contact_fetch",
    "database",
];
/// The `outcome` values of `notifications_dispatched_total` (the dispatcher).
const DISPATCH_OUTCOMES: &[&str] = &["sent", "rejected", "retry", "failed", "short_circuited"];

/// Histograms that count things, for `service_kit::metrics::install`.
pub const COUNT_HISTOGRAMS: &[&str] = &[EVENT_PARTICIPANTS];

/// Registers descriptions (shown as `# HELP` lines).
pub fn describe() {
    metrics::describe_histogram!(EVENT_PARTICIPANTS, "Participants of an event after a change to its list");
    metrics::describe_counter!(
        FEED_EVENTS_PROCESSED,
        "Contact feed events applied to the users replica, by type"
    );
    metrics::describe_gauge!(
        FEED_CONSUMER_LAG,
        metrics::Unit::Seconds,
        "Age of the oldest feed event not applied yet (while failing, at least the time since the last successful step); 0 only when caught up"
    );
    metrics::describe_gauge!(
        FEED_CONSUMER_POSITION,
        "The last feed entry applied: its sequence, or for feeds without sequences the count applied"
    );
    metrics::describe_counter!(
        FEED_ENTRIES_PARKED,
        "Feed entries that could not be applied and were parked for an operator, by type"
    );
    metrics::describe_gauge!(
        FEED_LAST_SUCCESS,
        metrics::Unit::Seconds,
        "Unix time of the last successful feed poll"
    );
    metrics::describe_gauge!(
        FEED_CHECKPOINT,
        "Sequence of the last contacts feed event applied (compare with the feed's newest)"
    );
    metrics::describe_counter!(FEED_ERRORS, "Feed follower errors, by kind");
    metrics::describe_gauge!(OUTBOX_PENDING, "Notification jobs waiting in the outbox");
    metrics::describe_gauge!(
        OUTBOX_OLDEST_PENDING_AGE,
        metrics::Unit::Seconds,
        "Age of the oldest pending outbox row, or 0 when none is pending"
    );
    metrics::describe_counter!(NOTIFICATIONS_DISPATCHED, "Notification delivery attempts, by outcome");
    metrics::describe_gauge!(
        CIRCUIT_BREAKER_STATE,
        "Circuit breaker state by target: 0 closed, 1 open, 2 half-open"
    );
    // Every series an alert rule reads exists from start-up, at zero.
    for kind in FEED_EVENT_TYPES {
        metrics::counter!(FEED_EVENTS_PROCESSED, "type" => *kind).increment(0);
    }
    for kind in FEED_EVENT_TYPES {
        metrics::counter!(FEED_ENTRIES_PARKED, "type" => *kind).increment(0);
    }
    metrics::gauge!(FEED_CONSUMER_LAG).set(0.0);
    metrics::gauge!(FEED_CONSUMER_POSITION).set(0.0);
    metrics::gauge!(FEED_CHECKPOINT).set(0.0);
    for kind in FEED_ERROR_KINDS {
        metrics::counter!(FEED_ERRORS, "kind" => *kind).increment(0);
    }
    for outcome in DISPATCH_OUTCOMES {
        metrics::counter!(NOTIFICATIONS_DISPATCHED, "outcome" => *outcome).increment(0);
    }
    metrics::describe_counter!(
        QUOTA_REFUSALS,
        "Invitation requests refused with 429 because the organizer reached QUOTA_INVITATIONS_PER_HOUR"
    );
    metrics::counter!(QUOTA_REFUSALS, "quota" => "invitations").increment(0);
    let _registered = metrics::histogram!(EVENT_PARTICIPANTS);
}
