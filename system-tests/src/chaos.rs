//! The chaos run: a mixed workload against the three services while a random one is SIGKILLed
//! and restarted every few seconds, then the checks that nothing accepted was lost and nothing
//! was sent twice beyond the documented window.
//!
//! The workload (seeded, so a failing run can be repeated with its seed): contacts created,
//! updated and deleted; events created for a fixed set of owners; a fixed set of guests invited
//! to them. Owners and guests never change, so every invitation names a guest calendar knows and
//! keeps knowing; the changing contacts are the rest. Each writer owns the contacts it created, so
//! the expected state follows from the answers it got. A call that fails (refused or broken
//! connection, timeout, `5xx`) is retried until a definitive answer or a deadline
//! ([`crate::resilient`]); a create repeated after an attempt that may have landed can meet its
//! own earlier success (`409` for the same e-mail), which is read as "created".
//!
//! The seed fixes each writer's sequence of operations and the kill schedule; how the writers
//! interleave with each other and with the kills depends on timing, so two runs with one seed
//! are alike, not identical.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use harness::process::ServiceProcess;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use serde_json::{Value, json};
use test_support::smtp::ReceivedMessage;
use tokio::sync::watch;

use crate::resilient::{self, Answer};

/// How long one operation may keep retrying while its service restarts.
const OPERATION_DEADLINE: Duration = Duration::from_secs(60);
/// Fixed people: event owners and invited guests (never changed or deleted).
const OWNERS: usize = 3;
const GUESTS: usize = 10;
/// Sends notifications runs at once (its `SMTP_MAX_CONCURRENCY`): the most messages one kill
/// of notifications can leave accepted by the SMTP server but not yet marked sent.
pub const SMTP_MAX_CONCURRENCY: usize = 4;

/// What to run.
#[derive(Debug, Clone)]
pub struct ChaosSettings {
    /// Operations in total, over all writers.
    pub ops: usize,
    pub seed: u64,
    /// Clients running operations at the same time.
    pub writers: usize,
    /// Operations per second over all writers (each writer paces itself to its share), so the
    /// run lasts long enough for many kills to land in the middle of it.
    pub rate: f64,
    /// Pause between kills, drawn from this range (milliseconds).
    pub kill_every_ms: (u64, u64),
    /// How long a killed service stays down before it is started again (milliseconds).
    pub down_ms: (u64, u64),
}

impl ChaosSettings {
    /// `CHAOS_OPS` (default `default_ops`), `CHAOS_SEED` (default: a fresh random seed) and
    /// `CHAOS_RATE` (operations per second, default 40).
    pub fn from_env(default_ops: usize) -> Self {
        fn var<T: std::str::FromStr>(name: &str) -> Option<T> {
            std::env::var(name).ok().and_then(|v| v.parse().ok())
        }
        Self {
            ops: var("CHAOS_OPS").unwrap_or(default_ops),
            seed: var("CHAOS_SEED").unwrap_or_else(rand::random),
            writers: 4,
            rate: var::<f64>("CHAOS_RATE").filter(|r| *r > 0.0).unwrap_or(40.0),
            kill_every_ms: (1500, 4000),
            down_ms: (0, 1500),
        }
    }

    /// The environment the services get for a chaos run: the production mechanisms with their
    /// clocks shortened from minutes to seconds, so that leases run out and retries come due
    /// within the run, and attempt limits high enough that repeated kills never exhaust them
    /// (giving up is tested elsewhere; here every invitation must arrive).
    pub fn service_env() -> Vec<(&'static str, &'static str, &'static str)> {
        vec![
            ("notifications", "SMTP_TIMEOUT_MS", "3000"),
            ("notifications", "SEND_LEASE_MS", "5000"),
            ("notifications", "MAX_ATTEMPTS", "100"),
            ("calendar", "NOTIFICATION_TIMEOUT_MS", "2000"),
            ("calendar", "OUTBOX_MAX_ATTEMPTS", "100"),
        ]
    }
}

/// A contact created by the workload.
#[derive(Debug, Clone)]
struct Tracked {
    email: String,
    deleted: bool,
}

