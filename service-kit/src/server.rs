//! The HTTP server loop: HTTP/1.1 over hyper with the protections `axum::serve` lacks.
//!
//! - a deadline for reading request headers (slowloris clients are cut off; it also closes a
//!   kept-alive connection that stays idle that long),
//! - a bound on the request head: at most [`ServerLimits::max_header_bytes`] bytes and
//!   [`MAX_HEADER_FIELDS`] fields, else `431` and the connection is closed,
//! - a cap on open connections per client IP (one client cannot take every socket). With
//!   HTTP/1.1 a connection carries one request at a time, so this also caps the requests one
//!   client has in flight,
//! - graceful shutdown: stop accepting, let in-flight requests finish (bounded), then return.
//!
//! The per-request deadline (body included) is the timeout layer in [`crate::http::apply`].

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::config::CommonSettings;

/// Most header fields in one request; more get `431`. This is hyper's own default, stated here
/// rather than set: setting any value moves hyper's header array from the stack to the heap.
pub const MAX_HEADER_FIELDS: usize = 100;

/// Connection-level limits.
#[derive(Debug, Clone)]
pub struct ServerLimits {
    /// Time a client has to send complete request headers (and longest idle keep-alive).
    pub header_read_timeout: Duration,
    /// Largest request head (request line and headers) in bytes; larger ones get `431`.
    pub max_header_bytes: usize,
    /// Open connections allowed per client IP; further connections are closed at once.
    pub max_connections_per_client: usize,
    /// How long shutdown waits for in-flight requests before dropping them.
    pub shutdown_grace: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(crate::config::DEFAULT_HEADER_READ_TIMEOUT_SECS),
            max_header_bytes: crate::config::DEFAULT_MAX_HEADER_BYTES,
            max_connections_per_client: 256,
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

impl ServerLimits {
    /// The limits configured in the environment (`HEADER_READ_TIMEOUT_SECS`,
    /// `MAX_HEADER_BYTES`, `MAX_CONNECTIONS_PER_CLIENT`); the shutdown grace is the default.
    pub fn from_settings(settings: &CommonSettings) -> Self {
        Self {
            header_read_timeout: settings.header_read_timeout,
            max_header_bytes: settings.max_header_bytes,
            max_connections_per_client: settings.max_connections_per_client,
            ..Self::default()
        }
    }
}

/// Serves `router` on `listener` until `shutdown` is cancelled, then drains connections.
/// Handlers can read the peer address with `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServerLimits,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    let per_client = ClientCounter::default();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_header_size(limits.max_header_bytes)
        .keep_alive(true);

    loop {
        let (stream, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Usually EMFILE/ENFILE: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Some(slot) = per_client.try_acquire(peer.ip(), limits.max_connections_per_client) else {
            tracing::warn!(client = %peer.ip(), "connection refused: too many open connections from this client");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = router.clone().map_request(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            req
        });
        let connection = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, client = %peer, "connection ended with an error");
            }
            drop(slot);
        });
    }

    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(limits.shutdown_grace) => {
            tracing::warn!("shutdown grace period over; dropping remaining connections");
        }
    }
    Ok(())
}

/// Counts open connections per client IP.
#[derive(Debug, Clone, Default)]
struct ClientCounter(Arc<Mutex<HashMap<IpAddr, usize>>>);

/// Releases one connection slot when dropped.
#[derive(Debug)]
struct ClientSlot {
    counter: ClientCounter,
    ip: IpAddr,
}

impl ClientCounter {
    fn try_acquire(&self, ip: IpAddr, max: usize) -> Option<ClientSlot> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let open = map.entry(ip).or_insert(0);
        if *open >= max {
            return None;
        }
        *open += 1;
        Some(ClientSlot { counter: self.clone(), ip })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut map = self.counter.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(open) = map.get_mut(&self.ip) {
            *open -= 1;
            if *open == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

/// Binds `addr`; port 0 picks a free port (read it back from the listener).
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_gets_at_most_its_share_of_connections() {
        let counter = ClientCounter::default();
        let ip: IpAddr = [10, 0, 0, 1].into();
        let first = counter.try_acquire(ip, 2).expect("first");
        let _second = counter.try_acquire(ip, 2).expect("second");
        assert!(counter.try_acquire(ip, 2).is_none());
        assert!(counter.try_acquire([10, 0, 0, 2].into(), 2).is_some(), "other clients are unaffected");
        drop(first);
        assert!(counter.try_acquire(ip, 2).is_some(), "a closed connection frees its slot");
    }
}
