//! Crash anywhere: a seeded mixed workload (contacts created, updated and deleted; events
//! created; guests invited) runs while a random service is SIGKILLed and started again on the
//! same port every few seconds. After the system settles, nothing the services accepted is
//! missing, calendar's replica equals contacts, every accepted invitation is one job at
//! notifications and at least one e-mail at the SMTP server, and repeats stay within the
//! documented window (same `Message-ID`, same bytes).
//!
//! `CHAOS_OPS`, `CHAOS_SEED` and `CHAOS_RATE` change the run (`cargo xtask chaos` sets them); the seed is
//! printed first, so a failing run can be repeated.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Instant;

use system_tests::chaos::{self, Cast, ChaosSettings, Observed, Urls};
use system_tests::settle::{self, Parts};
use system_tests::{Mail, PATIENCE, TestSystem};

/// Operations of the short run in `cargo test`.
const SHORT_RUN_OPS: usize = 1600;

#[tokio::test]
async fn a_mixed_workload_under_random_sigkills_loses_nothing_and_sends_nothing_twice() {
    let settings = ChaosSettings::from_env(SHORT_RUN_OPS);
    eprintln!(
        "chaos: seed {} ({} operations at {}/s, {} writers); repeat with CHAOS_SEED={} CHAOS_OPS={}",
        settings.seed, settings.ops, settings.rate, settings.writers, settings.seed, settings.ops
    );
    let mut system = TestSystem::start_with(Mail::Smtp, &ChaosSettings::service_env()).await;
    let cast = Cast::create(system.contacts_api(), settings.seed).await;
    system.wait_for_users(&cast.everyone.iter().collect::<Vec<_>>()).await;

    let started = Instant::now();
    let urls = Urls::of(&system.contacts, &system.calendar);
    let http = system.http.clone();
    let (ledger, kills) = chaos::run(
        &http,
        &urls,
        &cast,
        &settings,
        [&mut system.contacts, &mut system.calendar, &mut system.notifications],
    )
    .await;
    let workload_time = started.elapsed();
    eprintln!(
        "chaos: workload done in {:.1}s; kills {kills:?}; succeeded {:?}; retried {}, gave up {}",
        workload_time.as_secs_f64(),
        ledger.succeeded,
        ledger.retried,
        ledger.gave_up
    );
    assert!(kills.values().sum::<usize>() >= 3, "the run killed services at least three times: {kills:?}");

    let parts = Parts {
        http: &system.http,
        contacts: &system.contacts,
        calendar: &system.calendar,
        notifications: &system.notifications,
        token: &system.token,
    };
    let settled = settle::wait_until_settled(parts, PATIENCE).await;
    let contacts: BTreeMap<String, String> =
        system.all_contacts().await.into_iter().map(|c| (c.id, c.email)).collect();
    let users: BTreeMap<String, String> =
        system.all_users().await.into_iter().map(|u| (u.id, u.email)).collect();
    // Every event in contacts' gap-free feed is valid, so each is applied once: no more.
    let applications = settle::calendar_applications(&system.calendar).await.unwrap();
    assert_eq!(applications, settled.feed_head, "calendar applied each feed event exactly once");
    let messages = system.smtp().messages();
    let verdict = chaos::verify(
        &ledger,
        &cast,
        &Observed { contacts, users, jobs: &settled.jobs, messages: &messages },
        &kills,
    );
    eprintln!(
        "chaos: seed {} passed: feed head {}, {} accepted invitation(s), {} job(s), {} message(s), {} repeat(s); \
         settled {:.1}s after the workload",
        settings.seed,
        settled.feed_head,
        ledger.invitations(),
        verdict.jobs,
        verdict.messages,
        verdict.duplicates,
        (started.elapsed() - workload_time).as_secs_f64()
    );
    system.stop().await;
}