/// What the workload was told, i.e. what the system must show afterwards.
#[derive(Debug, Default)]
pub struct Ledger {
    /// Contacts whose create was answered `201`, by id.
    contacts: BTreeMap<String, Tracked>,
    /// Creates answered `409` after an attempt that may have landed: they exist, id unknown.
    created_unseen: BTreeSet<String>,
    /// Creates without a definitive answer: they may or may not exist.
    uncertain_creates: BTreeSet<String>,
    /// Contacts whose later update or delete got no definitive answer.
    uncertain_contacts: BTreeSet<String>,
    /// Invitations answered `200`: (guest e-mail, subject).
    invited: BTreeSet<(String, String)>,
    /// Every invitation ever requested, answered or not.
    requested: BTreeSet<(String, String)>,
    /// Successful operations by kind.
    pub succeeded: BTreeMap<&'static str, usize>,
    /// Operations that needed more than one attempt.
    pub retried: usize,
    /// Operations that got no definitive answer before their deadline.
    pub gave_up: usize,
}

impl Ledger {
    fn count(&mut self, what: &'static str, answer: &Answer) {
        *self.succeeded.entry(what).or_default() += 1;
        if answer.attempts > 1 {
            self.retried += 1;
        }
    }

    pub fn invitations(&self) -> usize {
        self.invited.len()
    }
}

/// The services' addresses (fixed: a restarted service comes back on the same port).
#[derive(Debug, Clone)]
pub struct Urls {
    pub contacts: String,
    pub calendar: String,
}

impl Urls {
    pub fn of(contacts: &ServiceProcess, calendar: &ServiceProcess) -> Self {
        Self { contacts: contacts.url(""), calendar: calendar.url("") }
    }
}

/// The fixed cast, created before the chaos starts.
#[derive(Debug, Clone)]
pub struct Cast {
    /// Ids of the event owners.
    pub owners: Vec<String>,
    /// E-mails of the guests.
    pub guests: Vec<String>,
    /// Every one of them, for waiting until calendar knows them.
    pub everyone: Vec<crate::api::Contact>,
}

impl Cast {
    pub async fn create(api: crate::api::ContactsApi<'_>, seed: u64) -> Self {
        let mut owners = Vec::new();
        let mut guests = Vec::new();
        let mut everyone = Vec::new();
        for i in 0..OWNERS {
            let c =
                api.create(&format!("Owner{i}"), "Chaos", &format!("owner{i}.{seed}@chaos.example")).await;
            owners.push(c.id.clone());
            everyone.push(c);
        }
        for i in 0..GUESTS {
            let c =
                api.create(&format!("Guest{i}"), "Chaos", &format!("guest{i}.{seed}@chaos.example")).await;
            guests.push(c.email.clone());
            everyone.push(c);
        }
        Self { owners, guests, everyone }
    }
}

struct Workload<'a> {
    http: &'a reqwest::Client,
    urls: &'a Urls,
    cast: &'a Cast,
    settings: &'a ChaosSettings,
    next: AtomicUsize,
    ledger: Mutex<Ledger>,
}

