//! The checkpoint transaction under fire: calendar is down while contacts takes well over a
//! thousand changes, then started and SIGKILLed again and again, a fraction of a second after
//! each start, once it has begun to apply the backlog. The kills land in the middle of applying
//! pages of events. However often that happens, the replica ends equal to contacts: no event is
//! skipped (a checkpoint that ran ahead of what was applied) and none is applied twice.
//!
//! Applying a contact event is an upsert or a delete, so the end state alone would not show an
//! event applied twice: calendar counts each application in the transaction that writes it
//! (`feed_checkpoint.applications`), and that count must equal the number of events in the feed.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use futures_util::future::join_all;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use system_tests::settle::{calendar_applications, calendar_checkpoint, feed_head};
use system_tests::{Mail, PATIENCE, TestSystem};
use test_support::wait_until;

/// Contacts created while calendar is down (some changed and deleted as well).
const CONTACTS: usize = 1200;
/// Most kills before calendar is left to finish.
const MOST_KILLS: usize = 40;

#[tokio::test]
async fn calendar_killed_repeatedly_during_its_catch_up_ends_with_every_change_applied_once() {
    let seed: u64 =
        std::env::var("CHAOS_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or_else(rand::random);
    eprintln!("kill schedule seed {seed} (CHAOS_SEED={seed} repeats it)");
    let mut rng = StdRng::seed_from_u64(seed);
    // Small archive pages: many pages, each applied in a transaction of its own, so the catch-up
    // takes long enough to be interrupted again and again.
    let mut system = TestSystem::start_with(Mail::Mailbox, &[("contacts", "FEED_PAGE_SIZE", "5")]).await;
    system.calendar.kill().await.unwrap();

    let api = system.contacts_api();
    join_all((0..4).map(|writer| async move {
        for n in (writer..CONTACTS).step_by(4) {
            let contact =
                api.create(&format!("Backlog{n}"), "Person", &format!("backlog{n}@example.org")).await;
            if n % 10 == 3 {
                api.update(&contact.id, json!({"email": format!("moved{n}@example.org")})).await;
            }
            if n % 25 == 7 {
                api.delete(&contact.id).await;
            }
        }
    }))
    .await;
    let head = feed_head(&system.http, &system.contacts).await.unwrap();

    let mut kills = 0;
    let mut mid_catch_up = 0;
    let mut last = calendar_checkpoint(&system.calendar).await.unwrap();
    while kills < MOST_KILLS && last < head {
        system.calendar.restart().await.unwrap();
        // Once it has applied something new (it first walks back through the archives), kill it
        // at a random moment of the next few pages.
        let from = last;
        wait_until("calendar to apply more of the backlog", PATIENCE, || async {
            (calendar_checkpoint(&system.calendar).await.ok()? > from).then_some(())
        })
        .await;
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..=40))).await;
        system.calendar.kill().await.unwrap();
        kills += 1;
        let now = calendar_checkpoint(&system.calendar).await.unwrap();
        if now < head {
            mid_catch_up += 1;
        }
        last = now;
    }
    eprintln!(
        "{kills} kills, {mid_catch_up} of them before the end of the catch-up; checkpoint {last} of {head}"
    );
    assert!(mid_catch_up >= 3, "at least three kills landed in the middle of the catch-up ({mid_catch_up})");

    system.calendar.restart().await.unwrap();
    wait_until("calendar's checkpoint to reach the feed head", PATIENCE, || async {
        (calendar_checkpoint(&system.calendar).await.ok()? == head).then_some(())
    })
    .await;
    // contacts' feed is gap-free from sequence 1, and every event in it can be applied.
    let applications = calendar_applications(&system.calendar).await.unwrap();
    assert_eq!(applications, head, "each of the {head} events applied exactly once across {kills} SIGKILLs");
    let mut contacts = system.all_contacts().await;
    contacts.sort();
    let mut users = system.all_users().await;
    users.sort();
    assert_eq!(users.len(), contacts.len(), "as many users as contacts");
    assert_eq!(users, contacts, "calendar's users equal contacts' list (ids and e-mails)");
    system.stop().await;
}
