//! contacts: keeps contacts as an event-sourced model and publishes its events as an Atom feed.
//!
//! Where to look for what:
//! - [`startup`]: how the service is put together (database, store, routes, workers) and run;
//!   `main.rs` only wires it to the environment. [`config`]: the settings it reads.
//! - [`routes`]: HTTP. `routes/contacts.rs` is the contacts resource (its JSON API, and the one
//!   function that answers a `GET` as JSON or as the page), `routes/feed.rs` the feed endpoints,
//!   `routes/pages.rs` the HTML forms, `routes/listing.rs` the listing's query string.
//! - [`error`]: every way a request fails and the status and JSON error it answers with.
//! - [`domain`]: validated input, the contact, its events and how they replay.
//! - [`store`]: all SQL; every write appends an event and updates the read model in one
//!   transaction. `store/dialect.rs` holds every difference between SQLite and PostgreSQL.
//! - [`feed`]: the Atom documents, their ETags and cache, and the in-process head of the log.
//! - [`workers`]: the PostgreSQL listener that keeps replicas' heads current.
//! - [`templates`]: the HTML pages; [`links`]: absolute URLs from `PUBLIC_URL`;
//!   [`metrics`]: the domain metrics.
//!
//! Arrows point one way: routes use templates, store, domain and feed; templates use only domain
//! and `service_kit::html`; store uses domain, the feed head and metrics; only startup uses routes.

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