impl Workload<'_> {
    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn writer(&self, index: usize) {
        let mut rng = StdRng::seed_from_u64(self.settings.seed ^ ((index as u64 + 1) << 32));
        let mut mine: Vec<String> = Vec::new();
        let mut events: Vec<(String, String)> = Vec::new();
        let mut pace =
            tokio::time::interval(Duration::from_secs_f64(self.settings.writers as f64 / self.settings.rate));
        pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            pace.tick().await;
            let n = self.next.fetch_add(1, Ordering::SeqCst);
            if n >= self.settings.ops {
                break;
            }
            let roll = rng.random_range(0..100);
            match roll {
                30..50 if !mine.is_empty() => {
                    let at = rng.random_range(0..mine.len());
                    if !self.update_contact(&mine[at], n, index).await {
                        mine.swap_remove(at);
                    }
                }
                50..60 if !mine.is_empty() => {
                    let at = rng.random_range(0..mine.len());
                    let id = mine.swap_remove(at);
                    self.delete_contact(&id).await;
                }
                60..75 => {
                    if let Some(event) = self.create_event(&mut rng, n).await {
                        events.push(event);
                    }
                }
                75.. if !events.is_empty() => {
                    let (id, title) = events.choose(&mut rng).cloned().unwrap_or_default();
                    let count = rng.random_range(1..=3);
                    let guests: Vec<String> =
                        self.cast.guests.choose_multiple(&mut rng, count).cloned().collect();
                    self.invite(&id, &title, &guests).await;
                }
                _ => {
                    if let Some(id) = self.create_contact(n, index).await {
                        mine.push(id);
                    }
                }
            }
        }
    }

    async fn create_contact(&self, n: usize, writer: usize) -> Option<String> {
        let email = format!("c{n}.w{writer}@chaos.example");
        let url = format!("{}contacts", self.urls.contacts);
        let body = json!({"firstname": format!("C{n}"), "lastname": "Churn", "email": email});
        match resilient::send(|| self.http.post(&url).json(&body), OPERATION_DEADLINE).await {
            Ok(a) if a.status == StatusCode::CREATED => {
                let id = a.body["id"].as_str().expect("a created contact has an id").to_string();
                let mut ledger = self.ledger();
                ledger.count("contact created", &a);
                ledger.contacts.insert(id.clone(), Tracked { email, deleted: false });
                Some(id)
            }
            Ok(a) if a.status == StatusCode::CONFLICT && a.maybe_applied_before => {
                let mut ledger = self.ledger();
                ledger.count("contact created", &a);
                ledger.created_unseen.insert(email);
                None
            }
            Ok(a) => panic!("POST /contacts for {email} answered {}: {}", a.status, a.body),
            Err(gave_up) => {
                let mut ledger = self.ledger();
                ledger.gave_up += 1;
                if gave_up.maybe_applied {
                    ledger.uncertain_creates.insert(email);
                }
                None
            }
        }
    }

    /// Changes the contact's e-mail; `false` when the outcome is unknown (the contact is then
    /// left alone).
    async fn update_contact(&self, id: &str, n: usize, writer: usize) -> bool {
        let email = format!("u{n}.w{writer}@chaos.example");
        let url = format!("{}contacts/{id}", self.urls.contacts);
        let body = json!({"email": email});
        match resilient::send(|| self.http.put(&url).json(&body), OPERATION_DEADLINE).await {
            Ok(a) if a.status == StatusCode::OK => {
                let mut ledger = self.ledger();
                ledger.count("contact updated", &a);
                if let Some(tracked) = ledger.contacts.get_mut(id) {
                    tracked.email = email;
                }
                true
            }
            Ok(a) => panic!("PUT /contacts/{id} answered {}: {}", a.status, a.body),
            Err(_) => {
                let mut ledger = self.ledger();
                ledger.gave_up += 1;
                ledger.uncertain_contacts.insert(id.to_string());
                false
            }
        }
    }

    async fn delete_contact(&self, id: &str) {
        let url = format!("{}contacts/{id}", self.urls.contacts);
        match resilient::send(|| self.http.delete(&url), OPERATION_DEADLINE).await {
            Ok(a)
                if a.status == StatusCode::NO_CONTENT
                    || (a.status == StatusCode::NOT_FOUND && a.maybe_applied_before) =>
            {
                let mut ledger = self.ledger();
                ledger.count("contact deleted", &a);
                if let Some(tracked) = ledger.contacts.get_mut(id) {
                    tracked.deleted = true;
                }
            }
            Ok(a) => panic!("DELETE /contacts/{id} answered {}: {}", a.status, a.body),
            Err(_) => {
                let mut ledger = self.ledger();
                ledger.gave_up += 1;
                ledger.uncertain_contacts.insert(id.to_string());
            }
        }
    }

    /// A new event of a random owner; `None` unless it was answered `201`. (A create repeated
    /// after a lost answer may leave an extra event behind; nobody is invited to it.)
    async fn create_event(&self, rng: &mut StdRng, n: usize) -> Option<(String, String)> {
        let owner = self.cast.owners.choose(rng)?;
        let title = format!("Chaos {} #{n}", self.settings.seed);
        let url = format!("{}calendar/{owner}", self.urls.calendar);
        let body = json!({"title": title, "date": "2027-05-01"});
        match resilient::send(|| self.http.post(&url).json(&body), OPERATION_DEADLINE).await {
            Ok(a) if a.status == StatusCode::CREATED => {
                self.ledger().count("event created", &a);
                Some((a.body["id"].as_str().expect("an event id").to_string(), title))
            }
            Ok(a) => panic!("POST /calendar/{owner} answered {}: {}", a.status, a.body),
            Err(_) => {
                self.ledger().gave_up += 1;
                None
            }
        }
    }

    async fn invite(&self, event: &str, title: &str, guests: &[String]) {
        let subject = format!("Invitation: {title}");
        let pairs: Vec<(String, String)> = guests.iter().map(|g| (g.clone(), subject.clone())).collect();
        self.ledger().requested.extend(pairs.iter().cloned());
        let url = format!("{}event/{event}/participants", self.urls.calendar);
        match resilient::send(|| self.http.post(&url).json(guests), OPERATION_DEADLINE).await {
            Ok(a) if a.status == StatusCode::OK => {
                let mut ledger = self.ledger();
                ledger.count("participants invited", &a);
                ledger.invited.extend(pairs);
            }
            Ok(a) => panic!("POST /event/{event}/participants answered {}: {}", a.status, a.body),
            Err(_) => self.ledger().gave_up += 1,
        }
    }
}

