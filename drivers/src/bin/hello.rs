//! The benchmark's ceiling: a bare axum server with one "hello" route and nothing else (no
//! middleware, no logging, no database), on the same tokio and hyper as the services.
//!
//! `PORT` (default 0: any free port) on 127.0.0.1. Prints one JSON line with the port, like the
//! services' "listening" line, and answers `GET /` with a short text and `GET /health/ready`
//! with `200`, so the harness starts and measures it like a service.

#![allow(clippy::print_stdout)] // announcing the port is how the harness finds it

use axum::Router;
use axum::routing::get;
use axum::serve::ListenerExt;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let port: u16 = match std::env::var("PORT") {
        Ok(raw) if !raw.is_empty() => {
            raw.parse().map_err(|_| anyhow::anyhow!("PORT: expected a port number, got {raw:?}"))?
        }
        _ => 0,
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let port = listener.local_addr()?.port();
    // The services set TCP_NODELAY on every connection; so does the ceiling.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let app = Router::new()
        .route("/", get(|| async { "Hello, world!" }))
        .route("/health/ready", get(|| async { "ready" }));
    println!("{{\"message\":\"hello listening\",\"port\":{port}}}");
    axum::serve(listener, app).await?;
    Ok(())
}
