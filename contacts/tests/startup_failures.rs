//! Every start-up failure ends the process with one line naming the setting and the cause, and
//! the exit code of its class (README, "Start-up failures"); none prints a backtrace.

#![allow(clippy::unwrap_used)]

use std::net::TcpListener;

use service_kit::exit;
use test_support::TempDir;
use test_support::startup::refusal;

const BIN: &str = env!("CARGO_BIN_EXE_contacts");

#[test]
fn configuration_errors_name_the_variable_and_exit_with_2() {
    let cases: &[(&str, &str, &[&str])] = &[
        ("HOST", "no-such-host.invalid", &["HOST", "no-such-host.invalid"]),
        ("PORT", "eighty", &["PORT"]),
        ("RUST_LOG", "info,contacts=loud", &["RUST_LOG", "contacts=loud"]),
        ("DATABASE_URL", "mysql://db/contacts", &["DATABASE_URL"]),
        ("PUBLIC_URL", "ftp://example.org", &["PUBLIC_URL"]),
    ];
    for (var, value, words) in cases {
        refusal(BIN, &[(var, value)]).assert(exit::CONFIG, words);
    }
}

#[test]
fn a_database_that_cannot_be_opened_names_its_path_or_host_and_exits_with_3() {
    let dir = TempDir::new("contacts-startup");
    let not_a_database = dir.path().join("notes.db");
    std::fs::write(&not_a_database, "these are not the pages of a database\n".repeat(200)).unwrap();
    let not_a_database = format!("sqlite://{}", not_a_database.display());
    refusal(BIN, &[("DATABASE_URL", &not_a_database)])
        .assert(exit::DATABASE, &["DATABASE_URL", "notes.db", "not a database"]);

    let file = dir.path().join("file");
    std::fs::write(&file, "").unwrap();
    let under_a_file = format!("sqlite://{}/contacts.db", file.display());
    refusal(BIN, &[("DATABASE_URL", &under_a_file)]).assert(exit::DATABASE, &["DATABASE_URL", "file"]);

    // Nothing listens on a port just released; the refusal is immediate and names the host and
    // port, never the password.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let unreachable = format!("postgres://services:hunter2@127.0.0.1:{port}/contacts");
    let refused = refusal(BIN, &[("DATABASE_URL", &unreachable)]);
    refused.assert(exit::DATABASE, &["DATABASE_URL", &format!("127.0.0.1:{port}")]);
    assert!(!refused.stderr.contains("hunter2"), "{}", refused.stderr);
}

#[test]
fn a_port_in_use_names_the_address_and_exits_with_5() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    refusal(BIN, &[("PORT", &port)]).assert(exit::BIND, &["PORT", &format!("127.0.0.1:{port}"), "in use"]);
}

#[test]
fn a_sqlite_file_and_its_folders_are_created_without_mode_rwc() {
    let dir = TempDir::new("contacts-startup");
    let path = dir.path().join("new/folder/contacts.db");
    // Taking the port makes the service stop right after the database was opened.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let url = format!("sqlite://{}", path.display());
    refusal(BIN, &[("DATABASE_URL", &url), ("PORT", &port)]).assert(exit::BIND, &["PORT"]);
    assert!(path.is_file(), "{} was not created", path.display());
}

#[test]
fn host_accepts_a_name_of_this_machine() {
    // localhost resolves to a loopback address; the port taken shows the bind was attempted
    // there rather than refused as a malformed HOST.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let refused = refusal(BIN, &[("HOST", "localhost"), ("PORT", &port)]);
    assert_ne!(refused.code, Some(exit::CONFIG), "{}", refused.stderr);
}

#[tokio::test]
async fn a_schema_from_a_newer_release_names_the_database_and_exits_with_4() {
    let dir = TempDir::new("contacts-startup");
    let path = dir.path().join("contacts.db");
    let url = format!("sqlite://{}", path.display());
    // This binary creates its schema (and stops at the port taken)...
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    refusal(BIN, &[("DATABASE_URL", &url), ("PORT", &port)]).assert(exit::BIND, &["PORT"]);
    // ...then a newer release applies a migration this one does not know.
    let db = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, installed_on, success, checksum, execution_time) \
         VALUES (999, 'from a newer release', CURRENT_TIMESTAMP, 1, x'00', 0)",
    )
    .execute(&db)
    .await
    .unwrap();
    db.close().await;
    refusal(BIN, &[("DATABASE_URL", &url)]).assert(exit::MIGRATION, &["DATABASE_URL", "contacts.db", "999"]);
}
