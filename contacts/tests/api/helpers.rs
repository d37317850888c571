//! Starting the service for a test: a fresh database, a random port, real HTTP.

use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use contacts::config::Settings;
use contacts::startup::Application;
use contacts::store::Store;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use test_support::{TestClient, TestDb, json_body};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use url::Url;

/// How to start an instance.
#[derive(Debug, Clone)]
pub struct Options {
    pub page_size: u32,
    pub public_url: Option<Url>,
    pub request_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self { page_size: 20, public_url: None, request_timeout: Duration::from_secs(60) }
    }
}

/// A running contacts instance on 127.0.0.1. Dereferences to its [`TestClient`], so tests write
/// `app.get("/contacts")`.
pub struct TestApp {
    client: TestClient,
    /// The public URL the service puts in links (ends with `/`).
    pub public_url: String,
    pub store: Store,
    /// Kept alive (and cleaned up) with the instance.
    _db: Arc<TestDb>,
    token: CancellationToken,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl Deref for TestApp {
    type Target = TestClient;
    fn deref(&self) -> &TestClient {
        &self.client
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.token.cancel();
    }
}

pub async fn spawn_app() -> TestApp {
    TestApp::spawn(Arc::new(TestDb::new().await), Options::default()).await
}

pub async fn spawn_with(options: Options) -> TestApp {
    TestApp::spawn(Arc::new(TestDb::new().await), options).await
}

/// An instance on a fresh database with settings of its own (limits under test).
pub async fn spawn_configured(configure: impl FnOnce(&mut Settings)) -> TestApp {
    TestApp::spawn_configured(Arc::new(TestDb::new().await), configure).await
}

impl TestApp {
    /// Starts an instance on `db` (several instances on one database are replicas).
    pub async fn spawn(db: Arc<TestDb>, options: Options) -> Self {
        Self::spawn_configured(db, |settings| {
            settings.feed_page_size = options.page_size;
            settings.common.public_url = options.public_url;
            settings.common.request_timeout = options.request_timeout;
        })
        .await
    }

    /// Starts an instance on `db` with the test settings as `configure` changes them.
    pub async fn spawn_configured(db: Arc<TestDb>, configure: impl FnOnce(&mut Settings)) -> Self {
        service_kit::telemetry::init_for_tests();
        let mut settings = Settings::for_tests(&db.url);
        configure(&mut settings);
        let app = Application::build(settings).await.expect("build the app");
        let client = TestClient::on_port(app.port());
        let public_url = app.public_url().to_string();
        let store = app.store().clone();
        let token = CancellationToken::new();
        let task = tokio::spawn(app.run_until_stopped(token.clone()));
        Self { client, public_url, store, _db: db, token, task: Some(task) }
    }

    /// Stops the instance and waits until it has.
    pub async fn stop(mut self) {
        self.token.cancel();
        if let Some(task) = self.task.take() {
            task.await.expect("app task").expect("app stopped cleanly");
        }
    }

    /// Where the instance listens, for raw connections.
    pub fn addr(&self) -> SocketAddr {
        let port = self.address.rsplit(':').next().and_then(|p| p.parse().ok()).expect("a port");
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    /// A link the service published, pointed at this instance.
    pub fn local(&self, href: &str) -> String {
        let path = href
            .strip_prefix(&self.public_url)
            .unwrap_or_else(|| panic!("{href} is not under {}", self.public_url));
        format!("{}/{path}", self.address)
    }

    /// Creates a contact and returns its JSON.
    pub async fn create(&self, firstname: &str, lastname: &str, email: &str) -> Value {
        let response = self
            .post_json("/contacts", &json!({"firstname": firstname, "lastname": lastname, "email": email}))
            .await;
        let status = response.status();
        let body = json_body(response).await;
        assert_eq!(status, StatusCode::CREATED, "creating {email}: {body}");
        body
    }

    /// The path of a contact (`/contacts/{id}`).
    pub fn contact_path(contact: &Value) -> String {
        format!("/contacts/{}", contact["id"].as_str().expect("id"))
    }

    /// Fetches and parses a feed document.
    pub async fn feed(&self, path: &str) -> atom_syndication::Feed {
        let response = self.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        assert_eq!(response.headers()["content-type"], "application/atom+xml; charset=utf-8");
        parse_feed(&response.text().await.expect("body"))
    }
}

pub fn parse_feed(body: &str) -> atom_syndication::Feed {
    atom_syndication::Feed::read_from(body.as_bytes()).unwrap_or_else(|e| panic!("not Atom ({e}): {body}"))
}

/// The event JSON of an entry.
pub fn event_of(entry: &atom_syndication::Entry) -> Value {
    let content = entry.content().expect("entry content");
    assert_eq!(content.content_type(), Some("application/json"));
    serde_json::from_str(content.value().expect("content value")).expect("event JSON")
}

/// The sequences in a document, as listed.
pub fn sequences(feed: &atom_syndication::Feed) -> Vec<i64> {
    feed.entries().iter().map(|e| event_of(e)["sequence"].as_i64().expect("sequence")).collect()
}

/// The href of the link with `rel`, if any.
pub fn link<'a>(feed: &'a atom_syndication::Feed, rel: &str) -> Option<&'a str> {
    feed.links().iter().find(|l| l.rel() == rel).map(|l| l.href())
}

pub async fn error_code(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    (status, json_body(response).await)
}
