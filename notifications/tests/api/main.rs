//! Black-box tests: the service on a free port with a fresh database per test (SQLite, or
//! PostgreSQL when `TEST_DATABASE_URL` is set), over real HTTP, sending to a real SMTP server on
//! 127.0.0.1 (`test_support::smtp`).

mod access;
mod auth;
mod bulkhead;
mod delivery;
mod helpers;
mod hostile_input;
mod idempotency;
mod listing;
mod mailbox;
mod operations;
mod pages;
mod parts;
mod recovery;
mod replicas;
mod retention;
mod retries;
mod validation;