/// Kills by service name.
pub type Kills = BTreeMap<String, usize>;

/// Runs the workload to its last operation while killing and restarting a random one of
/// `services` on the side; when the workload is done, every service is running again.
/// Returns the ledger and the kills.
pub async fn run(
    http: &reqwest::Client,
    urls: &Urls,
    cast: &Cast,
    settings: &ChaosSettings,
    services: [&mut ServiceProcess; 3],
) -> (Ledger, Kills) {
    let workload = Workload {
        http,
        urls,
        cast,
        settings,
        next: AtomicUsize::new(0),
        ledger: Mutex::new(Ledger::default()),
    };
    let (done_tx, done_rx) = watch::channel(false);
    let writers = async {
        join_all((0..settings.writers).map(|i| workload.writer(i))).await;
        done_tx.send_replace(true);
    };
    let ((), kills) = tokio::join!(writers, kill_randomly(services, settings, done_rx));
    (workload.ledger.into_inner().unwrap_or_else(|e| e.into_inner()), kills)
}

async fn kill_randomly(
    mut services: [&mut ServiceProcess; 3],
    settings: &ChaosSettings,
    mut done: watch::Receiver<bool>,
) -> Kills {
    let mut rng = StdRng::seed_from_u64(settings.seed);
    let mut kills = Kills::new();
    let started = Instant::now();
    loop {
        let pause =
            Duration::from_millis(rng.random_range(settings.kill_every_ms.0..=settings.kill_every_ms.1));
        // The schedule itself: wait for the next kill, or the end of the workload.
        tokio::select! {
            _ = done.wait_for(|d| *d) => break,
            () = tokio::time::sleep(pause) => {}
        }
        let victim = &mut services[rng.random_range(0..3)];
        let down = Duration::from_millis(rng.random_range(settings.down_ms.0..=settings.down_ms.1));
        eprintln!(
            "chaos: {:>6.1}s SIGKILL {} (down for {} ms)",
            started.elapsed().as_secs_f64(),
            victim.name(),
            down.as_millis()
        );
        victim.kill().await.unwrap_or_else(|e| panic!("killing {}: {e:#}", victim.name()));
        *kills.entry(victim.name().to_string()).or_default() += 1;
        tokio::time::sleep(down).await;
        victim.restart().await.unwrap_or_else(|e| panic!("{} did not come back: {e:#}", victim.name()));
    }
    kills
}

/// The states to compare after the system settled.
#[derive(Debug)]
pub struct Observed<'a> {
    /// contacts' list: id → e-mail.
    pub contacts: BTreeMap<String, String>,
    /// calendar's users: id → e-mail.
    pub users: BTreeMap<String, String>,
    /// notifications' jobs.
    pub jobs: &'a [Value],
    /// What the SMTP server accepted.
    pub messages: &'a [ReceivedMessage],
}

/// What the checks found, for the run's summary.
#[derive(Debug, Clone, Copy)]
pub struct Verdict {
    pub jobs: usize,
    pub messages: usize,
    pub duplicates: usize,
}

