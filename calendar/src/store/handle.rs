//! The store handle and its write transaction.

use service_kit::db::Db;
use sqlx::{Any, AnyConnection, AnyPool, Transaction};
use uuid::Uuid;

use super::dialect::Dialect;

/// calendar's database. Cheap to clone (the pools are shared).
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
}

impl Store {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// The pool for reads that need not see this process's latest write.
    pub(super) fn reader(&self) -> &AnyPool {
        &self.db.reader
    }

    /// The pool for writes, and for reads that must see them (SQLite has one writer connection).
    pub(super) fn writer(&self) -> &AnyPool {
        &self.db.writer
    }

    pub(super) fn dialect(&self) -> &'static Dialect {
        Dialect::of(self.db.backend())
    }

    /// Starts a write transaction: several statements that commit together or not at all.
    pub async fn begin(&self) -> Result<WriteTx, sqlx::Error> {
        Ok(WriteTx { tx: self.writer().begin().await?, dialect: self.dialect() })
    }

    /// Closes both pools (at shutdown).
    pub async fn close(&self) {
        self.db.close().await;
    }
}

/// A transaction on the writer pool; dropped without [`WriteTx::commit`], it rolls back.
#[derive(Debug)]
pub struct WriteTx {
    tx: Transaction<'static, Any>,
    dialect: &'static Dialect,
}

impl WriteTx {
    pub(super) fn conn(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }

    pub(super) fn dialect(&self) -> &'static Dialect {
        self.dialect
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }
}

/// Parses an id column; the store only ever writes UUIDs there.
pub(super) fn uuid_column(raw: &str) -> Result<Uuid, sqlx::Error> {
    Uuid::parse_str(raw).map_err(|e| sqlx::Error::Decode(format!("bad UUID in the database: {e}").into()))
}
