//! Background workers: the feed follower and the outbox dispatcher. Each exposes `step` (one
//! unit of work, for deterministic tests) and `run` (the loop, until the shutdown token fires;
//! the current step is finished first). The dispatcher delivers through [`notifications`], the
//! HTTP client of the notifications service.

pub mod dispatcher;
pub mod feed;
pub mod notifications;
