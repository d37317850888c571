//! calendar: follows the contacts feed into a users replica, keeps calendars with events and
//! participants, exports iCalendar, and invites participants through the notifications service
//! (via a transactional outbox drained behind a circuit breaker).

pub mod config;
pub mod domain;
pub mod error;
pub mod ics;
pub mod metrics;
pub mod routes;
pub mod startup;
pub mod store;
pub mod templates;
pub mod workers;
