//! The database layer on the backend this test run uses (SQLite, or PostgreSQL when
//! `TEST_DATABASE_URL` is set).

use service_kit::db::{ConnectOptions, Db, MigrationFile, Migrations, is_unique_violation};
use sqlx::Row;
use test_support::TestDb;

const SQL: &str = "CREATE TABLE things (id BIGINT PRIMARY KEY, name TEXT NOT NULL UNIQUE)";
const MIGRATIONS: Migrations = Migrations {
    sqlite: &[MigrationFile { version: 1, description: "things", file: "0001_things.sql", sql: SQL }],
    postgres: &[MigrationFile { version: 1, description: "things", file: "0001_things.sql", sql: SQL }],
};

#[tokio::test]
async fn migrations_run_once_and_queries_work_on_both_handles() {
    let test_db = TestDb::new().await;
    let options = ConnectOptions::new(&test_db.url, 4);
    let db = Db::connect(&options, &MIGRATIONS).await.expect("connect");
    sqlx::query("INSERT INTO things (id, name) VALUES ($1, $2)")
        .bind(1_i64)
        .bind("one")
        .execute(&db.writer)
        .await
        .unwrap();
    let row =
        sqlx::query("SELECT name FROM things WHERE id = $1").bind(1_i64).fetch_one(&db.reader).await.unwrap();
    assert_eq!(row.get::<String, _>("name"), "one");
    assert!(db.ping(std::time::Duration::from_secs(1)).await);
    db.close().await;

    // Connecting again does not re-run the migration (it would fail: the table exists).
    let again = Db::connect(&options, &MIGRATIONS).await.expect("reconnect");
    again.close().await;
}

#[tokio::test]
async fn duplicate_keys_are_recognised_as_unique_violations() {
    let test_db = TestDb::new().await;
    let db = Db::connect(&ConnectOptions::new(&test_db.url, 2), &MIGRATIONS).await.unwrap();
    let insert = |id: i64| sqlx::query("INSERT INTO things (id, name) VALUES ($1, 'same')").bind(id);
    insert(1).execute(&db.writer).await.unwrap();
    let err = insert(2).execute(&db.writer).await.expect_err("duplicate name");
    assert!(is_unique_violation(&err), "{err}");
    db.close().await;
}
