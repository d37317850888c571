//! Starting calendar on a free port with a fresh database, and talking to it.

use std::time::Duration;

use calendar::config::Settings;
use calendar::startup::Application;
use calendar::workers::dispatcher::Dispatcher;
use serde_json::Value;
use test_support::{TestClient, TestDb, json_body, wait_until};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tower_resilience_circuitbreaker::CircuitState;
use uuid::Uuid;

use crate::feed_server::FeedServer;
use crate::notifications_stub::{NotificationsStub, TOKEN};

pub const WAIT: Duration = Duration::from_secs(20);

/// A running calendar; dereferences to its [`TestClient`] (`app.get("/users")`).
pub struct TestApp {
    pub client: TestClient,
    pub dispatcher: Dispatcher,
    pub db: TestDb,
    token: CancellationToken,
    handle: JoinHandle<anyhow::Result<()>>,
}

/// Test settings for `feed`, optionally delivering to `notifications`.
pub fn settings(db: &TestDb, feed: &FeedServer, notifications: Option<&NotificationsStub>) -> Settings {
    let mut settings = Settings::for_tests(&db.url, feed.feed_url());
    if let Some(stub) = notifications {
        settings.notifications.service = Some(stub.url());
        settings.notifications.token = service_kit::config::Secret::new(TOKEN);
    }
    settings
}

pub async fn spawn_app(feed: &FeedServer) -> TestApp {
    let db = TestDb::new().await;
    let settings = settings(&db, feed, None);
    spawn_with(db, settings).await
}

/// A calendar delivering to `stub`, its breaker open for `open_for` once tripped.
pub async fn app_with_notifications(
    feed: &FeedServer,
    stub: &NotificationsStub,
    open_for: Duration,
) -> TestApp {
    let db = TestDb::new().await;
    let mut settings = settings(&db, feed, Some(stub));
    settings.notifications.breaker.open_for = open_for;
    spawn_with(db, settings).await
}

/// An owner and `n` guests at the feed: the owner's id, the guests' addresses, and the id of the
/// last contact created (once calendar has it, it has them all).
pub fn owner_and_guests(feed: &FeedServer, n: usize) -> (uuid::Uuid, Vec<String>, uuid::Uuid) {
    let owner = feed.create_contact("owner@example.org", "Olive", "Owner");
    let guests: Vec<String> = (0..n).map(|i| format!("guest{i}@example.org")).collect();
    let mut last = owner;
    for guest in &guests {
        last = feed.create_contact(guest, "Guest", "G");
    }
    (owner, guests, last)
}

/// The dispatcher's breaker (notifications must be on).
pub fn breaker(dispatcher: &Dispatcher) -> CircuitState {
    dispatcher.breaker_state().expect("notifications are on")
}

pub async fn spawn_with(db: TestDb, settings: Settings) -> TestApp {
    service_kit::telemetry::init_for_tests();
    let app = Application::build(settings).await.expect("build calendar");
    let client = TestClient::on_port(app.port());
    let dispatcher = app.dispatcher();
    let token = CancellationToken::new();
    let handle = tokio::spawn(app.run_until_stopped(token.clone()));
    TestApp { client, dispatcher, db, token, handle }
}

impl std::ops::Deref for TestApp {
    type Target = TestClient;

    fn deref(&self) -> &TestClient {
        &self.client
    }
}

impl TestApp {
    /// The ids of the event's outbox rows, oldest first, read from the database itself.
    pub async fn outbox_ids(&self, event: &str) -> Vec<String> {
        self.outbox_rows(event).await.into_iter().map(|row| row.0).collect()
    }

    /// The event's outbox rows as (id, address, status, last error), oldest first, read from
    /// the database itself.
    pub async fn outbox_rows(&self, event: &str) -> Vec<(String, String, String, Option<String>)> {
        use calendar::startup::MIGRATIONS;
        use service_kit::db::{ConnectOptions, Db};
        let db = Db::connect(&ConnectOptions::new(&self.db.url, 1), &MIGRATIONS).await.expect("connect");
        let rows = sqlx::query_as(
            "SELECT id, email, status, last_error FROM outbox WHERE event_id = $1 ORDER BY created_at, id",
        )
        .bind(event)
        .fetch_all(&db.reader)
        .await
        .expect("outbox rows");
        db.close().await;
        rows
    }

    /// Stops the app (as SIGTERM would) and hands back its database for a restart.
    pub async fn stop(self) -> TestDb {
        self.token.cancel();
        self.handle.await.expect("join").expect("calendar stopped cleanly");
        self.db
    }

    /// Waits until the replica has the user.
    pub async fn wait_for_user(&self, id: Uuid) -> Value {
        wait_until(&format!("user {id} in calendar"), WAIT, || async {
            let (status, body) = self.get_json(&format!("/users/{id}")).await;
            (status == 200).then_some(body)
        })
        .await
    }

    /// Waits until the user is gone from the replica.
    pub async fn wait_for_no_user(&self, id: Uuid) {
        wait_until(&format!("user {id} gone"), WAIT, || async {
            (self.get_json(&format!("/users/{id}")).await.0 == 404).then_some(())
        })
        .await
    }

    /// All users, following `next` links.
    pub async fn all_users(&self) -> Vec<Value> {
        let mut items = Vec::new();
        let mut next = Some(self.url("/users?limit=200"));
        while let Some(url) = next {
            let body =
                json_body(self.http.get(url).header("accept", "application/json").send().await.unwrap())
                    .await;
            items.extend(body["items"].as_array().unwrap().iter().cloned());
            next = body["next"].as_str().map(str::to_string);
        }
        items
    }

    /// The value of one sample in `/metrics` (`name{labels}` exactly as rendered), if present.
    pub async fn metric(&self, series: &str) -> Option<f64> {
        let text = self.get("/metrics").await.text().await.unwrap();
        text.lines()
            .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }

    /// Creates an all-day event in the user's calendar (the original payload); returns its id.
    pub async fn create_event(&self, user: Uuid, title: &str) -> String {
        let response = self
            .post_json(
                &format!("/calendar/{user}"),
                &serde_json::json!({"title": title, "day": 24, "month": 12, "year": 2026}),
            )
            .await;
        assert_eq!(response.status(), 201);
        json_body(response).await["id"].as_str().unwrap().to_string()
    }
}
