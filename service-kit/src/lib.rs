//! Plumbing shared by the contacts, calendar and notifications services.
//!
//! Only what every service needs in the same way lives here: who may call ([`auth`], with bearer JWTs from an OpenID Connect provider in [`jwt`]), configuration from the environment
//! ([`config`]), logging ([`telemetry`]), HTTP middleware and the request id ([`http`]), metrics
//! ([`metrics`]), health checks ([`health`]), shutdown ([`shutdown`]), database connection and
//! migrations ([`db`]), the error-response shape and extractors ([`error`]), the server loop
//! ([`server`]), start-up ([`app`]) and how it fails ([`exit`]), the pages' shared look ([`html`]), content negotiation
//! ([`negotiate`]), the retry schedule ([`backoff`]), abuse limits over a sliding window ([`quota`]), which characters stored text may hold ([`text`]), how e-mail addresses are normalised ([`email`]) and PostgreSQL `LISTEN`/`NOTIFY` as a
//! background worker ([`listen`]). No domain types: each service owns its model and its database.

pub mod app;
pub mod auth;
pub mod backoff;
pub mod config;
pub mod db;
pub mod email;
pub mod error;
pub mod exit;
pub mod health;
pub mod html;
pub mod http;
pub mod id;
pub mod jwt;
pub mod listen;
pub mod metrics;
pub mod negotiate;
pub mod quota;
pub mod server;
pub mod shutdown;
pub mod telemetry;
pub mod text;

pub use error::ApiError;
