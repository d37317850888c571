//! A client that hangs up while its write is being handled must not cut the write short: hyper
//! drops the handler's future when the connection closes, and a handler stopped between its
//! commit and what follows (advancing an in-memory head, waking a worker) leaves the service
//! inconsistent until something else repairs it.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::post;
use service_kit::http::{HttpOptions, apply};
use service_kit::server::{ServerLimits, serve};
use tokio::io::AsyncWriteExt;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use url::Url;

struct Probe {
    /// Lets the handler go on once the client is gone.
    release: Notify,
    /// Set by the handler's last line.
    finished: AtomicBool,
}

async fn slow_step(probe: Arc<Probe>) -> &'static str {
    probe.release.notified().await;
    // Give the server time to notice the closed connection before the handler goes on.
    tokio::time::sleep(Duration::from_millis(50)).await;
    probe.finished.store(true, Ordering::SeqCst);
    "done"
}

async fn hang_up_during(method: &str, patience: Duration) -> bool {
    let probe = Arc::new(Probe { release: Notify::new(), finished: AtomicBool::new(false) });
    let handler = {
        let probe = probe.clone();
        move || slow_step(probe.clone())
    };
    let routes = Router::new().route("/step", post(handler.clone()).get(handler));
    let router = apply(routes, HttpOptions::new(Url::parse("http://public.example/").unwrap()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let token = CancellationToken::new();
    tokio::spawn(serve(listener, router, ServerLimits::default(), token.clone()));

    let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("{method} /step HTTP/1.1\r\nhost: public.example\r\ncontent-length: 0\r\n\r\n");
    client.write_all(request.as_bytes()).await.unwrap();
    // The handler is running once the server has read the request; then the client hangs up.
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(client);
    tokio::time::sleep(Duration::from_millis(100)).await;
    probe.release.notify_one();

    let deadline = tokio::time::Instant::now() + patience;
    while tokio::time::Instant::now() < deadline {
        if probe.finished.load(Ordering::SeqCst) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    token.cancel();
    probe.finished.load(Ordering::SeqCst)
}

#[tokio::test]
async fn a_write_finishes_even_when_its_client_hangs_up() {
    assert!(
        hang_up_during("POST", Duration::from_secs(10)).await,
        "the POST handler was cut short by the client hanging up"
    );
}

#[tokio::test]
async fn a_read_whose_client_hung_up_is_abandoned() {
    // Reads hold nothing worth finishing (a held long poll can end at once). The handler's
    // own work takes 50 ms after its release, so a second is ample for it to have finished.
    assert!(
        !hang_up_during("GET", Duration::from_secs(1)).await,
        "the GET handler ran on for a client that was gone"
    );
}
