//! PostgreSQL `LISTEN`/`NOTIFY`: a job stored by any replica wakes the workers of all of them
//! at once, instead of at their next poll. Best effort: a missed notification only delays a job
//! until the poll interval, so errors are logged and the listener reconnects after a pause.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::postgres::PgListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// The channel `POST /notifications` notifies after storing a job.
pub const CHANNEL: &str = "notifications_new_job";

/// Wakes `wake` on every notification on [`CHANNEL`] until `shutdown`. `listening` is true
/// while the `LISTEN` is in place.
pub async fn run(
    url: String,
    wake: Arc<Notify>,
    listening: Arc<AtomicBool>,
    retry: Duration,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            Err(e) = listen(&url, &wake, &listening) => {
                listening.store(false, Ordering::SeqCst);
                tracing::warn!(error = %e, "LISTEN for new jobs failed; polling until it is back");
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(retry) => {}
        }
    }
}

async fn listen(url: &str, wake: &Notify, listening: &AtomicBool) -> Result<Infallible, sqlx::Error> {
    let mut listener = PgListener::connect(url).await?;
    listener.listen(CHANNEL).await?;
    listening.store(true, Ordering::SeqCst);
    loop {
        listener.recv().await?;
        wake.notify_one();
    }
}
