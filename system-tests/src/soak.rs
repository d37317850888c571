//! The soak: a steady mixed load against all three services for a while, reported per period
//! (a minute for `cargo xtask soak`): requests, errors (target 0), p50/p99 latency, and each
//! service's resident memory at the end of the period. Then the system must come to rest with
//! every invitation and notification delivered.
//!
//! The load is a fixed cycle of calls, paced to a constant rate over a few clients: contacts
//! created, read, listed, changed and deleted, the feed read; calendar's users, calendars and
//! `.ics` read, events created, guests invited, old events deleted; notifications posted
//! straight to notifications and read back. Any answer other than the expected 2xx, or no
//! answer, is an error. Each client keeps at most [`KEEP_CONTACTS`] contacts and
//! [`KEEP_EVENTS`] events (it deletes the oldest), so after the warm-up the data a request reads
//! stays the same size and a trend in latency or memory is the services', not the data's. (The
//! contacts event log and the delivered jobs still grow, as they do in production.)

use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde_json::{Value, json};
use test_support::smtp::SmtpServer;
use test_support::{TempDir, TestDb};

use harness::generate_token;
use harness::process::rss_kib;
use harness::system::{System, SystemSpec};

/// What to run.
#[derive(Debug, Clone)]
pub struct SoakSpec {
    /// How long the load runs.
    pub duration: Duration,
    /// The reporting period (one row of the report each).
    pub period: Duration,
    /// Periods before this much time has passed are warm-up: memory growth is judged after it.
    pub warm_up: Duration,
    /// `debug` or `release` binaries (built beforehand).
    pub profile: String,
    /// Requests per second over all clients.
    pub rate: f64,
    pub clients: usize,
}

/// Contacts and events each client keeps; beyond that it deletes its oldest.
pub const KEEP_CONTACTS: usize = 50;
pub const KEEP_EVENTS: usize = 20;

/// Requests per second when not told otherwise.
pub const DEFAULT_RATE: f64 = 40.0;

/// One reporting period.
#[derive(Debug, Clone)]
pub struct Period {
    pub requests: usize,
    pub errors: usize,
    pub p50: Duration,
    pub p99: Duration,
    /// Resident memory (KiB) of contacts, calendar, notifications at the period's end.
    pub rss_kib: [u64; 3],
}

#[derive(Debug, Clone)]
pub struct SoakReport {
    pub spec: SoakSpec,
    pub periods: Vec<Period>,
    /// The first few errors, as text.
    pub first_errors: Vec<String>,
    /// Invitations made and direct notifications posted; all were delivered at the end.
    pub invitations: usize,
    pub notifications: usize,
    /// Cancellations delivered: one for each deleted event whose invitation had gone out before.
    pub cancellations: usize,
    /// How long the system took to deliver everything after the load stopped.
    pub drain: Duration,
}

pub const SERVICES: [&str; 3] = ["contacts", "calendar", "notifications"];

impl SoakReport {
    pub fn errors(&self) -> usize {
        self.periods.iter().map(|p| p.errors).sum()
    }

    pub fn requests(&self) -> usize {
        self.periods.iter().map(|p| p.requests).sum()
    }

    /// Periods after the warm-up (at least the last one).
    fn after_warm_up(&self) -> &[Period] {
        let skip = (self.spec.warm_up.as_secs_f64() / self.spec.period.as_secs_f64()).ceil() as usize;
        &self.periods[skip.min(self.periods.len().saturating_sub(1))..]
    }

    /// Per service: resident memory at the end of the first period after warm-up and at the end
    /// of the last period (KiB).
    pub fn rss_after_warm_up(&self) -> [(u64, u64); 3] {
        let settled = self.after_warm_up();
        let (first, last) = (&settled[0], &settled[settled.len() - 1]);
        [0, 1, 2].map(|i| (first.rss_kib[i], last.rss_kib[i]))
    }

    /// Services whose memory grew after the warm-up by more than `allowance(first)` KiB.
    pub fn growing(&self, allowance: impl Fn(u64) -> u64) -> Vec<String> {
        self.rss_after_warm_up()
            .iter()
            .zip(SERVICES)
            .filter(|((first, last), _)| *last > first + allowance(*first))
            .map(|((first, last), name)| format!("{name}: {first} KiB → {last} KiB"))
            .collect()
    }

