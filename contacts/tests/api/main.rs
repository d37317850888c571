//! Black-box tests: the service on a random port with a fresh database per test, over real HTTP.
//! They run on SQLite, and on PostgreSQL when `TEST_DATABASE_URL` is set.

// Helpers and async test bodies outside `#[test]` functions: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod access;
mod bad_input;
mod consistency;
mod contacts_api;
mod feed;
mod helpers;
mod hostile_input;
mod pages;
