//! calendar's database: one [`Store`] that owns the pools and picks the reader or the writer for
//! each statement itself, so handlers and workers only call its methods (SQLite's single-writer
//! rule lives here, nowhere else). A worker that needs several statements in one transaction
//! gets a [`WriteTx`] from [`Store::begin`]. Queries run on both SQLite and PostgreSQL through
//! sqlx's `Any` driver (see `service_kit::db` for the rules that keep that working); the
//! statements the two spell differently are built in [`dialect`].
//!
//! One file per table group, each adding its methods to [`Store`] and [`WriteTx`]: `users` (the
//! replica), `events` (events and participants), `outbox` (notification jobs), `checkpoint`
//! (the feed follower's position), `parked` (feed entries it could not apply).

mod checkpoint;
mod dialect;
mod events;
mod handle;
mod outbox;
mod parked;
mod users;

pub use checkpoint::Checkpoint;
pub use events::{AddOutcome, Cursor, EventPeople, StoredEvent};
pub use handle::{Store, WriteTx};
pub use outbox::{Job, JobStatus, JobSummary, NewJob};
pub use parked::{NewParked, ParkedEntry};
pub use users::User;
