//! Helpers for the services' black-box tests: a fresh database per test (SQLite by default,
//! PostgreSQL when `TEST_DATABASE_URL` is set), waiting on conditions with a deadline, and
//! temporary folders that clean up after themselves, an HTTP client for one instance
//! ([`TestClient`]), a real SMTP server with fault injection ([`smtp::SmtpServer`]), and hostile
//! clients ([`hostile`]), an OpenID Connect provider's keys and tokens ([`jwt`]), third-party
//! readers of Atom and iCalendar run from the repository ([`python`]), and binaries that should
//! refuse to start ([`startup`]).

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sqlx::Connection;

pub mod auth;
pub mod client;
pub mod hostile;
pub mod jwt;
pub mod python;
pub mod smtp;
pub mod startup;

pub use client::TestClient;

/// Environment variable naming a PostgreSQL server for the PostgreSQL run of the test suite.
pub const TEST_DATABASE_URL: &str = "TEST_DATABASE_URL";
/// What a run of the suite is meant to use, `sqlite` or `postgres` (`.ci/run` and the GitHub
/// workflow set it), so that neither backend is skipped without anyone noticing: a run declared
/// `postgres` without `TEST_DATABASE_URL` fails instead of quietly using SQLite, and a
/// PostgreSQL-only test skips only in a run declared `sqlite` or outside CI ([`TestDb::postgres_only`]).
pub const TEST_BACKEND: &str = "TEST_BACKEND";

/// A folder under the system temp dir, removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> Self {
        let path = std::env::temp_dir().join(format!("{prefix}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path).expect("create temp dir");
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A database of its own for one test: an SQLite file in a temp folder, or a fresh schema on the
/// PostgreSQL server named by `TEST_DATABASE_URL`. Dropped with the value.
#[derive(Debug)]
pub struct TestDb {
    /// URL to hand to the service as `DATABASE_URL`.
    pub url: String,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    Sqlite(#[allow(dead_code)] TempDir),
    Postgres { server_url: String, schema: String },
}

impl TestDb {
    /// SQLite, or PostgreSQL when `TEST_DATABASE_URL` is set.
    pub async fn new() -> Self {
        match std::env::var(TEST_DATABASE_URL) {
            Ok(url) if !url.is_empty() => Self::postgres(&url).await,
            _ => {
                assert!(
                    std::env::var(TEST_BACKEND).as_deref() != Ok("postgres"),
                    "{TEST_BACKEND}=postgres but {TEST_DATABASE_URL} is not set: this run would test SQLite only"
                );
                Self::sqlite()
            }
        }
    }

    /// For a test that means something only on PostgreSQL (replicas sharing one database):
    /// whether to run it. Without `TEST_DATABASE_URL` it is skipped with a line on stderr, unless
    /// `CI=true` and the run is not declared a SQLite run (`TEST_BACKEND=sqlite`): there a skip
    /// would hide that the test never ran anywhere, so it fails.
    pub fn postgres_only(test: &str) -> bool {
        if Self::postgres_configured() {
            return true;
        }
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        let sqlite_run = std::env::var(TEST_BACKEND).is_ok_and(|v| v == "sqlite");
        assert!(
            !ci || sqlite_run,
            "{test} needs PostgreSQL: CI=true without {TEST_DATABASE_URL} (set {TEST_BACKEND}=sqlite for a run that skips PostgreSQL-only tests on purpose)"
        );
        eprintln!("SKIPPED {test}: it needs PostgreSQL (set {TEST_DATABASE_URL})");
        false
    }

    /// Whether this run of the suite uses PostgreSQL.
    pub fn postgres_configured() -> bool {
        std::env::var(TEST_DATABASE_URL).is_ok_and(|u| !u.is_empty())
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.cleanup, Cleanup::Postgres { .. })
    }

    /// A fresh SQLite file.
    pub fn sqlite() -> Self {
        let dir = TempDir::new("svc-test-db");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
        Self { url, cleanup: Cleanup::Sqlite(dir) }
    }

    /// A fresh schema on the given PostgreSQL server; the returned URL selects it through
    /// `search_path`, so migrations and queries land in it.
    pub async fn postgres(server_url: &str) -> Self {
        let schema = format!("test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(server_url)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {TEST_DATABASE_URL}: {e}"));
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&mut conn)
            .await
            .expect("create test schema");
        let _ = conn.close().await;
        let separator = if server_url.contains('?') { '&' } else { '?' };
        // The application name marks the test's connections, so the cleanup can end them.
        let url = format!("{server_url}{separator}options[search_path]={schema}&application_name={schema}");
        Self { url, cleanup: Cleanup::Postgres { server_url: server_url.to_string(), schema } }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Cleanup::Postgres { server_url, schema } = &self.cleanup {
            let (server_url, schema) = (server_url.clone(), schema.clone());
            // Drop runs outside async context; a short-lived runtime on its own thread does it.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
                rt.block_on(async {
                    let mut conn = sqlx::PgConnection::connect(&server_url).await.ok()?;
                    // The service under test may still hold connections, even a transaction
                    // that cannot finish: its runtime is blocked in this very drop. End them, or
                    // DROP SCHEMA would wait for their locks forever.
                    sqlx::query(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                         WHERE application_name = $1 AND pid <> pg_backend_pid()",
                    )
                    .bind(&schema)
                    .execute(&mut conn)
                    .await
                    .ok()?;
                    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {schema} CASCADE")))
                        .execute(&mut conn)
                        .await
                        .ok()?;
                    conn.close().await.ok()
                })
            })
            .join();
        }
    }
}

/// Polls `check` every 10 ms until it returns `Some`, and returns that value. Panics with
/// `what` when `timeout` passes first. Use instead of sleeping in tests.
pub async fn wait_until<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// An HTTP client for tests: no proxy, no redirects followed, 30 s timeout.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("build HTTP client")
}

/// As [`http_client`], sending `Authorization: Bearer <token>` with every request.
pub fn http_client_with_token(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    let mut value =
        reqwest::header::HeaderValue::from_str(&format!("Bearer {token}")).expect("a token fits in a header");
    value.set_sensitive(true);
    headers.insert(reqwest::header::AUTHORIZATION, value);
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .default_headers(headers)
        .build()
        .expect("build HTTP client")
}

/// Parses a JSON response body, with the body in the panic message when it is not JSON.
pub async fn json_body(response: reqwest::Response) -> serde_json::Value {
    let status = response.status();
    let text = response.text().await.expect("read body");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status} body is not JSON ({e}): {text}"))
}
