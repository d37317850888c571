//! calendar is SIGKILLed while contacts takes a burst of several hundred changes, and started
//! again on the same port while the burst goes on: its users replica ends identical to
//! contacts' list, with no contact missing, doubled or stale.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::future::join_all;
use serde_json::json;
use system_tests::api::{Contact, ContactsApi};
use system_tests::{Mail, PATIENCE, TestSystem};
use test_support::wait_until;

/// Fewest contacts the burst creates.
const BURST: usize = 400;
/// Clients creating them at the same time.
const WRITERS: usize = 4;
/// Users calendar must have replicated before it is killed.
const REPLICATED_BEFORE_KILL: usize = 20;
/// Contacts created while calendar is down, and after it is back, before the burst may end.
const WHILE_DOWN: usize = 100;
const AFTER_RESTART: usize = 50;
/// A bound in case calendar never gets going (the test then fails on its deadline).
const MOST: usize = 5000;

/// The burst's state, shared by its writers and the test.
#[derive(Debug)]
struct Burst {
    next: AtomicUsize,
    created: AtomicUsize,
    /// The burst ends once this many contacts are created (set after calendar's restart).
    stop_after: AtomicUsize,
    /// What contacts should hold when the burst is over: id → e-mail.
    expected: Mutex<BTreeMap<String, String>>,
}

impl Burst {
    fn created(&self) -> usize {
        self.created.load(Ordering::SeqCst)
    }

    /// Creates contacts from `WRITERS` clients at once until told to stop; changes every tenth
    /// one's e-mail and deletes every twenty-fifth, so the replica has more than creations to
    /// get right.
    async fn run(&self, api: ContactsApi<'_>) {
        join_all((0..WRITERS).map(|_| async move {
            while self.created() < self.stop_after.load(Ordering::SeqCst) {
                let n = self.next.fetch_add(1, Ordering::SeqCst);
                if n >= MOST {
                    break;
                }
                let contact =
                    api.create(&format!("Burst{n}"), "Person", &format!("burst{n}@example.org")).await;
                let mut email = Some(contact.email.clone());
                if n % 10 == 3 {
                    let changed = format!("changed{n}@example.net");
                    api.update(&contact.id, json!({"email": changed})).await;
                    email = Some(changed);
                }
                if n % 25 == 7 {
                    api.delete(&contact.id).await;
                    email = None;
                }
                if let Some(email) = email {
                    self.expected.lock().unwrap().insert(contact.id, email);
                }
                self.created.fetch_add(1, Ordering::SeqCst);
            }
        }))
        .await;
    }

    async fn until_created(&self, count: usize) -> usize {
        wait_until(&format!("{count} contacts of the burst created"), PATIENCE, || async {
            let now = self.created();
            (now >= count).then_some(now)
        })
        .await
    }
}

#[tokio::test]
async fn calendar_killed_and_restarted_during_a_burst_of_contacts_ends_with_the_same_users() {
    let mut system = TestSystem::start(Mail::Smtp).await;
    let burst = Burst {
        next: AtomicUsize::new(0),
        created: AtomicUsize::new(0),
        stop_after: AtomicUsize::new(usize::MAX),
        expected: Mutex::new(BTreeMap::new()),
    };
    let api = ContactsApi { http: &system.http, contacts: &system.contacts };
    let (http, calendar) = (&system.http, &mut system.calendar);

    // The burst only ends after calendar is back, so the kill and the restart both happen while
    // contacts are being created.
    let crash_and_restart = async {
        let first_users = calendar.url(&format!("users?limit={REPLICATED_BEFORE_KILL}"));
        wait_until("calendar replicating the burst", PATIENCE, || async {
            let users = first_page_len(http, &first_users).await;
            (users >= REPLICATED_BEFORE_KILL).then_some(())
        })
        .await;
        calendar.kill().await.unwrap();
        let at_kill = burst.created();
        burst.until_created(at_kill + WHILE_DOWN).await;
        calendar.restart().await.unwrap();
        let at_restart = burst.created();
        burst.stop_after.store((at_restart + AFTER_RESTART).max(BURST), Ordering::SeqCst);
        (at_kill, at_restart)
    };
    let ((), (at_kill, at_restart)) = tokio::join!(burst.run(api), crash_and_restart);
    let total = burst.created();
    eprintln!(
        "calendar killed after {at_kill} contacts, restarted after {at_restart}, burst ended at {total}"
    );
    assert!((BURST..MOST).contains(&total), "the burst created {total} contacts");
    assert!(
        at_kill < at_restart && at_restart < total,
        "killed at {at_kill}, restarted at {at_restart} of {total}"
    );

    let expected: Vec<Contact> =
        burst.expected.into_inner().unwrap().into_iter().map(|(id, email)| Contact { id, email }).collect();
    let mut contacts = system.all_contacts().await;
    contacts.sort();
    assert_eq!(contacts, expected, "contacts holds what the burst left");
    wait_until("calendar's users to equal contacts' list (same ids and e-mails)", PATIENCE, || async {
        let mut users = system.all_users().await;
        users.sort();
        (users == contacts).then_some(())
    })
    .await;
    system.stop().await;
}

/// How many items the first page at `url` holds.
async fn first_page_len(http: &reqwest::Client, url: &str) -> usize {
    let response = system_tests::api::get_json(http, url).await;
    let page = test_support::json_body(response).await;
    page["items"].as_array().map_or(0, Vec::len)
}
