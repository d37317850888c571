//! A slow stand-in for a dependency: listens on the port the real service used (after it was
//! stopped), reads each HTTP request, and answers `503` only after a long delay. To its client
//! it is the worst kind of failing dependency: it accepts connections and then keeps them
//! waiting.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The running stand-in; stops listening (and drops held connections) when dropped.
#[derive(Debug)]
pub struct SlowServer {
    requests: Arc<AtomicUsize>,
    acceptor: JoinHandle<()>,
}

impl SlowServer {
    /// Listens on 127.0.0.1:`port` and answers every request after `delay`.
    pub async fn start(port: u16, delay: Duration) -> std::io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = requests.clone();
        let acceptor = tokio::spawn(async move {
            let mut held = tokio::task::JoinSet::new();
            while let Ok((mut stream, _)) = listener.accept().await {
                let counter = counter.clone();
                held.spawn(async move {
                    let mut buffer = vec![0u8; 64 * 1024];
                    let mut read = 0;
                    // The request head; the body (a small JSON job) comes in the same packets.
                    while !buffer[..read].windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buffer[read..]).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => read += n,
                        }
                        if read == buffer.len() {
                            return;
                        }
                    }
                    counter.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(delay).await;
                    let body = r#"{"error":"unavailable","message":"slow stand-in"}"#;
                    let answer = format!(
                        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
                         content-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(answer.as_bytes()).await;
                });
            }
        });
        Ok(Self { requests, acceptor })
    }

    /// Stops listening and closes every held connection; the port is free when this returns.
    pub async fn stop(mut self) {
        self.acceptor.abort();
        let _ = (&mut self.acceptor).await;
    }

    /// Requests received so far (each was held for the delay).
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for SlowServer {
    fn drop(&mut self) {
        // Aborting the acceptor drops the listener and, with the JoinSet, every held connection.
        self.acceptor.abort();
    }
}
