//! Abuse limits over a sliding window, per key (an API caller, an organizer): how many requests,
//! and how many units they carry in all (notifications: jobs and their recipients; calendar:
//! invitations).
//!
//! Every admitted request is remembered with its time and its units for one window; a new one
//! is refused while the key's requests in the window, or their units plus the new request's,
//! would exceed the limit. The refusal says when enough of the window will have passed
//! (`Retry-After`). The windows live in each replica's memory: a check costs no database round
//! trip and a restart forgets them, so with R replicas a key gets at most R times the limit
//! (README, "Limits and hardening").

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::ApiError;

/// An hour: the window of every quota the services have.
pub const WINDOW: Duration = Duration::from_secs(3600);

/// Which limit refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Requests per window.
    Requests,
    /// Units (recipients, invitations) per window.
    Units,
}

/// A refusal: which limit, and how long until the request would fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub limit: Limit,
    pub retry_after: Duration,
}

impl Refused {
    /// `Retry-After` in whole seconds, rounded up, at least 1.
    pub fn retry_after_secs(&self) -> u64 {
        (self.retry_after.as_secs() + u64::from(self.retry_after.subsec_nanos() > 0)).max(1)
    }

    /// The answer to the refused request: `429`, error `quota_exceeded` saying `message`, and
    /// `Retry-After`.
    pub fn response(&self, message: impl Into<String>) -> Response {
        let mut response =
            ApiError::new(StatusCode::TOO_MANY_REQUESTS, "quota_exceeded", message).into_response();
        response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(self.retry_after_secs()));
        response
    }
}

/// The limits and every key's window.
#[derive(Debug)]
pub struct Quotas {
    jobs: u32,
    recipients: u32,
    window: Duration,
    callers: Mutex<HashMap<String, VecDeque<(Instant, u32)>>>,
}

impl Quotas {
    /// At most `requests_per_window` requests carrying `units_per_window` units in all per key.
    pub fn new(requests_per_window: u32, units_per_window: u32, window: Duration) -> Self {
        Self { jobs: requests_per_window, recipients: units_per_window, window, callers: Mutex::default() }
    }

    /// Only a limit on units (`u32::MAX` requests).
    pub fn of_units(units_per_window: u32, window: Duration) -> Self {
        Self::new(u32::MAX, units_per_window, window)
    }

    /// Counts a request of `recipients` units for `caller` at `now`, or refuses it (and counts
    /// nothing).
    pub fn admit(&self, caller: &str, recipients: u32, now: Instant) -> Result<(), Refused> {
        let mut callers = self.callers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Forget callers whose whole window has passed, so the map stays as small as the set
        // of recent callers.
        callers.retain(|_, seen| {
            while seen.front().is_some_and(|(at, _)| now.duration_since(*at) >= self.window) {
                seen.pop_front();
            }
            !seen.is_empty()
        });
        let seen = callers.entry(caller.to_owned()).or_default();
        let until_expired = |(at, _): &(Instant, u32)| (*at + self.window).saturating_duration_since(now);
        if seen.len() as u64 >= u64::from(self.jobs) {
            // The oldest jobs must leave the window until one more fits.
            let excess = seen.len() + 1 - self.jobs as usize;
            let retry_after = seen.get(excess - 1).map(until_expired).unwrap_or(self.window);
            return Err(Refused { limit: Limit::Requests, retry_after });
        }
        let used: u64 = seen.iter().map(|(_, n)| u64::from(*n)).sum();
        if used + u64::from(recipients) > u64::from(self.recipients) {
            let mut freed = 0u64;
            let mut retry_after = self.window;
            for entry in seen.iter() {
                freed += u64::from(entry.1);
                if used - freed + u64::from(recipients) <= u64::from(self.recipients) {
                    retry_after = until_expired(entry);
                    break;
                }
            }
            return Err(Refused { limit: Limit::Units, retry_after });
        }
        seen.push_back((now, recipients));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_are_refused_over_the_limit_until_the_oldest_leaves_the_window() {
        let quotas = Quotas::new(2, 100, Duration::from_secs(60));
        let t0 = Instant::now();
        assert!(quotas.admit("a", 1, t0).is_ok());
        assert!(quotas.admit("a", 1, t0 + Duration::from_secs(10)).is_ok());
        let refused = quotas.admit("a", 1, t0 + Duration::from_secs(20)).unwrap_err();
        assert_eq!(refused, Refused { limit: Limit::Requests, retry_after: Duration::from_secs(40) });
        assert!(quotas.admit("b", 1, t0 + Duration::from_secs(20)).is_ok(), "another caller has its own");
        assert!(quotas.admit("a", 1, t0 + Duration::from_secs(60)).is_ok(), "the first left the window");
        assert!(quotas.admit("a", 1, t0 + Duration::from_secs(61)).is_err());
    }

    #[test]
    fn recipients_are_summed_and_a_refused_job_counts_nothing() {
        let quotas = Quotas::new(100, 10, Duration::from_secs(60));
        let t0 = Instant::now();
        assert!(quotas.admit("a", 6, t0).is_ok());
        assert!(quotas.admit("a", 3, t0 + Duration::from_secs(5)).is_ok());
        let refused = quotas.admit("a", 5, t0 + Duration::from_secs(30)).unwrap_err();
        assert_eq!(refused, Refused { limit: Limit::Units, retry_after: Duration::from_secs(30) });
        assert!(quotas.admit("a", 1, t0 + Duration::from_secs(30)).is_ok(), "one more still fits");
        assert!(quotas.admit("a", 11, t0 + Duration::from_secs(200)).is_err(), "never fits");
    }
}
