//! Plumbing shared by the contacts, calendar and notifications services.
//!
//! Only what every service needs in the same way lives here: configuration from the environment
//! ([`config`]), logging ([`telemetry`]), HTTP middleware and the request id ([`http`]), metrics
//! ([`metrics`]), health checks ([`health`]), shutdown ([`shutdown`]), database connection and
//! migrations ([`db`]), the error-response shape and extractors ([`error`]), the server loop
//! ([`server`]), start-up ([`app`]), the pages' shared look ([`html`]) and content negotiation
//! ([`negotiate`]). No domain types: each service owns its model and its database.

pub mod app;
pub mod config;
pub mod db;
pub mod error;
pub mod health;
pub mod html;
pub mod http;
pub mod metrics;
pub mod negotiate;
pub mod server;
pub mod shutdown;
pub mod telemetry;

pub use error::ApiError;

/// Every binary that links this crate (the three services and their tests) allocates with
/// mimalloc instead of glibc's malloc. A request allocates and frees a few hundred small
/// objects (headers, the boxed middleware futures, the log line), and glibc's slow paths for
/// them were a third of the user-space instructions of a cheap request; mimalloc cuts the
/// instructions of `GET /contacts/{id}` by about a fifth (see bench-results/). `no_thp`: no
/// transparent huge pages for its segments, which would otherwise double an idle service's
/// resident memory.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
