//! Response times seen by a client, and the rule the fault tests judge them by.

use std::time::Duration;

/// Response times of one phase of a test.
#[derive(Debug, Clone, Default)]
pub struct Latencies {
    samples: Vec<Duration>,
}

impl Latencies {
    pub fn record(&mut self, took: Duration) {
        self.samples.push(took);
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// The `q` quantile (0 < q ≤ 1) by the nearest-rank method; zero when empty.
    pub fn quantile(&self, q: f64) -> Duration {
        if self.samples.is_empty() {
            return Duration::ZERO;
        }
        let mut sorted = self.samples.clone();
        sorted.sort();
        let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    }

    pub fn p50(&self) -> Duration {
        self.quantile(0.50)
    }

    pub fn p99(&self) -> Duration {
        self.quantile(0.99)
    }

    pub fn max(&self) -> Duration {
        self.samples.iter().max().copied().unwrap_or_default()
    }
}

/// Absolute allowance on top of the baseline: debug builds share two cores with other work, so
/// a p99 over a few hundred requests moves by tens of milliseconds between two calm phases. A
/// dependency that calendar waited for would add whole seconds (its call timeout, or the 10 s a
/// slow notifications takes), far above this.
pub const P99_FLOOR: Duration = Duration::from_millis(100);

/// The fault tests' rule: a p99 measured during a fault is "within 2× of normal" when it is at
/// most `max(2 × baseline p99, baseline p99 + P99_FLOOR)`.
pub fn p99_bound(baseline: Duration) -> Duration {
    (baseline * 2).max(baseline + P99_FLOOR)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_use_the_nearest_rank() {
        let mut l = Latencies::default();
        for ms in 1..=100 {
            l.record(Duration::from_millis(ms));
        }
        assert_eq!(l.p50(), Duration::from_millis(50));
        assert_eq!(l.p99(), Duration::from_millis(99));
        assert_eq!(l.max(), Duration::from_millis(100));
        assert_eq!(Latencies::default().p99(), Duration::ZERO);
    }

    #[test]
    fn the_bound_is_twice_the_baseline_or_the_floor_above_it() {
        assert_eq!(p99_bound(Duration::from_millis(20)), Duration::from_millis(120));
        assert_eq!(p99_bound(Duration::from_millis(300)), Duration::from_millis(600));
    }
}
