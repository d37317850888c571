//! The soak: steady mixed load against all three services. In `cargo test` a minute against the
//! debug binaries; `cargo xtask soak --minutes N` runs this same test longer against the release
//! binaries (through `SOAK_MINUTES`, `SOAK_RATE` and `SOAK_PROFILE`). No request may fail,
//! everything must be delivered afterwards, and no service's memory may grow after the warm-up
//! by more than `system_tests::soak::rss_allowance_kib` (10 % or 8 MiB). A minute catches a gross
//! leak only; the long soak is the real check. Latency is reported, not judged.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use system_tests::build_services;
use system_tests::soak::{self, DEFAULT_RATE, SoakSpec};

#[tokio::test]
async fn a_minute_of_steady_mixed_load_has_no_errors_delivers_everything_and_keeps_memory_flat() {
    let minutes: u64 = std::env::var("SOAK_MINUTES").ok().and_then(|m| m.parse().ok()).unwrap_or(1);
    let rate: f64 = std::env::var("SOAK_RATE").ok().and_then(|r| r.parse().ok()).unwrap_or(DEFAULT_RATE);
    let profile = std::env::var("SOAK_PROFILE").unwrap_or_else(|_| "debug".into());
    let spec = if minutes == 1 {
        SoakSpec {
            duration: Duration::from_secs(60),
            period: Duration::from_secs(10),
            warm_up: Duration::from_secs(20),
            profile,
            rate,
            clients: 4,
        }
    } else {
        SoakSpec {
            duration: Duration::from_secs(minutes * 60),
            period: Duration::from_secs(60),
            // Until every client holds its full set of contacts (about 80 s at the default rate).
            warm_up: Duration::from_secs(if minutes < 4 { 60 } else { 120 }),
            profile,
            rate,
            clients: 4,
        }
    };
    if spec.profile == "release" {
        harness::build("release").unwrap();
    } else {
        build_services().await;
    }
    eprintln!("soak: {minutes} minute(s) at {rate} requests/s against the {} binaries…", spec.profile);
    let report = soak::run(spec).await.unwrap();
    eprintln!("{}", report.render());
    assert_eq!(report.errors(), 0, "no request failed; the first: {:?}", report.first_errors);
    assert!(report.requests() >= 1000, "the load ran: {} requests", report.requests());
    let growing = report.growing(soak::rss_allowance_kib);
    assert!(growing.is_empty(), "memory grew after the warm-up: {growing:?}");
}
