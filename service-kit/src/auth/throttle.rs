//! A growing, bounded delay after failed login attempts.
//!
//! The n-th failure in a row waits `LOGIN_DELAY_BASE·2ⁿ⁻¹`, at most [`LOGIN_DELAY_MAX`], before
//! it is answered, and attempts are checked one at a time, so guesses sent in parallel queue
//! behind each other's delay. A success, or a quarter of an hour without failures, starts the
//! count again. The count is per process (each replica counts its own).

use std::time::{Duration, Instant};

use tokio::sync::Mutex;

/// Delay of the first failed attempt in a row.
pub const LOGIN_DELAY_BASE: Duration = Duration::from_millis(250);
/// Longest delay of one failed attempt.
pub const LOGIN_DELAY_MAX: Duration = Duration::from_secs(8);
/// Quiet time after which earlier failures are forgotten.
const FAILURES_FORGOTTEN_AFTER: Duration = Duration::from_secs(15 * 60);

pub(crate) fn describe_metrics() {
    metrics::describe_counter!(
        "login_attempts_total",
        "Attempts to log in at /login, by outcome (success, failure)"
    );
}

/// Failed attempts in a row, checked one attempt at a time.
#[derive(Debug, Default)]
pub(crate) struct Throttle {
    state: Mutex<Failures>,
}

#[derive(Debug, Default)]
struct Failures {
    count: u32,
    last: Option<Instant>,
}

/// The delay of the `n`-th failure in a row (n ≥ 1).
pub fn failure_delay(n: u32) -> Duration {
    let factor = 1u32 << n.saturating_sub(1).min(16);
    LOGIN_DELAY_BASE.saturating_mul(factor).min(LOGIN_DELAY_MAX)
}

impl Throttle {
    /// Runs `check` (is this the right password?) in turn with the other attempts, and waits
    /// out the delay when it fails.
    pub(crate) async fn attempt(&self, check: impl FnOnce() -> bool) -> bool {
        let mut failures = self.state.lock().await;
        if failures.last.is_some_and(|t| t.elapsed() > FAILURES_FORGOTTEN_AFTER) {
            *failures = Failures::default();
        }
        let ok = check();
        if ok {
            *failures = Failures::default();
        } else {
            failures.count = failures.count.saturating_add(1);
            // Held while waiting: the next guess waits for this one's delay, too.
            tokio::time::sleep(failure_delay(failures.count)).await;
            failures.last = Some(Instant::now());
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_grows_and_is_bounded() {
        assert_eq!(failure_delay(1), Duration::from_millis(250));
        assert_eq!(failure_delay(2), Duration::from_millis(500));
        assert_eq!(failure_delay(4), Duration::from_secs(2));
        assert_eq!(failure_delay(100), LOGIN_DELAY_MAX);
        assert_eq!(failure_delay(u32::MAX), LOGIN_DELAY_MAX);
    }
}
