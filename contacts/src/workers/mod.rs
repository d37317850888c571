//! Background workers, started with the service and stopped with it.
//!
//! - [`listener`]: PostgreSQL only, moves the feed head when another replica commits (one step
//!   per notification: `Notified::notified`, and `Notified::connected` after each connect).

pub mod listener;