    /// p99 of the last period over that of the first.
    pub fn p99_drift(&self) -> f64 {
        match (self.periods.first(), self.periods.last()) {
            (Some(first), Some(last)) if !first.p99.is_zero() => {
                last.p99.as_secs_f64() / first.p99.as_secs_f64()
            }
            _ => 1.0,
        }
    }

    /// The report as a Markdown table with a summary.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let period = self.spec.period.as_secs();
        let _ = writeln!(
            out,
            "soak: {} binaries, {:.0} s at {} requests/s over {} clients, reported every {period} s\n",
            self.spec.profile,
            self.spec.duration.as_secs_f64(),
            self.spec.rate,
            self.spec.clients
        );
        let _ = writeln!(
            out,
            "| period | requests | errors | p50 ms | p99 ms | contacts RSS MiB | calendar RSS MiB | notifications RSS MiB |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
        for (i, p) in self.periods.iter().enumerate() {
            let mib = |kib: u64| kib as f64 / 1024.0;
            let _ = writeln!(
                out,
                "| {}–{} s | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
                i as u64 * period,
                (i as u64 + 1) * period,
                p.requests,
                p.errors,
                p.p50.as_secs_f64() * 1000.0,
                p.p99.as_secs_f64() * 1000.0,
                mib(p.rss_kib[0]),
                mib(p.rss_kib[1]),
                mib(p.rss_kib[2])
            );
        }
        let _ = writeln!(
            out,
            "\nerrors: {} of {} requests{}",
            self.errors(),
            self.requests(),
            if self.first_errors.is_empty() {
                String::new()
            } else {
                format!(" (first: {:?})", self.first_errors)
            }
        );
        let _ = writeln!(out, "p99 drift, last period over first: {:.2}×", self.p99_drift());
        for ((first, last), name) in self.rss_after_warm_up().iter().zip(SERVICES) {
            let _ = writeln!(
                out,
                "{name} RSS after warm-up: {:.1} → {:.1} MiB ({:+.1} MiB)",
                *first as f64 / 1024.0,
                *last as f64 / 1024.0,
                (*last as f64 - *first as f64) / 1024.0
            );
        }
        let _ = writeln!(
            out,
            "delivered: {} invitation(s), {} cancellation(s) and {} notification(s), all sent {:.1} s after the load stopped",
            self.invitations,
            self.cancellations,
            self.notifications,
            self.drain.as_secs_f64()
        );
        out
    }
}

/// Memory growth after the warm-up that the soak still calls flat: 10 % or 8 MiB, whichever is
/// more.
pub fn rss_allowance_kib(first: u64) -> u64 {
    (first / 10).max(8 * 1024)
}

/// One request's outcome: when it started (from the beginning of the load), how long it took,
/// and the error, if any.
type Sample = (Duration, Duration, Option<String>);

/// Starts the system with fresh databases (PostgreSQL schemas when `TEST_DATABASE_URL` is set)
/// and an SMTP server, runs the load, waits for delivery, stops the system and reports.
pub async fn run(spec: SoakSpec) -> anyhow::Result<SoakReport> {
    let workdir = TempDir::new("soak");
    let smtp = SmtpServer::start().await;
    let mut dbs = Vec::new();
    let mut extra_env = Vec::new();
    for service in SERVICES {
        let db = TestDb::new().await;
        extra_env.push((service.to_string(), "DATABASE_URL".to_string(), db.url.clone()));
        dbs.push(db);
    }
    for (key, value) in [
        ("SMTP_URL", smtp.url()),
        ("ADMIN_USER", "operator".into()),
        ("ADMIN_PASSWORD", generate_token()),
        ("RETRY_MIN_MS", "100".into()),
        ("POLL_INTERVAL_MS", "500".into()),
    ] {
        extra_env.push(("notifications".into(), key.into(), value));
    }
    for (service, key) in crate::system::LOAD_QUOTAS {
        extra_env.push((service.into(), key.into(), crate::system::UNLIMITED.into()));
    }
    let token = generate_token();
    let system_spec = SystemSpec {
        profile: spec.profile.clone(),
        workdir: workdir.path().to_path_buf(),
        ports: [0, 0, 0],
        token: token.clone(),
        log_format: "json".into(),
        echo: false,
        extra_env,
    };
    let system = System::start(&system_spec).await?;
    let result = load_and_report(&spec, &system, &token).await;
    system.stop(Duration::from_secs(40)).await?;
    result
}

