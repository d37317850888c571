//! Database connection and migrations, for SQLite (embedded default) and PostgreSQL.
//!
//! Services use sqlx's `Any` driver so one set of queries runs on both backends. The rules that
//! keeps working: columns are `BIGINT`, `DOUBLE PRECISION`, `TEXT` or `BLOB` only (UUIDs and
//! timestamps as `TEXT` or epoch-millisecond `BIGINT`, no `BOOLEAN`), placeholders are `$1`, and
//! each service keeps one migrations folder per dialect. Where the dialects really differ
//! (`FOR UPDATE SKIP LOCKED`, `LISTEN`), branch on [`Db::backend`].
//!
//! SQLite allows one writer at a time. Rather than let concurrent transactions collide on the
//! file lock (`SQLITE_BUSY`), [`Db`] keeps a separate single-connection writer pool, so writes
//! queue in the pool and readers run in parallel in WAL mode. On PostgreSQL both handles are the
//! same pool.

use std::borrow::Cow;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, Executor, SqlSafeStr};

use crate::config::{CommonSettings, Secret};

/// Which database a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Self {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Self::Postgres
        } else {
            Self::Sqlite
        }
    }
}

/// One embedded migration: version, description, SQL (from `include_str!`).
#[derive(Debug, Clone, Copy)]
pub struct MigrationFile {
    pub version: i64,
    pub description: &'static str,
    pub sql: &'static str,
}

/// A service's [`Migrations`] from its `migrations/sqlite/` and `migrations/postgres/` folders
/// (beside `src/`), one `version "description" "file.sql"` a migration; both folders hold a file
/// of the same name for every version.
#[macro_export]
macro_rules! migrations {
    ($($version:literal $description:literal $file:literal),+ $(,)?) => {
        $crate::db::Migrations {
            sqlite: &[$($crate::db::MigrationFile {
                version: $version,
                description: $description,
                sql: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite/", $file)),
            }),+],
            postgres: &[$($crate::db::MigrationFile {
                version: $version,
                description: $description,
                sql: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres/", $file)),
            }),+],
        }
    };
}

/// A service's migrations, one list per dialect, embedded in the binary.
#[derive(Debug, Clone, Copy)]
pub struct Migrations {
    pub sqlite: &'static [MigrationFile],
    pub postgres: &'static [MigrationFile],
}

impl Migrations {
    fn migrator(&self, backend: Backend) -> Migrator {
        let files = match backend {
            Backend::Sqlite => self.sqlite,
            Backend::Postgres => self.postgres,
        };
        Migrator::with_migrations(
            files
                .iter()
                .map(|f| {
                    Migration::new(
                        f.version,
                        Cow::Borrowed(f.description),
                        MigrationType::Simple,
                        f.sql.into_sql_str(),
                        false,
                    )
                })
                .collect(),
        )
    }
}

/// Handles to the service's database: `reader` for queries, `writer` for transactions that
/// write. See the module docs for why SQLite gets a separate writer.
#[derive(Debug, Clone)]
pub struct Db {
    pub reader: AnyPool,
    pub writer: AnyPool,
    backend: Backend,
}

/// How to open the pools.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub url: Secret,
    pub max_connections: u32,
    /// How long a caller waits for a pooled connection before the query fails.
    pub acquire_timeout: Duration,
}

impl ConnectOptions {
    pub fn new(url: impl Into<String>, max_connections: u32) -> Self {
        Self { url: Secret::new(url.into()), max_connections, acquire_timeout: Duration::from_secs(5) }
    }

    /// `DATABASE_URL` and `DATABASE_MAX_CONNECTIONS`.
    pub fn from_settings(settings: &CommonSettings) -> Self {
        Self::new(settings.database_url.expose().clone(), settings.database_max_connections)
    }
}

impl Db {
    /// Connects (creating the SQLite file and its folder when missing) and runs the migrations.
    pub async fn connect(options: &ConnectOptions, migrations: &Migrations) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let url = options.url.expose();
        let backend = Backend::from_url(url);
        if backend == Backend::Sqlite {
            create_sqlite_parent_dir(url)?;
        }
        let connect: AnyConnectOptions = url
            .parse()
            .map_err(|e| anyhow::anyhow!("DATABASE_URL {}: {e}", crate::config::redact_url(url)))?;
        let pool = |max: u32| {
            AnyPoolOptions::new()
                .max_connections(max)
                .min_connections(0)
                .acquire_timeout(options.acquire_timeout)
                .after_connect(move |conn, _meta| {
                    Box::pin(async move {
                        if backend == Backend::Sqlite {
                            // WAL: readers never block the writer. NORMAL: a commit survives a
                            // process crash (the WAL is written before COMMIT returns); only an
                            // OS crash or power loss can lose the last transactions.
                            conn.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;").await?;
                        }
                        Ok(())
                    })
                })
        };
        let db = match backend {
            Backend::Sqlite => {
                let writer = pool(1).connect_with(connect.clone()).await?;
                // Create the file and switch it to WAL before readers open it.
                migrations.migrator(backend).run(&writer).await?;
                let reader = pool(options.max_connections).connect_with(connect).await?;
                Self { reader, writer, backend }
            }
            Backend::Postgres => {
                let shared = pool(options.max_connections).connect_with(connect).await?;
                migrations.migrator(backend).run(&shared).await?;
                Self { reader: shared.clone(), writer: shared, backend }
            }
        };
        Ok(db)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Whether the database answers a trivial query within `timeout` (readiness).
    pub async fn ping(&self, timeout: Duration) -> bool {
        matches!(
            tokio::time::timeout(timeout, sqlx::query("SELECT 1").execute(&self.reader)).await,
            Ok(Ok(_))
        )
    }

    /// Closes both pools, waiting for checked-out connections to come back.
    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }
}

fn create_sqlite_parent_dir(url: &str) -> anyhow::Result<()> {
    let path = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let path = path.split('?').next().unwrap_or("");
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    if let Some(parent) = std::path::Path::new(path).parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| anyhow::anyhow!("cannot create database folder {}: {e}", parent.display()))?;
    }
    Ok(())
}

/// Whether `err` is a unique-constraint violation (map it to `409`).
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// Milliseconds since the Unix epoch, the portable timestamp column type.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_follows_the_url_scheme() {
        assert_eq!(Backend::from_url("postgres://u@h/db"), Backend::Postgres);
        assert_eq!(Backend::from_url("postgresql://u@h/db"), Backend::Postgres);
        assert_eq!(Backend::from_url("sqlite://data/x.db?mode=rwc"), Backend::Sqlite);
    }
}
