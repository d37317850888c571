//! Black-box tests: calendar on a free port with a fresh database (SQLite, or PostgreSQL when
//! `TEST_DATABASE_URL` is set), a test feed server in place of contacts, and a stand-in for
//! notifications.

// Test servers and helpers panic on setup failures, like the tests themselves.
#![allow(clippy::unwrap_used)]

mod access;
mod calendars;
mod feed;
mod feed_seam;
mod feed_server;
mod helpers;
mod hostile_input;
mod invitations;
mod notifications_stub;
mod owners;
mod pages;
