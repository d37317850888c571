//! Starting the service on a free port with a fresh database, and talking to it.

use std::net::SocketAddr;
use std::ops::Deref;
use std::time::Duration;

use base64::Engine;
use notifications::config::{Delivery, Settings};
use notifications::startup::Application;
use notifications::workers::{DeliveryWorker, Retention};
use serde_json::Value;
use service_kit::config::Secret;
use test_support::smtp::SmtpServer;
use test_support::{TestClient, TestDb, json_body, wait_until};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const TOKEN: &str = "test-token";
pub const ADMIN_USER: &str = "admin";
pub const ADMIN_PASSWORD: &str = "test-password";
/// Long enough for a debug build on a busy machine; tests wait on conditions, never on time.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// A running service. Stops when dropped. Dereferences to its [`TestClient`] (`app.get(...)`,
/// `app.url(...)`, `app.http`); what it adds is the API token and the operator's login.
pub struct TestApp {
    client: TestClient,
    /// Where the service listens, for raw connections.
    pub addr: SocketAddr,
    /// The delivery worker, to drive by hand when the settings switched it off.
    pub delivery: DeliveryWorker,
    /// The retention sweep, to run by hand with a time of the test's choosing.
    pub retention: Option<Retention>,
    shutdown: CancellationToken,
    handle: Option<JoinHandle<anyhow::Result<()>>>,
    _db: Option<TestDb>,
}

/// Settings for a test instance on `db_url`: mailbox mode unless changed by `configure`.
pub fn settings(db_url: &str) -> Settings {
    service_kit::telemetry::init_for_tests();
    Settings::for_tests(db_url)
}

/// Points the settings at a test SMTP server.
pub fn use_smtp(settings: &mut Settings, server: &SmtpServer) {
    settings.delivery.delivery = Delivery::Smtp { url: Secret::new(server.url()) };
}

impl TestApp {
    /// The service in mailbox mode with a fresh database.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// The service with a fresh database and settings changed by `configure`.
    pub async fn spawn_with(configure: impl FnOnce(&mut Settings)) -> Self {
        let db = TestDb::new().await;
        let mut app = Self::spawn_on(&db.url, configure).await;
        app._db = Some(db);
        app
    }

    /// The service on an existing database (which the caller keeps alive).
    pub async fn spawn_on(db_url: &str, configure: impl FnOnce(&mut Settings)) -> Self {
        let mut settings = settings(db_url);
        configure(&mut settings);
        let app = Application::build(settings).await.expect("build the application");
        let client = TestClient::on_port(app.port());
        let addr = SocketAddr::from(([127, 0, 0, 1], app.port()));
        let delivery = app.delivery();
        let retention = app.retention();
        let shutdown = CancellationToken::new();
        let handle = tokio::spawn(app.run_until_stopped(shutdown.clone()));
        Self { client, addr, delivery, retention, shutdown, handle: Some(handle), _db: None }
    }

    /// Requests shutdown and waits until the service (worker included) has stopped.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        match self.handle.take() {
            Some(handle) => handle.await.expect("the service task does not panic"),
            None => Ok(()),
        }
    }

    /// Requests shutdown without waiting; returns the task to await.
    pub fn request_stop(mut self) -> JoinHandle<anyhow::Result<()>> {
        self.shutdown.cancel();
        self.handle.take().expect("still running")
    }

    /// `POST /notifications` with the token and an optional idempotency key.
    pub async fn post(&self, body: &Value, key: Option<&str>) -> reqwest::Response {
        let mut request = self.http.post(self.url("/notifications")).bearer_auth(TOKEN).json(body);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        request.send().await.expect("POST /notifications")
    }

    /// Posts a notification that must be accepted; returns the job JSON.
    pub async fn queue(&self, body: &Value) -> Value {
        let response = self.post(body, None).await;
        assert_eq!(response.status(), 202, "{:?}", response.text().await);
        json_body(response).await
    }

    /// `GET` with the token, as JSON.
    pub async fn api_get(&self, path: &str) -> (reqwest::StatusCode, Value) {
        let response = self.http.get(self.url(path)).bearer_auth(TOKEN).send().await.expect("GET");
        let status = response.status();
        (status, json_body(response).await)
    }

    pub async fn job(&self, id: &str) -> Value {
        let (status, job) = self.api_get(&format!("/notifications/{id}")).await;
        assert_eq!(status, 200, "{job}");
        job
    }

    /// Waits until the job has `status` and returns it.
    pub async fn wait_for_status(&self, id: &str, status: &str) -> Value {
        wait_until(&format!("job {id} to be {status}"), PATIENCE, || async {
            let job = self.job(id).await;
            (job["status"] == status).then_some(job)
        })
        .await
    }

    /// Waits until `check` holds for the job and returns it.
    pub async fn wait_for_job(&self, id: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        wait_until(what, PATIENCE, || async {
            let job = self.job(id).await;
            check(&job).then_some(job)
        })
        .await
    }

    /// All jobs, newest first (one page of up to 200).
    pub async fn all_jobs(&self) -> Vec<Value> {
        let (status, list) = self.api_get("/notifications?limit=200").await;
        assert_eq!(status, 200, "{list}");
        list["items"].as_array().expect("items").clone()
    }

    /// `GET` as a browser with the operator's credentials (a token: without JWT every token is
    /// an operator; the login itself is tested in `auth`).
    pub async fn page(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .header("Accept", "text/html")
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("GET page")
    }
}

impl Deref for TestApp {
    type Target = TestClient;

    fn deref(&self) -> &TestClient {
        &self.client
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A notification body for one recipient.
pub fn notification(email: &str, subject: &str, message: &str) -> Value {
    serde_json::json!({"email": email, "subject": subject, "message": message})
}

pub fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

/// The id of a job JSON.
pub fn id_of(job: &Value) -> String {
    job["id"].as_str().expect("job id").to_string()
}

/// Waits until every job in `ids` is `sent` (as `app` lists them), then checks each by its id:
/// one attempt, its `Message-ID` at `server` exactly once, and no message there that the jobs
/// do not account for.
pub async fn assert_each_job_sent_once(app: &TestApp, server: &SmtpServer, ids: &[String]) {
    let jobs = wait_until(&format!("all {} jobs sent", ids.len()), PATIENCE, || async {
        let jobs = app.all_jobs().await;
        let sent = |id: &String| jobs.iter().any(|j| j["id"] == id.as_str() && j["status"] == "sent");
        ids.iter().all(sent).then_some(jobs)
    })
    .await;
    assert_eq!(jobs.len(), ids.len(), "no job beyond the {} queued", ids.len());
    let delivered: Vec<String> =
        server.messages().iter().map(|m| format!("<{}>", m.message_id().expect("a Message-ID"))).collect();
    for id in ids {
        let job = jobs.iter().find(|j| j["id"] == id.as_str()).expect("the job is listed");
        assert_eq!(job["attempts"], 1, "job {id} claimed once: {job}");
        let message_id = job["message_id"].as_str().expect("the job's Message-ID");
        let copies = delivered.iter().filter(|m| *m == message_id).count();
        assert_eq!(copies, 1, "job {id} sent exactly once ({message_id})");
    }
    assert_eq!(delivered.len(), ids.len(), "only the jobs' messages were sent: {delivered:?}");
}