/// Every check of the chaos run; panics with the first violation.
pub fn verify(ledger: &Ledger, cast: &Cast, observed: &Observed<'_>, kills: &Kills) -> Verdict {
    // No accepted write is missing, and no deleted contact came back.
    for (id, tracked) in &ledger.contacts {
        if ledger.uncertain_contacts.contains(id) {
            continue;
        }
        match (tracked.deleted, observed.contacts.get(id)) {
            (false, Some(email)) => {
                assert_eq!(email, &tracked.email, "contact {id} has its last accepted e-mail")
            }
            (false, None) => panic!("contact {id} ({}) was created (201) but is missing", tracked.email),
            (true, Some(email)) => panic!("contact {id} ({email}) was deleted (204) but is still there"),
            (true, None) => {}
        }
    }
    let emails: BTreeSet<&String> = observed.contacts.values().collect();
    for email in &ledger.created_unseen {
        assert!(emails.contains(email), "{email} was created (409 on the retry) but is missing");
    }
    for person in &cast.everyone {
        assert_eq!(observed.contacts.get(&person.id), Some(&person.email), "{} is unchanged", person.email);
    }
    // Nothing appeared that nobody asked for.
    let known_ids: BTreeSet<&String> =
        ledger.contacts.keys().chain(cast.everyone.iter().map(|c| &c.id)).collect();
    for (id, email) in &observed.contacts {
        assert!(
            known_ids.contains(id)
                || ledger.created_unseen.contains(email)
                || ledger.uncertain_creates.contains(email),
            "contacts holds {id} ({email}), which no request created"
        );
    }

    // calendar's replica equals contacts' state.
    assert_eq!(observed.users, observed.contacts, "calendar's users equal contacts' list (ids and e-mails)");

    // Every accepted invitation is exactly one job; every job is a requested invitation.
    let mut jobs_by_invitation: BTreeMap<(String, String), Vec<&Value>> = BTreeMap::new();
    for job in observed.jobs {
        let recipients = job["recipients"].as_array().expect("recipients");
        assert_eq!(recipients.len(), 1, "one recipient per invitation job: {job}");
        let key = (
            recipients[0].as_str().unwrap_or_default().to_string(),
            job["subject"].as_str().unwrap_or_default().to_string(),
        );
        jobs_by_invitation.entry(key).or_default().push(job);
    }
    for (invitation, jobs) in &jobs_by_invitation {
        assert!(ledger.requested.contains(invitation), "a job nobody asked for: {:?}", jobs[0]);
        assert_eq!(jobs.len(), 1, "one job per invitation {invitation:?}, got {jobs:?}");
        assert_eq!(jobs[0]["status"], "sent", "the job for {invitation:?} was sent: {}", jobs[0]);
    }
    for invitation in &ledger.invited {
        assert!(
            jobs_by_invitation.contains_key(invitation),
            "the accepted invitation {invitation:?} has no job"
        );
    }

    // Every job reached the SMTP server; repeats carry the job's Message-ID and are identical.
    let mut by_message_id: BTreeMap<String, Vec<&ReceivedMessage>> = BTreeMap::new();
    for message in observed.messages {
        let id = message.message_id().expect("every message has a Message-ID");
        by_message_id.entry(id).or_default().push(message);
    }
    let job_message_ids: BTreeSet<String> = observed
        .jobs
        .iter()
        .map(|j| j["message_id"].as_str().unwrap_or_default().trim_matches(['<', '>']).to_string())
        .collect();
    for job in observed.jobs {
        let id = job["message_id"].as_str().unwrap_or_default().trim_matches(['<', '>']);
        let copies = by_message_id.get(id).map_or(0, Vec::len);
        assert!(copies >= 1, "job {} (Message-ID {id}) reached the SMTP server", job["id"]);
    }
    let mut duplicates = 0;
    for (id, copies) in &by_message_id {
        assert!(job_message_ids.contains(id), "a message no job explains: Message-ID {id}");
        for copy in &copies[1..] {
            assert_eq!(copy.data, copies[0].data, "a repeat of {id} is the same message, byte for byte");
            assert_eq!(copy.rcpt_to, copies[0].rcpt_to, "a repeat of {id} goes to the same recipient");
        }
        duplicates += copies.len() - 1;
    }
    let window = kills.get("notifications").copied().unwrap_or(0) * SMTP_MAX_CONCURRENCY;
    assert!(
        duplicates <= window,
        "{duplicates} repeated message(s), but {} kill(s) of notifications can repeat at most {window}",
        kills.get("notifications").copied().unwrap_or(0)
    );
    Verdict { jobs: observed.jobs.len(), messages: observed.messages.len(), duplicates }
}
