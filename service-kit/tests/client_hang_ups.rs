//! A client that hangs up while its write is being handled must not cut the write short: hyper
//! drops the handler's future when the connection closes, and a handler stopped between its
//! commit and what follows (advancing an in-memory head, waking a worker) leaves the service
//! inconsistent until something else repairs it.
//!
//! Each step waits for what it needs: the handler has started, then the server has dropped the
//! request (seen by a guard in an outermost layer, the future hyper polls), and only then is the
//! handler let go on.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::post;
use service_kit::http::{HttpOptions, apply};
use service_kit::server::{ServerLimits, serve};
use test_support::wait_until;
use tokio::io::AsyncWriteExt;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use url::Url;

/// Long enough for a loaded machine; every wait ends as soon as its condition holds.
const PATIENCE: Duration = Duration::from_secs(10);

#[derive(Default)]
struct Probe {
    /// Set by the handler's first line.
    started: AtomicBool,
    /// Lets the handler go on once the server has dropped the request.
    release: Notify,
    /// Set by the handler's last line.
    finished: AtomicBool,
    /// Set when the handler's future is dropped before its last line.
    handler_dropped: AtomicBool,
    /// Set when the server drops the request's future (the outermost layer's) unanswered.
    request_dropped: AtomicBool,
}

/// Sets its flag when dropped, unless disarmed.
struct OnDrop<'a> {
    flag: &'a AtomicBool,
    armed: bool,
}

impl Drop for OnDrop<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.flag.store(true, Ordering::SeqCst);
        }
    }
}

async fn slow_step(probe: Arc<Probe>) -> &'static str {
    let mut guard = OnDrop { flag: &probe.handler_dropped, armed: true };
    probe.started.store(true, Ordering::SeqCst);
    probe.release.notified().await;
    probe.finished.store(true, Ordering::SeqCst);
    guard.armed = false;
    "done"
}

/// The outermost layer: its future is the one hyper drops when the connection closes.
async fn watch_request(probe: Arc<Probe>, req: Request, next: Next) -> Response {
    let mut guard = OnDrop { flag: &probe.request_dropped, armed: true };
    let response = next.run(req).await;
    guard.armed = false;
    response
}

/// How a handler ended after its client hung up.
#[derive(Debug, PartialEq, Eq)]
enum End {
    /// It ran to its last line.
    Finished,
    /// Its future was dropped before.
    Dropped,
}

async fn hang_up_during(method: &str) -> End {
    let probe = Arc::new(Probe::default());
    let handler = {
        let probe = probe.clone();
        move || slow_step(probe.clone())
    };
    let routes = Router::new().route("/step", post(handler.clone()).get(handler));
    let router = apply(routes, HttpOptions::new(Url::parse("http://public.example/").unwrap()));
    let watched = probe.clone();
    let router = router.layer(middleware::from_fn(move |req: Request, next: Next| {
        watch_request(watched.clone(), req, next)
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let token = CancellationToken::new();
    tokio::spawn(serve(listener, router, ServerLimits::default(), token.clone()));

    let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("{method} /step HTTP/1.1\r\nhost: public.example\r\ncontent-length: 0\r\n\r\n");
    client.write_all(request.as_bytes()).await.unwrap();
    wait_until(&format!("the {method} handler to start"), PATIENCE, || async {
        probe.started.load(Ordering::SeqCst).then_some(())
    })
    .await;
    drop(client);
    wait_until(
        &format!("the server to drop the {method} request of the client that hung up"),
        PATIENCE,
        || async { probe.request_dropped.load(Ordering::SeqCst).then_some(()) },
    )
    .await;
    assert!(!probe.finished.load(Ordering::SeqCst), "the {method} handler finished before its release");
    probe.release.notify_one();

    let end = wait_until(&format!("the {method} handler to finish or be dropped"), PATIENCE, || async {
        if probe.finished.load(Ordering::SeqCst) {
            Some(End::Finished)
        } else if probe.handler_dropped.load(Ordering::SeqCst) {
            Some(End::Dropped)
        } else {
            None
        }
    })
    .await;
    token.cancel();
    end
}

#[tokio::test]
async fn a_write_finishes_even_when_its_client_hangs_up() {
    assert_eq!(
        hang_up_during("POST").await,
        End::Finished,
        "the POST handler was cut short by the client hanging up"
    );
}

#[tokio::test]
async fn a_read_whose_client_hung_up_is_abandoned() {
    // Reads hold nothing worth finishing (a held long poll can end at once).
    assert_eq!(
        hang_up_during("GET").await,
        End::Dropped,
        "the GET handler ran on for a client that was gone"
    );
}
