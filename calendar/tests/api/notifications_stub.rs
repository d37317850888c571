//! A stand-in for notifications speaking the DESIGN.md contract (`POST /notifications` with a
//! bearer token and an Idempotency-Key; 202, same job on replay, 409 for a reused key with
//! another body), with switchable faults: down (connection refused), 5xx, slow.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

pub const TOKEN: &str = "test-token";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Up,
    Status(u16),
    Slow(Duration),
}

#[derive(Debug, Clone)]
pub struct Received {
    pub key: String,
    /// The id the stand-in gave the job (not the key, as a real notifications does).
    pub job_id: String,
    pub body: Value,
    pub request_id: Option<String>,
}

#[derive(Default)]
struct State_ {
    mode: Option<Mode>,
    /// Body and job id by key.
    jobs: HashMap<String, (Value, String)>,
    accepted: Vec<Received>,
    /// The `Idempotency-Key` of every request that reached the stub, recorded before it is
    /// answered (a request whose client gave up waiting included).
    attempt_keys: Vec<Option<String>>,
}

#[derive(Clone)]
pub struct NotificationsStub {
    state: Arc<Mutex<State_>>,
    port: u16,
    server: Arc<Mutex<Option<CancellationToken>>>,
}

impl NotificationsStub {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let stub = Self { state: Arc::default(), port, server: Arc::default() };
        stub.state.lock().unwrap().mode = Some(Mode::Up);
        stub.serve(listener);
        stub
    }

    pub fn url(&self) -> url::Url {
        url::Url::parse(&format!("http://127.0.0.1:{}/", self.port)).unwrap()
    }

    fn serve(&self, listener: tokio::net::TcpListener) {
        let token = CancellationToken::new();
        *self.server.lock().unwrap() = Some(token.clone());
        let app = Router::new().route("/notifications", post(accept)).with_state(self.state.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).with_graceful_shutdown(token.cancelled_owned()).await;
        });
    }

    /// Stops listening: connections are refused until [`NotificationsStub::come_back`].
    #[allow(dead_code, reason = "used by the breaker_and_outbox_gauges test binary, not by api")]
    pub async fn go_down(&self) {
        if let Some(token) = self.server.lock().unwrap().take() {
            token.cancel();
        }
        // Wait until the port really refuses connections.
        test_support::wait_until("the stub to stop listening", Duration::from_secs(10), || async {
            tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.is_err().then_some(())
        })
        .await;
    }

    #[allow(dead_code, reason = "used by the breaker_and_outbox_gauges test binary, not by api")]
    pub async fn come_back(&self) {
        let listener =
            test_support::wait_until("the port to be free again", Duration::from_secs(10), || async {
                tokio::net::TcpListener::bind(("127.0.0.1", self.port)).await.ok()
            })
            .await;
        self.state.lock().unwrap().mode = Some(Mode::Up);
        self.serve(listener);
    }

    pub fn set_mode(&self, mode: Mode) {
        self.state.lock().unwrap().mode = Some(mode);
    }

    /// Jobs accepted (first time per key).
    pub fn accepted(&self) -> Vec<Received> {
        self.state.lock().unwrap().accepted.clone()
    }

    /// Requests that reached the stub, accepted or not.
    pub fn attempts(&self) -> usize {
        self.state.lock().unwrap().attempt_keys.len()
    }

    /// The `Idempotency-Key` of every request that reached the stub, in order (`None` for a
    /// request without one).
    pub fn attempt_keys(&self) -> Vec<Option<String>> {
        self.state.lock().unwrap().attempt_keys.clone()
    }
}

async fn accept(
    State(state): State<Arc<Mutex<State_>>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let mode = {
        let mut s = state.lock().unwrap();
        let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_string);
        s.attempt_keys.push(key);
        s.mode.unwrap_or(Mode::Up)
    };
    match mode {
        Mode::Status(code) => return StatusCode::from_u16(code).unwrap().into_response(),
        Mode::Slow(delay) => tokio::time::sleep(delay).await,
        Mode::Up => {}
    }
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(&format!("Bearer {TOKEN}")) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let Some(key) = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_string) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let request_id = headers.get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_string);
    let mut s = state.lock().unwrap();
    match s.jobs.get(&key) {
        Some((previous, job_id)) if previous == &body => {
            (StatusCode::ACCEPTED, axum::Json(json!({"id": job_id}))).into_response()
        }
        Some(_) => StatusCode::CONFLICT.into_response(),
        None => {
            let job_id = uuid::Uuid::new_v4().to_string();
            s.jobs.insert(key.clone(), (body.clone(), job_id.clone()));
            s.accepted.push(Received { key: key.clone(), job_id: job_id.clone(), body, request_id });
            (StatusCode::ACCEPTED, axum::Json(json!({"id": job_id}))).into_response()
        }
    }
}
