//! PostgreSQL `LISTEN`/`NOTIFY`: a job stored by any replica wakes the workers of all of them
//! at once, instead of at their next poll (`service_kit::listen` runs the connection, the store
//! names the channel). Best effort: a missed notification only delays a job until the poll
//! interval.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use service_kit::listen::Notified;
use tokio::sync::Notify;

/// Wakes the delivery worker on every notification; `listening` is true while `LISTEN` is in
/// place.
#[derive(Debug, Clone)]
pub struct NewJobListener {
    pub wake: Arc<Notify>,
    pub listening: Arc<AtomicBool>,
}

impl Notified for NewJobListener {
    async fn connected(&self) -> Result<(), sqlx::Error> {
        self.listening.store(true, Ordering::SeqCst);
        // Jobs stored while we were away are found by the worker's next claim.
        self.wake.notify_one();
        Ok(())
    }

    fn notified(&self, _payload: &str) {
        self.wake.notify_one();
    }

    fn disconnected(&self) {
        self.listening.store(false, Ordering::SeqCst);
    }
}
