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
use sqlx::{AnyPool, Connection, Executor, SqlSafeStr};
use url::Url;

use crate::config::{CommonSettings, Secret};
use crate::exit::{self, StartupError};

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
    /// The file's name in its folder.
    pub file: &'static str,
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
                file: $file,
                sql: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite/", $file)),
            }),+],
            postgres: &[$($crate::db::MigrationFile {
                version: $version,
                description: $description,
                file: $file,
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
    /// The `.sql` files of `<manifest_dir>/migrations/{sqlite,postgres}/` that are not in this
    /// list (a file added but never registered would never run). For a test of each service:
    /// `assert_eq!(MIGRATIONS.unregistered(env!("CARGO_MANIFEST_DIR")), Vec::<String>::new())`.
    pub fn unregistered(&self, manifest_dir: &str) -> Vec<String> {
        let mut missing = Vec::new();
        for (dialect, files) in [("sqlite", self.sqlite), ("postgres", self.postgres)] {
            let dir = std::path::Path::new(manifest_dir).join("migrations").join(dialect);
            let Ok(entries) = std::fs::read_dir(&dir) else {
                missing.push(format!("{}: cannot be read", dir.display()));
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.ends_with(".sql") && !files.iter().any(|f| f.file == name) {
                    missing.push(format!("{dialect}/{name}"));
                }
            }
        }
        missing.sort();
        missing
    }

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
        let url = &with_create_mode(options.url.expose());
        let backend = Backend::from_url(url);
        let place = Place::of(url);
        if backend == Backend::Sqlite {
            create_sqlite_parent_dir(url)?;
        }
        let connect: AnyConnectOptions = url.parse().map_err(|e| {
            StartupError::new(
                exit::CONFIG,
                format!("DATABASE_URL: cannot read {}: {e}", crate::config::redact_url(url)),
            )
        })?;
        probe(&connect, backend, options.acquire_timeout).await.map_err(|cause| place.failed(&cause))?;
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
                            conn.execute(SQLITE_PRAGMAS).await?;
                        }
                        Ok(())
                    })
                })
        };
        let db = match backend {
            Backend::Sqlite => {
                let writer =
                    pool(1).connect_with(connect.clone()).await.map_err(|e| place.failed(&e.to_string()))?;
                // Create the file and switch it to WAL before readers open it.
                migrate(migrations, backend, &writer, &place).await?;
                let reader = pool(options.max_connections)
                    .connect_with(connect)
                    .await
                    .map_err(|e| place.failed(&e.to_string()))?;
                Self { reader, writer, backend }
            }
            Backend::Postgres => {
                let shared = pool(options.max_connections)
                    .connect_with(connect)
                    .await
                    .map_err(|e| place.failed(&e.to_string()))?;
                migrate(migrations, backend, &shared, &place).await?;
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

/// WAL: readers never block the writer. NORMAL: a commit survives a process crash (the WAL is
/// written before COMMIT returns); only an OS crash or power loss can lose the last transactions.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;";

/// A SQLite URL without a `mode` opens the file read-write and creates it when missing, as the
/// default URL does (sqlx alone would refuse a missing file).
fn with_create_mode(url: &str) -> String {
    let Some(rest) = url.strip_prefix("sqlite:") else { return url.to_owned() };
    if rest.contains(":memory:") || rest.contains("mode=") {
        return url.to_owned();
    }
    let separator = if rest.contains('?') { '&' } else { '?' };
    format!("{url}{separator}mode=rwc")
}

/// Where the database is, for messages: the SQLite file, or PostgreSQL's host and port (never
/// the password).
struct Place(String);

impl Place {
    fn of(url: &str) -> Self {
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.trim_start_matches("//").split('?').next().unwrap_or("");
            return Self(format!("the SQLite database {path}"));
        }
        match Url::parse(url) {
            Ok(u) => Self(format!(
                "PostgreSQL at {}:{}{}",
                u.host_str().unwrap_or("localhost"),
                u.port().unwrap_or(5432),
                u.path()
            )),
            Err(_) => Self("the database".into()),
        }
    }

    fn failed(&self, cause: &str) -> StartupError {
        StartupError::new(exit::DATABASE, format!("DATABASE_URL: cannot open {}: {cause}", self.0))
    }
}

/// Opens one connection and asks one question, so a missing folder, a file that is not a
/// database or a server that does not answer is reported at once and as itself, not as a pool
/// timeout after every pooled attempt failed.
async fn probe(connect: &AnyConnectOptions, backend: Backend, timeout: Duration) -> Result<(), String> {
    let attempt = async {
        let mut conn = sqlx::AnyConnection::connect_with(connect).await?;
        match backend {
            Backend::Sqlite => conn.execute(SQLITE_PRAGMAS).await.map(drop)?,
            Backend::Postgres => conn.execute("SELECT 1").await.map(drop)?,
        }
        conn.close().await
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {} s", timeout.as_secs_f64())),
    }
}

async fn migrate(
    migrations: &Migrations,
    backend: Backend,
    pool: &AnyPool,
    place: &Place,
) -> Result<(), StartupError> {
    migrations.migrator(backend).run(pool).await.map_err(|e| {
        StartupError::new(
            exit::MIGRATION,
            format!("DATABASE_URL: cannot bring the schema of {} up to date: {e}", place.0),
        )
    })
}

fn create_sqlite_parent_dir(url: &str) -> anyhow::Result<()> {
    let path = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let path = path.split('?').next().unwrap_or("");
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    if let Some(parent) = std::path::Path::new(path).parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| {
            StartupError::new(
                exit::DATABASE,
                format!(
                    "DATABASE_URL: cannot create the folder {} for the SQLite database: {e}",
                    parent.display()
                ),
            )
        })?;
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

    #[test]
    fn a_sqlite_url_without_a_mode_creates_its_file() {
        assert_eq!(with_create_mode("sqlite://data/x.db"), "sqlite://data/x.db?mode=rwc");
        assert_eq!(
            with_create_mode("sqlite:///tmp/x.db?cache=shared"),
            "sqlite:///tmp/x.db?cache=shared&mode=rwc"
        );
        assert_eq!(with_create_mode("sqlite://x.db?mode=ro"), "sqlite://x.db?mode=ro");
        assert_eq!(with_create_mode("sqlite::memory:"), "sqlite::memory:");
        assert_eq!(with_create_mode("postgres://h/db"), "postgres://h/db");
    }
}
