//! The whole system under test: the three real service binaries (contacts, calendar,
//! notifications) built by cargo and started as separate processes on free ports, each with a
//! fresh database (SQLite files, or PostgreSQL schemas when `TEST_DATABASE_URL` is set), with
//! notifications sending to a real SMTP server on 127.0.0.1 or keeping mail in its mailbox.
//!
//! Tests drive the system only over HTTP ([`TestSystem`] and [`api`]) or through a real browser
//! ([`browser`]), and wait on conditions with deadlines, never on fixed sleeps.
//!
//! Running them:
//! - `cargo test -p system-tests` (SQLite); with
//!   `TEST_DATABASE_URL=postgres://user:password@host/db` each service gets a fresh schema there.
//! - Each test binary first runs `cargo build -p contacts -p calendar -p notifications` (once),
//!   so the binaries under test are always the current code.
//! - Browser tests need `chromium` and `chromedriver` on `PATH`; without them they are skipped,
//!   unless `CI=true`, where they fail. Screenshots go to `target/artifacts/screenshots/`.
//! - A failing test leaves the services' logs in `target/artifacts/logs/<test>/`;
//!   `SYSTEM_TESTS_KEEP_LOGS=1` keeps them for passing tests too.

pub mod api;
pub mod browser;
pub mod chaos;
pub mod hostile_feed;
pub mod latency;
pub mod prometheus;
pub mod replicas;
pub mod resilient;
pub mod settle;
pub mod soak;
pub mod standin;
mod system;

pub use system::{Mail, PATIENCE, STOP_GRACE, TestSystem, build_services, workspace_root};
