//! contacts: keeps contacts as an event-sourced model and publishes its events as an Atom feed.
//!
//! - [`domain`]: validated input, the contact, its events and how they replay.
//! - [`store`]: SQL; every write appends an event and updates the read model in one transaction.
//! - [`feed`]: the Atom documents, their ETags and cache, the in-process head of the log and the
//!   PostgreSQL listener that keeps replicas' heads current.
//! - [`links`]: absolute URLs from `PUBLIC_URL`.
//! - [`routes`]: the JSON API, the feed endpoints and the HTML pages.

pub mod config;
pub mod domain;
pub mod error;
pub mod feed;
pub mod links;
pub mod metrics;
pub mod routes;
pub mod startup;
pub mod store;
pub mod templates;
pub mod workers;
