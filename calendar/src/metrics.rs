//! calendar's domain metrics: names, descriptions and the label values they take.

/// Histogram of participants per event (a count, not a duration).
pub const EVENT_PARTICIPANTS: &str = "event_participants";
pub const FEED_EVENTS_PROCESSED: &str = "feed_events_processed_total";
pub const FEED_CONSUMER_LAG: &str = "feed_consumer_lag_seconds";
pub const FEED_LAST_SUCCESS: &str = "feed_last_success_timestamp_seconds";
pub const FEED_CHECKPOINT: &str = "feed_checkpoint_sequence";
pub const FEED_ERRORS: &str = "feed_errors_total";
pub const OUTBOX_PENDING: &str = "outbox_pending";
pub const NOTIFICATIONS_DISPATCHED: &str = "notifications_dispatched_total";
pub const CIRCUIT_BREAKER_STATE: &str = "circuit_breaker_state";

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
        "Age of the newest applied feed event, or 0 when caught up"
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
    metrics::describe_counter!(NOTIFICATIONS_DISPATCHED, "Notification delivery attempts, by outcome");
    metrics::describe_gauge!(
        CIRCUIT_BREAKER_STATE,
        "Circuit breaker state by target: 0 closed, 1 open, 2 half-open"
    );
}
