//! Exponential backoff with jitter: the one retry schedule of every loop in the services
//! (`backon`'s exponential schedule). Retry `n` (1 = the first) waits between `min·2ⁿ⁻¹` and
//! twice that, and never more than `max`. The randomness spreads the retries of many jobs or
//! replicas that failed together instead of sending them back all at once.
//!
//! A schedule that must survive a restart (a job's next attempt) is stored by its owner: compute
//! the delay with [`Backoff::delay_for_attempt`] and keep the time in the database row.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};

/// The bounds of a retry schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first delay (before jitter).
    pub min: Duration,
    /// The longest delay, jitter included.
    pub max: Duration,
}

impl Backoff {
    pub const fn new(min: Duration, max: Duration) -> Self {
        Self { min, max }
    }

    /// A fresh, endless schedule: the delay before each next retry.
    pub fn delays(&self) -> Delays {
        let schedule = ExponentialBuilder::new()
            .with_min_delay(self.min)
            .with_max_delay(self.max)
            .with_factor(2.0)
            .with_jitter()
            .without_max_times()
            .build();
        Delays { schedule, max: self.max }
    }

    /// The delay before retry number `attempt` (1 = the first retry).
    pub fn delay_for_attempt(&self, attempt: u32) -> Duration {
        self.delays().nth(attempt.saturating_sub(1).min(64) as usize).unwrap_or(self.max)
    }
}

/// A running schedule (see [`Backoff::delays`]); endless.
#[derive(Debug)]
pub struct Delays {
    schedule: backon::ExponentialBackoff,
    max: Duration,
}

impl Iterator for Delays {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        // backon adds the jitter on top of the capped delay; keep `max` the ceiling.
        Some(self.schedule.next().map_or(self.max, |d| d.min(self.max)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_within_their_jitter_and_stay_under_the_cap() {
        let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        for (attempt, nominal) in [(1u32, 100u64), (2, 200), (3, 400), (5, 1600)] {
            for _ in 0..20 {
                let d = backoff.delay_for_attempt(attempt);
                let nominal = Duration::from_millis(nominal);
                assert!(d >= nominal && d < nominal * 2, "attempt {attempt}: {d:?}");
            }
        }
        for _ in 0..20 {
            assert!(backoff.delay_for_attempt(200) <= backoff.max);
        }
        let samples: std::collections::HashSet<_> = (0..20).map(|_| backoff.delay_for_attempt(3)).collect();
        assert!(samples.len() > 1, "jitter spreads retries");
    }

    #[test]
    fn a_schedule_grows_and_a_new_one_starts_over() {
        let backoff = Backoff::new(Duration::from_millis(10), Duration::from_millis(80));
        let delays: Vec<_> = backoff.delays().take(6).collect();
        assert!(delays[0] >= Duration::from_millis(10) && delays[0] < Duration::from_millis(20));
        // From the fourth retry on the nominal delay is the cap itself; jitter cannot exceed it.
        assert_eq!(delays[3..], [Duration::from_millis(80); 3]);
        assert!(backoff.delays().next().is_some_and(|d| d < Duration::from_millis(20)));
    }
}
