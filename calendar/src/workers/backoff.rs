//! Exponential backoff with jitter (the `backon` crate's schedule).

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};

/// A fresh, endless schedule from `min` doubling up to `max`, each delay with added jitter.
pub fn schedule(min: Duration, max: Duration) -> impl Iterator<Item = Duration> + Send {
    ExponentialBuilder::new()
        .with_min_delay(min)
        .with_max_delay(max)
        .with_factor(2.0)
        .with_jitter()
        .without_max_times()
        .build()
        // Jitter is added on top of the delay; keep the promise that `max` is the ceiling.
        .map(move |d| d.min(max))
}

/// The delay before retry number `attempt` (1 = the first retry).
pub fn delay_for_attempt(min: Duration, max: Duration, attempt: u32) -> Duration {
    schedule(min, max).nth(attempt.saturating_sub(1).min(64) as usize).unwrap_or(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_stay_within_bounds_and_vary() {
        let (min, max) = (Duration::from_millis(100), Duration::from_secs(5));
        let first = delay_for_attempt(min, max, 1);
        assert!(first >= min && first <= min * 2, "{first:?}");
        let fifth = delay_for_attempt(min, max, 5);
        assert!(fifth >= min * 16 && fifth <= max, "{fifth:?}");
        assert_eq!(delay_for_attempt(min, max, 200), max.min(delay_for_attempt(min, max, 200)));
        let samples: std::collections::HashSet<_> = (0..20).map(|_| delay_for_attempt(min, max, 3)).collect();
        assert!(samples.len() > 1, "jitter spreads retries");
    }
}
