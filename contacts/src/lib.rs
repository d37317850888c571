//! contacts: keeps contacts as an event-sourced model and publishes its events as an Atom feed.

pub mod config;
pub mod routes;
pub mod startup;
