//! The binary's maintenance command and its refusal of unknown ones.

#![allow(clippy::unwrap_used)]

use std::process::Command;

use contacts::config::Settings;
use contacts::startup::{Application, MIGRATIONS};
use service_kit::db::{ConnectOptions, Db};
use test_support::{TestClient, TestDb};
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn rebuild_projection_restores_a_damaged_read_model_from_the_events() {
    let db = TestDb::new().await;
    let app = Application::build(Settings::for_tests(&db.url)).await.unwrap();
    let store = app.store().clone();
    let client = TestClient::on_port(app.port());
    let token = CancellationToken::new();
    let server = tokio::spawn(app.run_until_stopped(token.clone()));
    for i in 0..3 {
        let body = serde_json::json!({"firstname": "Ann", "lastname": format!("Doe{i}"), "email": format!("a{i}@example.org")});
        assert_eq!(client.post_json("/contacts", &body).await.status(), 201);
    }
    let before = store.all_contacts().await.unwrap();
    token.cancel();
    server.await.unwrap().unwrap();

    // Damage the read model behind the service's back, on a connection of its own.
    let damage = Db::connect(&ConnectOptions::new(db.url.clone(), 1), &MIGRATIONS).await.unwrap();
    sqlx::query("DELETE FROM contacts WHERE lastname = 'Doe1'").execute(&damage.writer).await.unwrap();
    damage.close().await;
    let damaged = Application::build(Settings::for_tests(&db.url)).await.unwrap();
    assert_eq!(damaged.store().all_contacts().await.unwrap().len(), 2);
    drop(damaged);

    let status = Command::new(env!("CARGO_BIN_EXE_contacts"))
        .arg("rebuild-projection")
        .env("DATABASE_URL", &db.url)
        .env("RUST_LOG", "warn")
        .status()
        .unwrap();
    assert!(status.success(), "{status}");
    let check = Application::build(Settings::for_tests(&db.url)).await.unwrap();
    assert_eq!(check.store().all_contacts().await.unwrap(), before);
}

#[test]
fn an_unknown_command_is_refused_with_exit_code_2() {
    let output = Command::new(env!("CARGO_BIN_EXE_contacts")).arg("frobnicate").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("frobnicate"));
}

#[tokio::test]
async fn a_read_model_written_by_older_rules_is_rebuilt_once_as_the_store_opens() {
    let db = TestDb::new().await;
    let app = Application::build(Settings::for_tests(&db.url)).await.unwrap();
    let client = TestClient::on_port(app.port());
    let token = CancellationToken::new();
    let server = tokio::spawn(app.run_until_stopped(token.clone()));
    let body = serde_json::json!({"firstname": "Jürgen", "lastname": "Ölmann", "email": "j@example.org"});
    assert_eq!(client.post_json("/contacts", &body).await.status(), 201);
    token.cancel();
    server.await.unwrap().unwrap();

    // What the previous rules wrote: lower-cased, accents kept, and the old version recorded.
    let old = Db::connect(&ConnectOptions::new(db.url.clone(), 1), &MIGRATIONS).await.unwrap();
    sqlx::query(
        "UPDATE contacts SET sort_key = 'ölmann jürgen', search_text = 'jürgen ölmann j@example.org'",
    )
    .execute(&old.writer)
    .await
    .unwrap();
    sqlx::query("UPDATE projection SET version = 1").execute(&old.writer).await.unwrap();
    old.close().await;

    let upgraded = Application::build(Settings::for_tests(&db.url)).await.unwrap();
    let found = upgraded.store().all_contacts().await.unwrap();
    assert_eq!(found.len(), 1);
    let check = Db::connect(&ConnectOptions::new(db.url.clone(), 1), &MIGRATIONS).await.unwrap();
    let (sort_key, version): (String, i64) =
        sqlx::query_as("SELECT c.sort_key, p.version FROM contacts c, projection p")
            .fetch_one(&check.reader)
            .await
            .unwrap();
    assert_eq!((sort_key.as_str(), version), ("olmann jurgen", contacts::store::PROJECTION_VERSION));
    check.close().await;
}

