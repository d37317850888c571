//! The whole system under test: the three real service binaries (contacts, calendar,
//! notifications) built by cargo and started as separate processes on free ports, each with a
//! fresh database (SQLite files, or PostgreSQL schemas when `TEST_DATABASE_URL` is set), with
//! notifications sending to a real SMTP server on 127.0.0.1 or keeping mail in its mailbox.
//!
//! Tests drive the system only over HTTP ([`TestSystem`] and [`api`]) or through a real browser
//! ([`browser`]), and wait on conditions with deadlines, never on fixed sleeps.

pub mod api;
pub mod browser;
pub mod prometheus;
mod system;

pub use system::{Mail, PATIENCE, TestSystem, build_services, workspace_root};
