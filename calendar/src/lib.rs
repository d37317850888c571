//! calendar: follows the contacts feed into a users replica, keeps calendars with events and
//! participants, exports iCalendar, and invites participants through the notifications service
//! (via a transactional outbox drained behind a circuit breaker).
//!
//! Where to look:
//! - [`startup`] builds the application from [`config`]'s settings: database, routes, workers.
//! - [`routes`]: the HTTP endpoints, one file per resource, plus the pages' form endpoints;
//!   [`error`] is every way a request fails and the answer each gets.
//! - [`domain`]: validated input (event drafts, e-mail addresses, months), parsed once.
//! - [`store`]: all SQL, behind one `Store` that picks the reader or writer pool itself.
//! - [`workers`]: the feed follower and the outbox dispatcher, each with a `step` for tests.
//! - [`templates`] (HTML pages and the invitation e-mail), [`ics`] (iCalendar), [`links`]
//!   (absolute URLs from `PUBLIC_URL`), [`metrics`] (metric names and descriptions).
//!
//! Arrows point one way: routes → templates, store, domain, and the feed worker's retry handle
//! (operators retry parked entries); workers → store; templates → domain, links, store's row
//! types; store → domain.

pub mod config;
pub mod domain;
pub mod error;
pub mod ics;
pub mod links;
pub mod metrics;
pub mod routes;
pub mod startup;
pub mod store;
pub mod templates;
pub mod workers;
