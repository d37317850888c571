//! `GET /health/live` (the process answers) and `GET /health/ready` (its own database answers).
//! Readiness never looks at other services: one service down must not mark the others unready.

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::json;

use crate::db::Db;

pub fn router(db: Db) -> Router {
    Router::new()
        .route("/health/live", get(|| async { axum::Json(json!({"status": "ok"})) }))
        .route("/health/ready", get(ready))
        .with_state(db)
}

async fn ready(State(db): State<Db>) -> (StatusCode, axum::Json<serde_json::Value>) {
    if db.ping(Duration::from_secs(2)).await {
        (StatusCode::OK, axum::Json(json!({"status": "ok", "database": "ok"})))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"status": "unavailable", "database": "unreachable"})),
        )
    }
}
