//! Every difference between the SQLite and the PostgreSQL spelling of the store's SQL, and the
//! fragments both spellings are built from (so no statement is written twice).
//!
//! - Creating a contact takes three statements. SQLite runs on a worker thread and every round
//!   trip to it is a thread switch, which costs more than the statements themselves, so there
//!   they go as one command; PostgreSQL prepares statements one at a time.
//! - The row an update changes is locked with `FOR UPDATE` on PostgreSQL; SQLite has one writer
//!   connection, so a plain read inside the write transaction is already serialised with every
//!   other write.
//! - Rebuilding the read model locks its tables on PostgreSQL (other replicas keep writing);
//!   SQLite's single writer needs no lock.
//! - Writers announce each commit with `pg_notify` on PostgreSQL, where replicas share the
//!   database; on SQLite one process owns it, and only there are contacts cached in-process.

use service_kit::db::Backend;

/// The read model's columns, in the order `rows::bind_contact` binds them as `$1` to `$7`.
macro_rules! contact_columns {
    () => {
        "id, firstname, lastname, email, email_key, sort_key, search_text"
    };
}

macro_rules! insert_contact {
    () => {
        concat!("INSERT INTO contacts (", contact_columns!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7)")
    };
}

/// Takes the next sequence number and changes the live count by `$delta` (a placeholder or a
/// literal); returns the new head.
macro_rules! next_sequence {
    ($delta:literal) => {
        concat!(
            "UPDATE event_counter SET last_sequence = last_sequence + 1, contact_count = contact_count + ",
            $delta,
            " WHERE id = 1 RETURNING last_sequence, contact_count"
        )
    };
}

macro_rules! insert_event {
    () => {
        "INSERT INTO contact_events (sequence, id, type, contact_id, occurred_at, data) "
    };
}

macro_rules! select_contact {
    () => {
        "SELECT id, firstname, lastname, email FROM contacts WHERE id = $1"
    };
}

/// A contact's row: its seven columns bound with `rows::bind_contact`.
pub(super) const INSERT_CONTACT: &str = insert_contact!();

/// One contact by id (`$1`).
pub(super) const SELECT_CONTACT: &str = select_contact!();

/// The next sequence number and the live count changed by `$1`.
pub(super) const NEXT_SEQUENCE: &str = next_sequence!("$1");

/// The event: sequence, id, type, contact id, time, data as `$1` to `$6`.
pub(super) const INSERT_EVENT: &str = concat!(insert_event!(), "VALUES ($1, $2, $3, $4, $5, $6)");

/// PostgreSQL only: tells every replica listening on channel `$1` about the head `$2`
/// (delivered at commit, in commit order).
pub(super) const NOTIFY: &str = "SELECT 1 FROM pg_notify($1, $2)";

/// [`INSERT_CONTACT`], [`NEXT_SEQUENCE`] with one more contact, and the event as in
/// [`INSERT_EVENT`] numbered by the counter; `$n` names the n-th argument in every statement:
/// the contact's seven columns, then the event's id, type, time and data.
const CREATE_IN_ONE_COMMAND: &str = concat!(
    insert_contact!(),
    "; ",
    next_sequence!("1"),
    "; ",
    insert_event!(),
    "SELECT last_sequence, $8, $9, $1, $10, $11 FROM event_counter WHERE id = 1"
);

const SELECT_CONTACT_FOR_UPDATE: &str = concat!(select_contact!(), " FOR UPDATE");

const LOCK_FOR_REBUILD: &str = "LOCK TABLE contacts, event_counter IN EXCLUSIVE MODE";

/// Which spelling the store's database takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Dialect(Backend);

impl Dialect {
    pub(super) fn of(backend: Backend) -> Self {
        Self(backend)
    }

    /// Creating a contact as one command of three statements, where that is cheaper (SQLite);
    /// `None`: run [`INSERT_CONTACT`], [`NEXT_SEQUENCE`] and [`INSERT_EVENT`] one by one.
    pub(super) fn create_in_one_command(self) -> Option<&'static str> {
        (self.0 == Backend::Sqlite).then_some(CREATE_IN_ONE_COMMAND)
    }

    /// One contact by id (`$1`), its row locked until the transaction ends.
    pub(super) fn select_contact_for_update(self) -> &'static str {
        match self.0 {
            Backend::Postgres => SELECT_CONTACT_FOR_UPDATE,
            Backend::Sqlite => SELECT_CONTACT,
        }
    }

    /// What keeps writers out while the read model is rebuilt, if anything has to.
    pub(super) fn lock_for_rebuild(self) -> Option<&'static str> {
        (self.0 == Backend::Postgres).then_some(LOCK_FOR_REBUILD)
    }

    /// Whether other processes write to the same database, so commits are announced with
    /// [`NOTIFY`] (PostgreSQL).
    pub(super) fn shared_by_replicas(self) -> bool {
        self.0 == Backend::Postgres
    }

    /// Whether contacts may be cached in-process (SQLite: see `cache.rs`).
    pub(super) fn caches_contacts(self) -> bool {
        self.0 == Backend::Sqlite
    }
}
