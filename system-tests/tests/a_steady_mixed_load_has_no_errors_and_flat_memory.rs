//! The soak's short version: a minute of steady mixed load against all three services (debug
//! binaries here; `cargo xtask soak --minutes N` runs the release binaries for longer). No
//! request may fail, everything must be delivered afterwards, and no service's memory may grow
//! after the warm-up by more than `xtask::soak::rss_allowance_kib` (10 % or 8 MiB). A minute
//! catches a gross leak only; the long soak is the real check. Latency is reported, not judged.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use system_tests::build_services;
use xtask::soak::{self, DEFAULT_RATE, SoakSpec};

#[tokio::test]
async fn a_minute_of_steady_mixed_load_has_no_errors_delivers_everything_and_keeps_memory_flat() {
    build_services().await;
    let report = soak::run(SoakSpec {
        duration: Duration::from_secs(60),
        period: Duration::from_secs(10),
        warm_up: Duration::from_secs(20),
        profile: "debug".into(),
        rate: DEFAULT_RATE,
        clients: 4,
    })
    .await
    .unwrap();
    eprintln!("{}", report.render());
    assert_eq!(report.errors(), 0, "no request failed; the first: {:?}", report.first_errors);
    assert!(report.requests() >= 1000, "the load ran: {} requests", report.requests());
    let growing = report.growing(soak::rss_allowance_kib);
    assert!(growing.is_empty(), "memory grew after the warm-up: {growing:?}");
}