async fn load_and_report(spec: &SoakSpec, system: &System, token: &str) -> anyhow::Result<SoakReport> {
    // Every service asks for the token (the harness configures it as API_TOKENS on all three).
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {token}").parse()?);
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .default_headers(headers)
        .build()?;
    let cast = Cast::create(&http, system).await?;
    let load = Load { http: &http, system, token, cast: &cast, samples: Mutex::new(Vec::new()) };
    let started = Instant::now();
    let pids: Vec<u32> =
        [&system.contacts, &system.calendar, &system.notifications].iter().filter_map(|s| s.pid()).collect();
    anyhow::ensure!(pids.len() == 3, "a service is not running");

    let periods = (spec.duration.as_secs_f64() / spec.period.as_secs_f64()).ceil() as usize;
    let sample_memory = async {
        let mut rss = Vec::new();
        for i in 1..=periods {
            let at = started + spec.period * i as u32;
            tokio::time::sleep_until(at.into()).await;
            rss.push([0, 1, 2].map(|s| rss_kib(pids[s]).unwrap_or(0)));
        }
        rss
    };
    let clients = join_all((0..spec.clients).map(|c| load.client(c, spec, started)));
    let (rss, counts) = tokio::join!(sample_memory, clients);
    let (invitations, notifications, cancellable) =
        counts.iter().fold((0, 0, 0), |(i, n, c), (ci, cn, cc)| (i + ci, n + cn, c + cc));

    let drain_started = Instant::now();
    let deadline = drain_started + Duration::from_secs(120);
    let cancellations = loop {
        if let Some(cancellations) =
            delivered(&http, system, token, invitations + notifications, cancellable).await
        {
            break cancellations;
        }
        anyhow::ensure!(Instant::now() < deadline, "not everything was delivered within 120 s of the load");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let drain = drain_started.elapsed();

    let samples = load.samples.into_inner().unwrap_or_else(|e| e.into_inner());
    let mut first_errors = Vec::new();
    let periods = rss
        .iter()
        .enumerate()
        .map(|(i, rss_kib)| {
            let (from, to) = (spec.period * i as u32, spec.period * (i as u32 + 1));
            let mut times: Vec<Duration> = Vec::new();
            let mut errors = 0;
            for (at, took, error) in samples.iter().filter(|(at, _, _)| *at >= from && *at < to) {
                times.push(*took);
                if let Some(e) = error {
                    errors += 1;
                    if first_errors.len() < 5 {
                        first_errors.push(format!("at {:.1} s: {e}", at.as_secs_f64()));
                    }
                }
            }
            times.sort();
            Period {
                requests: times.len(),
                errors,
                p50: quantile(&times, 0.5),
                p99: quantile(&times, 0.99),
                rss_kib: *rss_kib,
            }
        })
        .collect();
    Ok(SoakReport {
        spec: spec.clone(),
        periods,
        first_errors,
        invitations,
        notifications,
        cancellations,
        drain,
    })
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Whether calendar's outbox is empty and notifications holds `jobs` jobs, all sent.
async fn delivered(
    http: &reqwest::Client,
    system: &System,
    token: &str,
    jobs: usize,
    cancellable: usize,
) -> Option<usize> {
    let metrics =
        http.get(system.calendar.url("metrics")).send().await.ok()?.text().await.unwrap_or_default();
    if !metrics.lines().any(|l| l == "outbox_pending 0") {
        return None;
    }
    let mut url = Some(system.notifications.url("notifications?limit=200"));
    let (mut count, mut cancellations) = (0, 0);
    while let Some(current) = url {
        let page = http.get(&current).bearer_auth(token).send().await.ok()?.json::<Value>().await.ok()?;
        let items = page["items"].as_array().cloned().unwrap_or_default();
        if items.iter().any(|j| j["status"] != "sent") {
            return None;
        }
        count += items.len();
        cancellations += items
            .iter()
            .filter(|j| j["subject"].as_str().is_some_and(|s| s.starts_with("Cancelled: ")))
            .count();
        url = page["next"].as_str().map(str::to_string);
    }
    // A deleted event's guest is told of the cancellation only if the invitation had gone out.
    (count - cancellations == jobs && cancellations <= cancellable).then_some(cancellations)
}

/// People created before the load: event owners and guests, known to calendar.
#[derive(Debug)]
struct Cast {
    owners: Vec<String>,
    guests: Vec<String>,
}

impl Cast {
    async fn create(http: &reqwest::Client, system: &System) -> anyhow::Result<Self> {
        let mut owners = Vec::new();
        let mut guests = Vec::new();
        for i in 0..8 {
            let email = format!("soak{i}@example.org");
            let response = http
                .post(system.contacts.url("contacts"))
                .json(&json!({"firstname": format!("Soak{i}"), "lastname": "Cast", "email": email}))
                .send()
                .await?;
            anyhow::ensure!(response.status().as_u16() == 201, "creating the cast: {}", response.status());
            let id = response.json::<Value>().await?["id"].as_str().unwrap_or_default().to_string();
            if i < 2 { owners.push(id) } else { guests.push(email) }
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let page: Value = http
                .get(system.calendar.url("users?limit=200"))
                .send()
                .await?
                .json()
                .await
                .unwrap_or_default();
            if page["items"].as_array().is_some_and(|users| users.len() >= 8) {
                return Ok(Self { owners, guests });
            }
            anyhow::ensure!(Instant::now() < deadline, "calendar did not replicate the cast within 60 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

struct Load<'a> {
    http: &'a reqwest::Client,
    system: &'a System,
    token: &'a str,
    cast: &'a Cast,
    samples: Mutex<Vec<Sample>>,
}

/// The calls of one cycle, in order.
#[derive(Debug, Clone, Copy)]
enum Call {
    CreateContact,
    ReadContact,
    ListContacts,
    UpdateContact,
    DeleteContact,
    ReadFeed,
    ListUsers,
    ReadCalendar,
    ReadIcs,
    CreateEvent,
    Invite,
    DeleteEvent,
    PostNotification,
    ReadNotification,
}

const CYCLE: &[Call] = &[
    Call::CreateContact,
    Call::ReadContact,
    Call::ListUsers,
    Call::ReadCalendar,
    Call::CreateEvent,
    Call::Invite,
    Call::ListContacts,
    Call::ReadFeed,
    Call::DeleteEvent,
    Call::UpdateContact,
    Call::ReadIcs,
    Call::PostNotification,
    Call::ReadNotification,
    Call::ReadContact,
    Call::DeleteContact,
    Call::ListUsers,
];

impl Load<'_> {
    /// One client's share of the load until the duration is over; returns the invitations and
    /// notifications it made, and how many events with an invitation it deleted.
    async fn client(&self, index: usize, spec: &SoakSpec, started: Instant) -> (usize, usize, usize) {
        let mut pace = tokio::time::interval(Duration::from_secs_f64(spec.clients as f64 / spec.rate));
        pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut state = ClientState::default();
        let mut n = index; // clients start at different places of the cycle
        while started.elapsed() < spec.duration {
            pace.tick().await;
            let call = CYCLE[n % CYCLE.len()];
            let at = started.elapsed();
            let t0 = Instant::now();
            let error = self.call(call, index, n, &mut state).await.err().map(|e| format!("{call:?}: {e}"));
            let took = t0.elapsed();
            self.samples.lock().unwrap_or_else(|e| e.into_inner()).push((at, took, error));
            n += 1;
        }
        (state.invitations, state.notifications, state.deleted_invited)
    }

    async fn call(&self, call: Call, client: usize, n: usize, state: &mut ClientState) -> anyhow::Result<()> {
        let contacts = &self.system.contacts;
        let calendar = &self.system.calendar;
        let notifications = &self.system.notifications;
        let owner = &self.cast.owners[n % self.cast.owners.len()];
        match call {
            Call::CreateContact => {
                let body = json!({"firstname": "Load", "lastname": format!("C{client}"), "email": format!("load{n}.c{client}@example.org")});
                let created = expect(self.http.post(contacts.url("contacts")).json(&body), 201).await?;
                state.contacts.push(created["id"].as_str().unwrap_or_default().to_string());
            }
            Call::ReadContact => {
                if let Some(id) = state.contacts.last() {
                    expect(
                        self.http
                            .get(contacts.url(&format!("contacts/{id}")))
                            .header("accept", "application/json"),
                        200,
                    )
                    .await?;
                }
            }
            Call::ListContacts => {
                expect(
                    self.http.get(contacts.url("contacts?limit=50")).header("accept", "application/json"),
                    200,
                )
                .await?;
            }
            Call::UpdateContact => {
                if let Some(id) = state.contacts.last() {
                    let body = json!({"lastname": format!("Changed{n}")});
                    expect(self.http.put(contacts.url(&format!("contacts/{id}"))).json(&body), 200).await?;
                }
            }
            Call::DeleteContact => {
                if state.contacts.len() > KEEP_CONTACTS {
                    let id = state.contacts.remove(0);
                    expect(self.http.delete(contacts.url(&format!("contacts/{id}"))), 204).await?;
                }
            }
            Call::ReadFeed => {
                expect_text(
                    self.http.get(contacts.url("feed")).header("accept", "application/atom+xml"),
                    200,
                )
                .await?;
            }
            Call::ListUsers => {
                expect(
                    self.http.get(calendar.url("users?limit=50")).header("accept", "application/json"),
                    200,
                )
                .await?;
            }
            Call::ReadCalendar => {
                expect(
                    self.http
                        .get(calendar.url(&format!("calendar/{owner}")))
                        .header("accept", "application/json"),
                    200,
                )
                .await?;
            }
            Call::ReadIcs => {
                expect_text(self.http.get(calendar.url(&format!("calendar/{owner}.ics"))), 200).await?;
            }
            Call::CreateEvent => {
                let body = json!({"title": format!("Soak {client}-{n}"), "date": "2027-07-01"});
                let event =
                    expect(self.http.post(calendar.url(&format!("calendar/{owner}"))).json(&body), 201)
                        .await?;
                state.event = event["id"].as_str().map(str::to_string);
                state.events.extend(state.event.clone());
            }
            Call::Invite => {
                if let Some(event) = state.event.take() {
                    let guest = &self.cast.guests[n % self.cast.guests.len()];
                    expect(
                        self.http.post(calendar.url(&format!("event/{event}/participants"))).json(&[guest]),
                        200,
                    )
                    .await?;
                    state.invitations += 1;
                    state.invited.insert(event);
                }
            }
            Call::DeleteEvent => {
                if state.events.len() > KEEP_EVENTS {
                    let id = state.events.remove(0);
                    expect(self.http.delete(calendar.url(&format!("event/{id}"))), 204).await?;
                    if state.invited.remove(&id) {
                        state.deleted_invited += 1;
                    }
                }
            }
            Call::PostNotification => {
                let body =
                    json!({"email": format!("direct{n}@example.org"), "subject": "Soak", "message": "Hello"});
                let job = expect(
                    self.http
                        .post(notifications.url("notifications"))
                        .bearer_auth(self.token)
                        .header("idempotency-key", format!("soak-{client}-{n}"))
                        .json(&body),
                    202,
                )
                .await?;
                state.notifications += 1;
                state.job = job["id"].as_str().map(str::to_string);
            }
            Call::ReadNotification => {
                if let Some(job) = &state.job {
                    expect(
                        self.http
                            .get(notifications.url(&format!("notifications/{job}")))
                            .bearer_auth(self.token),
                        200,
                    )
                    .await?;
                }
            }
        }
        Ok(())
    }
}

#[derive(Debug, Default)]
struct ClientState {
    /// Contacts this client created and has not deleted, oldest first.
    contacts: Vec<String>,
    /// The newest event, until a guest is invited to it.
    event: Option<String>,
    /// Events this client created and has not deleted, oldest first.
    events: Vec<String>,
    job: Option<String>,
    invitations: usize,
    notifications: usize,
    /// Events this client invited a guest to and has not deleted.
    invited: std::collections::HashSet<String>,
    /// Events with an invitation this client deleted (each may bring a cancellation).
    deleted_invited: usize,
}

async fn expect(request: reqwest::RequestBuilder, status: u16) -> anyhow::Result<Value> {
    let response = request.send().await?;
    let got = response.status().as_u16();
    let bytes = response.bytes().await?;
    anyhow::ensure!(got == status, "answered {got}, expected {status}: {}", String::from_utf8_lossy(&bytes));
    Ok(serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn expect_text(request: reqwest::RequestBuilder, status: u16) -> anyhow::Result<()> {
    let response = request.send().await?;
    let got = response.status().as_u16();
    response.bytes().await?;
    anyhow::ensure!(got == status, "answered {got}, expected {status}");
    Ok(())
}