#[tokio::test]
async fn look_alike_addresses_stored_under_older_rules_are_both_kept_and_their_address_stays_taken() {
    let db = TestDb::new().await;
    let app = Application::build(Settings::for_tests(&db.url)).await.unwrap();
    let client = TestClient::on_port(app.port());
    let token = CancellationToken::new();
    let server = tokio::spawn(app.run_until_stopped(token.clone()));
    for email in ["jane@example.org", "twin@example.org"] {
        let body = serde_json::json!({"firstname": "Jane", "lastname": "Doe", "email": email});
        assert_eq!(client.post_json("/contacts", &body).await.status(), 201);
    }
    token.cancel();
    server.await.unwrap().unwrap();

    // What the rules before look-alike keys let in: the full-width twin of jane@example.org.
    let twin = "\u{FF4A}\u{FF41}\u{FF4E}\u{FF45}@example.org";
    let old = Db::connect(&ConnectOptions::new(db.url.clone(), 1), &MIGRATIONS).await.unwrap();
    for statement in [
        "UPDATE contact_events SET data = replace(data, 'twin@example.org', $1)",
        "UPDATE contacts SET email = $1, email_key = $1 WHERE email = 'twin@example.org'",
    ] {
        sqlx::query(statement).bind(twin).execute(&old.writer).await.unwrap();
    }
    sqlx::query("UPDATE projection SET version = 2").execute(&old.writer).await.unwrap();
    old.close().await;

    let upgraded = Application::build(Settings::for_tests(&db.url)).await.unwrap();
    let mut emails: Vec<String> =
        upgraded.store().all_contacts().await.unwrap().into_iter().map(|c| c.email).collect();
    emails.sort();
    assert_eq!(emails, ["jane@example.org", twin], "no contact is lost to the new rule");
    let client = TestClient::on_port(upgraded.port());
    let token = CancellationToken::new();
    let server = tokio::spawn(upgraded.run_until_stopped(token.clone()));
    let third = serde_json::json!({"firstname": "J", "lastname": "D", "email": "JANE@example.org"});
    assert_eq!(client.post_json("/contacts", &third).await.status(), 409);
    token.cancel();
    server.await.unwrap().unwrap();
}

#[test]
fn without_credentials_a_non_loopback_address_is_refused_with_exit_code_2_and_one_line() {
    let output = Command::new(env!("CARGO_BIN_EXE_contacts"))
        .env_clear()
        .env("HOST", "0.0.0.0")
        .env("PORT", "0")
        .env("DATABASE_URL", "sqlite::memory:")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    for var in ["API_TOKENS", "ADMIN_PASSWORD", "ALLOW_ANONYMOUS", "0.0.0.0"] {
        assert!(stderr.contains(var), "{var} in {stderr}");
    }
}

#[tokio::test]
async fn without_credentials_on_loopback_the_service_runs_open_and_says_so_once() {
    let db = TestDb::new().await;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_contacts"))
        .env("HOST", "127.0.0.1")
        .env("PORT", "0")
        .env("DATABASE_URL", &db.url)
        .env("LOG_FORMAT", "json")
        .env_remove("API_TOKENS")
        .env_remove("ADMIN_PASSWORD")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let lines = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut seen = Vec::new();
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let done = line.contains("listening");
            seen.push(line);
            if done {
                break;
            }
        }
        seen
    })
    .join()
    .unwrap();
    let warnings = lines.iter().filter(|l| l.contains("no credentials configured")).count();
    assert_eq!(warnings, 1, "{lines:#?}");
    let port = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|l| l["fields"]["port"].as_u64().or(l["port"].as_u64()))
        .unwrap_or_else(|| panic!("no port announced: {lines:#?}"));
    let client = TestClient::on_port(u16::try_from(port).unwrap());
    let body = serde_json::json!({"firstname": "Lou", "lastname": "Local", "email": "lou@example.org"});
    let status = client.post_json("/contacts", &body).await.status();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(status, 201, "open without credentials on loopback");
}
