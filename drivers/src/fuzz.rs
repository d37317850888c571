//! `cargo xtask fuzz`: every JSON endpoint of the three real binaries fuzzed from its OpenAPI
//! document with schemathesis (through `openapi-fuzz.sh`), against data seeded so the fuzzer
//! reaches real resources.
//!
//! One command: builds the binaries, starts them on free ports with fresh databases (SQLite, or
//! PostgreSQL schemas when `TEST_DATABASE_URL` is set) and a real SMTP server for notifications,
//! seeds contacts (some with markup in their names), waits until calendar's replica has them
//! (through the real feed), adds events with participants and notification jobs, then fuzzes
//! each service in turn. Each service's OpenAPI document is fetched from the running binary and
//! every path parameter gets the seeded ids as an example and as one alternative of its schema,
//! so generated requests hit existing contacts, users, events, archive pages and jobs as well as
//! random ones; calendar's event bodies get complete events as one alternative (its document
//! lists every field as optional; not with `--all-checks`, which holds the service to its
//! document as it is). Every service is fuzzed with the bearer token (schemathesis sends it
//! as a header with every request).
//!
//! Passes when, for every service: schemathesis reports no failure (`not_a_server_error`, and no
//! request unanswered within 10 s; with `--all-checks` every default check of schemathesis:
//! answers conform to the document, invalid data is refused, valid data accepted, auth is not
//! ignored, ...), the service's own `http_requests_total` counts no 5xx during the run, its log
//! has no panic, and it is still ready at the end. The summary also says, per operation with a
//! path parameter, how many requests reached an existing resource (answered 2xx).
//! Logs and schemathesis output go to `target/artifacts/fuzz/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use harness::generate_token;
use harness::process::ServiceProcess;
use harness::system::{System, SystemSpec};
use serde_json::{Value, json};
use test_support::TestDb;
use test_support::smtp::SmtpServer;

pub const USAGE: &str = "usage: cargo xtask fuzz [--seconds N] [--examples N] [--only contacts,calendar,notifications] \
     [--release] [--no-build] [--all-checks]\n\
     \n\
     --seconds N   fuzzing budget per service (default 60); schemathesis repeats its phases until spent\n\
     --examples N  most examples per operation and phase (default 100)\n\
     --only LIST   fuzz only these services (all three still run)\n\
     --release     fuzz the release binaries\n\
     --no-build    use the binaries as they are\n\
     --all-checks  all of schemathesis' checks (also conformance to the OpenAPI document), not only\n\
                   not_a_server_error; conformance findings then fail the run too\n\
     OPENAPI_FUZZ  run this openapi-fuzz.sh-style script instead of the pinned schemathesis that\n\
                   is installed into target/fuzz-venv (python3 -m venv) on first use";

const SERVICES: [&str; 3] = ["contacts", "calendar", "notifications"];

/// `RUST_LOG` for the services: everything but the per-request line below warn.
const QUIET_REQUESTS: &str = "info,service_kit::http=warn";

/// Longest a single request may take before schemathesis reports it as hung.
const REQUEST_TIMEOUT_SECS: u64 = 10;

#[derive(Debug)]
struct Options {
    seconds: u64,
    examples: u64,
    only: Vec<String>,
    profile: &'static str,
    build: bool,
    /// Run all of schemathesis' default checks (conformance to the document too), not only
    /// `not_a_server_error`.
    all_checks: bool,
}

impl Options {
    fn parse(args: &[String]) -> anyhow::Result<Self> {
        let mut options = Self {
            seconds: 60,
            examples: 100,
            only: Vec::new(),
            profile: "debug",
            build: true,
            all_checks: false,
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value = || it.next().cloned().with_context(|| format!("{arg} needs a value\n{USAGE}"));
            match arg.as_str() {
                "--seconds" => options.seconds = value()?.parse().context("--seconds")?,
                "--examples" => options.examples = value()?.parse().context("--examples")?,
                "--only" => options.only = value()?.split(',').map(str::to_string).collect(),
                "--release" => options.profile = "release",
                "--no-build" => options.build = false,
                "--all-checks" => options.all_checks = true,
                other => bail!("unknown option {other}\n{USAGE}"),
            }
        }
        if let Some(unknown) = options.only.iter().find(|s| !SERVICES.contains(&s.as_str())) {
            bail!("--only: no service {unknown}");
        }
        if options.seconds == 0 || options.examples == 0 {
            bail!("--seconds and --examples must be positive");
        }
        Ok(options)
    }

    fn fuzzes(&self, service: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|s| s == service)
    }
}

pub async fn main(args: &[String]) -> anyhow::Result<()> {
    let options = Options::parse(args)?;
    let tool = FuzzTool::find()?;
    if options.build {
        harness::build(options.profile)?;
    }
    let out = artifacts_dir();
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let backend = if TestDb::postgres_configured() { "PostgreSQL" } else { "SQLite" };
    println!(
        "fuzz: {} binaries on {backend}, {} s and up to {} examples per operation and phase per service",
        options.profile, options.seconds, options.examples
    );

    let workdir = test_support::TempDir::new("fuzz");
    let smtp = SmtpServer::start().await;
    let mut dbs = Vec::new();
    let mut env = Vec::new();
    for service in SERVICES {
        let db = TestDb::new().await;
        env.push((service.to_string(), "DATABASE_URL".to_string(), db.url.clone()));
        dbs.push(db);
    }
    let token = generate_token();
    for (service, key, value) in [
        ("notifications", "SMTP_URL", smtp.url()),
        ("notifications", "ADMIN_PASSWORD", generate_token()),
        ("notifications", "RETRY_MIN_MS", "100".into()),
        ("notifications", "RETRY_MAX_MS", "2000".into()),
        ("calendar", "OUTBOX_RETRY_MIN_MS", "100".into()),
        ("calendar", "OUTBOX_RETRY_MAX_MS", "2000".into()),
        ("contacts", "FEED_PAGE_SIZE", "5".into()),
        // Without the line per request: every 5xx and every panic is logged at warn or error,
        // and the log of a long run stays small. Requests are counted from /metrics.
        ("contacts", "RUST_LOG", QUIET_REQUESTS.into()),
        ("calendar", "RUST_LOG", QUIET_REQUESTS.into()),
        ("notifications", "RUST_LOG", QUIET_REQUESTS.into()),
    ] {
        env.push((service.to_string(), key.to_string(), value));
    }
    let spec = SystemSpec {
        profile: options.profile.into(),
        workdir: workdir.path().to_path_buf(),
        ports: [0, 0, 0],
        token: token.clone(),
        log_format: "json".into(),
        echo: false,
        extra_env: env,
    };
    let system = System::start(&spec).await.context("starting the services")?;
    let result = fuzz_all(&options, &tool, &out, &system, &token).await;
    for service in [&system.contacts, &system.calendar, &system.notifications] {
        let _ = std::fs::write(out.join(format!("{}.log", service.name())), service.logs().join("\n"));
    }
    let stopped = system.stop(Duration::from_secs(40)).await;
    drop(dbs);
    let verdicts = result?;
    stopped.context("stopping the services")?;
    println!();
    let mut failed = Vec::new();
    for verdict in &verdicts {
        println!("{verdict}");
        if !verdict.passed() {
            failed.push(verdict.service);
        }
    }
    println!("logs and schemathesis output: {}", out.display());
    if failed.is_empty() {
        println!("fuzz: PASS");
        Ok(())
    } else {
        bail!("fuzz: FAIL ({})", failed.join(", "))
    }
}

/// The schemathesis release the fuzzing is pinned to.
const SCHEMATHESIS: &str = "schemathesis==4.32.5";

/// What runs the fuzzing.
#[derive(Debug)]
enum FuzzTool {
    /// A script taking `SCHEMA BASE SECONDS EXAMPLES -- EXTRA` (`OPENAPI_FUZZ`, e.g. the team's
    /// `openapi-fuzz.sh`).
    Script(PathBuf),
    /// The pinned schemathesis in a virtual environment of our own.
    Schemathesis(PathBuf),
}

impl FuzzTool {
    /// `OPENAPI_FUZZ` when set; otherwise the pinned schemathesis, installed into
    /// `target/fuzz-venv` the first time.
    fn find() -> anyhow::Result<Self> {
        if let Some(path) = std::env::var_os("OPENAPI_FUZZ").map(PathBuf::from) {
            if !path.is_file() {
                bail!("OPENAPI_FUZZ={} is not a file", path.display());
            }
            return Ok(Self::Script(path));
        }
        let venv = artifacts_dir().parent().and_then(Path::parent).map_or_else(
            || harness::workspace_root().join("target/fuzz-venv"),
            |target| target.join("fuzz-venv"),
        );
        let bin = venv.join("bin/schemathesis");
        let version = SCHEMATHESIS.trim_start_matches("schemathesis==");
        let installed = std::process::Command::new(&bin)
            .arg("--version")
            .output()
            .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains(version));
        if !installed {
            println!("installing {SCHEMATHESIS} into {}", venv.display());
            run(std::process::Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
            run(std::process::Command::new(venv.join("bin/pip")).args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                SCHEMATHESIS,
            ]))?;
        }
        Ok(Self::Schemathesis(bin))
    }

    /// The command fuzzing `schema` against `base` for about `seconds`, with `extra` arguments
    /// for `schemathesis run`.
    fn command(
        &self,
        schema: &Path,
        base: &str,
        options: &Options,
        extra: &[String],
    ) -> tokio::process::Command {
        match self {
            Self::Script(script) => {
                let mut command = tokio::process::Command::new(script);
                command
                    .arg(schema)
                    .arg(base)
                    .arg(options.seconds.to_string())
                    .arg(options.examples.to_string())
                    .arg("--")
                    .args(extra)
                    .env("FUZZ_SPEND_TIME", "1");
                command
            }
            Self::Schemathesis(bin) => {
                // The same run as openapi-fuzz.sh with FUZZ_SPEND_TIME=1: spend the budget, and
                // a hard stop a minute after it.
                let mut command = tokio::process::Command::new("timeout");
                command
                    .args(["-k", "10", &(options.seconds + 60).to_string()])
                    .arg(bin)
                    .args(["--no-color", "run"])
                    .arg(schema)
                    .args(["--url", base])
                    .args(["--max-examples", &options.examples.to_string()])
                    .args(["--max-time", &options.seconds.to_string()])
                    .args(["--wait-for-schema", "15", "--workers", "1"])
                    .args(extra)
                    // schemathesis keeps its example database in the working directory.
                    .current_dir(schema.parent().unwrap_or(Path::new(".")));
                command
            }
        }
    }
}

fn run(command: &mut std::process::Command) -> anyhow::Result<()> {
    let status = command.status().with_context(|| format!("cannot run {command:?}"))?;
    anyhow::ensure!(status.success(), "{command:?} failed ({status})");
    Ok(())
}

fn artifacts_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| harness::workspace_root().join("target"));
    target.join("artifacts").join("fuzz")
}

/// What one service's fuzzing came to.
#[derive(Debug)]
struct Verdict {
    service: &'static str,
    /// schemathesis' exit code (0: no failures).
    exit: Option<i32>,
    /// schemathesis' "Test cases" summary line.
    cases: String,
    /// Requests the service answered during its run, and how many with a 5xx.
    requests: f64,
    server_errors: f64,
    /// Per operation with a path parameter: how many requests reached an existing resource.
    reached: Vec<String>,
    /// The seeded resources that still exist after the run, e.g. "12 of 12 events".
    left: String,
    panics: Vec<String>,
    ready_after: bool,
}

impl Verdict {
    fn passed(&self) -> bool {
        self.exit == Some(0) && self.server_errors == 0.0 && self.panics.is_empty() && self.ready_after
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:<13} {}  schemathesis: {} (exit {})  requests served: {}  5xx: {}  panics: {}  ready after: {}",
            self.service,
            if self.passed() { "PASS" } else { "FAIL" },
            self.cases,
            self.exit.map_or("killed".to_string(), |c| c.to_string()),
            self.requests,
            self.server_errors,
            self.panics.len(),
            if self.ready_after { "yes" } else { "NO" },
        )?;
        write!(f, "\n    seeded and still there after the run: {}", self.left)?;
        for line in &self.reached {
            write!(f, "\n    {line}")?;
        }
        for panic in self.panics.iter().take(5) {
            write!(f, "\n    {panic}")?;
        }
        Ok(())
    }
}

async fn fuzz_all(
    options: &Options,
    tool: &FuzzTool,
    out: &Path,
    system: &System,
    token: &str,
) -> anyhow::Result<Vec<Verdict>> {
    // Every service asks for the token (API_TOKENS on all three, set by the harness).
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {token}").parse()?);
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .default_headers(headers)
        .build()?;
    let seeded = seed(&http, system, token).await.context("seeding")?;
    println!(
        "seeded: {} contacts, {} users in calendar, {} events with participants, {} notification jobs, \
         {} archive pages; for DELETE operations {} contacts and {} events more",
        seeded.contacts.len(),
        seeded.users.len(),
        seeded.events.len(),
        seeded.jobs.len(),
        seeded.archives.len(),
        seeded.doomed_contacts.len(),
        seeded.doomed_events.len()
    );
    let mut verdicts = Vec::new();
    // contacts last: the contacts it deletes or changes would leave calendar's replica.
    for (service, process) in [
        ("calendar", &system.calendar),
        ("notifications", &system.notifications),
        ("contacts", &system.contacts),
    ] {
        if !options.fuzzes(service) {
            continue;
        }
        let auth = Some(format!("Authorization: Bearer {token}"));
        verdicts.push(fuzz_one(options, tool, out, &http, service, process, &seeded, auth).await?);
    }
    Ok(verdicts)
}

#[allow(clippy::too_many_arguments)]
async fn fuzz_one(
    options: &Options,
    tool: &FuzzTool,
    out: &Path,
    http: &reqwest::Client,
    service: &'static str,
    process: &ServiceProcess,
    seeded: &Seeded,
    auth: Option<String>,
) -> anyhow::Result<Verdict> {
    let base = process.url("").trim_end_matches('/').to_string();
    let document: Value =
        http.get(process.url("openapi.json")).send().await?.error_for_status()?.json().await?;
    // Complete event bodies are not in the document: offered only when conformance to the
    // document is not checked, or schemathesis would hold the service to them.
    let document = with_seeded_parameters(document, service, seeded, !options.all_checks);
    let schema = out.join(format!("{service}-openapi.json"));
    std::fs::write(&schema, serde_json::to_vec_pretty(&document)?)?;
    let before = request_counts(http, process).await?;
    let log_lines_before = process.logs().len();

    println!("fuzzing {service} at {base} for {} s ...", options.seconds);
    let started = Instant::now();
    let output_path = out.join(format!("{service}-schemathesis.txt"));
    let output = std::fs::File::create(&output_path)?;
    let mut extra: Vec<String> = vec![
        "--request-timeout".into(),
        REQUEST_TIMEOUT_SECS.to_string(),
        "--suppress-health-check".into(),
        "all".into(),
    ];
    if !options.all_checks {
        extra.extend(["--checks".into(), "not_a_server_error".into()]);
    }
    if let Some(auth) = &auth {
        extra.extend(["--header".into(), auth.clone()]);
    }
    let mut command = tool.command(&schema, &base, options, &extra);
    command.stdout(output.try_clone()?).stderr(output).kill_on_drop(true);
    let status = command.status().await.with_context(|| format!("cannot run {tool:?}"))?;
    let text = std::fs::read_to_string(&output_path).unwrap_or_default();
    let cases = summary_line(&text);
    println!("  {service}: {cases} in {:.0} s, schemathesis {status}", started.elapsed().as_secs_f64());

    let (requests, server_errors, reached) = tally(&before, &request_counts(http, process).await?);
    let panics: Vec<String> = process.logs()[log_lines_before.min(process.logs().len())..]
        .iter()
        .filter(|line| line.contains("panicked"))
        .cloned()
        .collect();
    let left = seeded_left(http, process, service, seeded).await;
    let ready_after =
        http.get(process.url("health/ready")).send().await.is_ok_and(|r| r.status().is_success());
    Ok(Verdict {
        service,
        exit: status.code(),
        cases,
        requests,
        server_errors,
        reached,
        left,
        panics,
        ready_after,
    })
}

/// How many of the seeded resources the run left (the fuzzer changes and deletes what it finds).
async fn seeded_left(
    http: &reqwest::Client,
    process: &ServiceProcess,
    service: &str,
    seeded: &Seeded,
) -> String {
    let (kind, paths): (&str, Vec<String>) = match service {
        "contacts" => ("contacts", seeded.contacts.iter().map(|id| format!("contacts/{id}")).collect()),
        "calendar" => ("events", seeded.events.iter().map(|id| format!("event/{id}")).collect()),
        _ => ("jobs", seeded.jobs.iter().map(|id| format!("notifications/{id}")).collect()),
    };
    let mut left = 0;
    for path in &paths {
        let mut request = http.get(process.url(path)).header("accept", "application/json");
        if let Some(token) = &seeded.token {
            request = request.bearer_auth(token);
        }
        if request.send().await.is_ok_and(|r| r.status().is_success()) {
            left += 1;
        }
    }
    format!("{left} of {} {kind}", paths.len())
}

/// schemathesis' summary of test cases ("N generated, M passed" or with failures).
fn summary_line(output: &str) -> String {
    let lines: Vec<&str> = output.lines().collect();
    lines
        .iter()
        .position(|l| l.trim() == "Test cases:")
        .and_then(|i| lines.get(i + 1))
        .map(|l| l.trim().to_string())
        .unwrap_or_else(|| "no summary (see the output file)".into())
}

/// The service's `http_requests_total`, by (method, route, status).
type Counts = BTreeMap<(String, String, String), f64>;

async fn request_counts(http: &reqwest::Client, process: &ServiceProcess) -> anyhow::Result<Counts> {
    let text = http.get(process.url("metrics")).send().await?.error_for_status()?.text().await?;
    let mut counts = Counts::new();
    for line in text.lines().filter(|l| l.starts_with("http_requests_total{")) {
        let Some((labels, value)) = line.rsplit_once(' ') else { continue };
        let label = |name: &str| {
            labels
                .split_once(&format!("{name}=\""))
                .and_then(|(_, rest)| rest.split_once('"'))
                .map_or(String::new(), |(v, _)| v.to_string())
        };
        let key = (label("method"), label("route"), label("status"));
        *counts.entry(key).or_default() += value.parse::<f64>().unwrap_or(0.0);
    }
    Ok(counts)
}

/// What the fuzzer's requests came to, from the counts before and after its run: all requests,
/// 5xx answers, and per operation with a path parameter, how many were answered 2xx (reached
/// an existing resource) out of all.
fn tally(before: &Counts, after: &Counts) -> (f64, f64, Vec<String>) {
    let mut all = 0.0;
    let mut server_errors = 0.0;
    let mut per_operation: BTreeMap<(String, String), (f64, f64)> = BTreeMap::new();
    for (key, value) in after {
        let delta = value - before.get(key).copied().unwrap_or(0.0);
        let (method, route, status) = key;
        all += delta;
        if status.starts_with('5') {
            server_errors += delta;
        }
        if route.contains('{') {
            let entry = per_operation.entry((method.clone(), route.clone())).or_default();
            entry.1 += delta;
            if status.starts_with('2') {
                entry.0 += delta;
            }
        }
    }
    let reached = per_operation
        .into_iter()
        .filter(|(_, (_, total))| *total > 0.0)
        .map(|((method, route), (ok, total))| format!("{method} {route}: {ok} of {total} answered 2xx"))
        .collect();
    (all, server_errors, reached)
}

/// What the seeding created, by kind.
#[derive(Debug, Default)]
struct Seeded {
    contacts: Vec<String>,
    users: Vec<String>,
    events: Vec<String>,
    jobs: Vec<String>,
    archives: Vec<u64>,
    /// Offered to `DELETE` operations only, so the others keep finding the rest.
    doomed_contacts: Vec<String>,
    doomed_events: Vec<String>,
    /// notifications' token, to read the jobs back.
    token: Option<String>,
}

async fn seed(http: &reqwest::Client, system: &System, token: &str) -> anyhow::Result<Seeded> {
    let mut seeded = Seeded { token: Some(token.to_string()), ..Seeded::default() };
    let names = [
        ("Ada", "Lovelace"),
        ("<script>alert(1)</script>", "Markup"),
        ("Zoë", "Ünïcode 日本"),
        ("\"quoted\"", "O'Brien & Sons"),
        ("Grace", "Hopper"),
    ];
    let mut created = Vec::new();
    for i in 0..41 {
        let (first, last) = names[i % names.len()];
        let body = json!({"firstname": first, "lastname": format!("{last} {i}"), "email": format!("seed{i}@example.org")});
        let response = http.post(system.contacts.url("contacts")).json(&body).send().await?;
        let status = response.status();
        let contact: Value = response.json().await?;
        if status != reqwest::StatusCode::CREATED {
            bail!("POST /contacts answered {status}: {contact}");
        }
        created.push(text(&contact, "id")?);
    }
    // Some history in the feed besides creations.
    for id in created.iter().take(3) {
        http.put(system.contacts.url(&format!("contacts/{id}")))
            .json(&json!({"lastname": "Renamed"}))
            .send()
            .await?;
    }
    let removed = created.pop().context("contacts")?;
    http.delete(system.contacts.url(&format!("contacts/{removed}"))).send().await?;
    // 41 creations, 3 updates, 1 deletion in pages of 5 (FEED_PAGE_SIZE).
    seeded.archives = (1..=9).collect();
    seeded.doomed_contacts = created.split_off(30);
    seeded.contacts = created;

    // calendar learns about them from the feed.
    let deadline = Instant::now() + Duration::from_secs(90);
    let expected = seeded.contacts.len() + seeded.doomed_contacts.len();
    loop {
        let page: Value = http
            .get(system.calendar.url("users?limit=200"))
            .header("accept", "application/json")
            .send()
            .await?
            .json()
            .await?;
        let items = page["items"].as_array().cloned().unwrap_or_default();
        if items.len() == expected {
            // Users of contacts that contacts' fuzzing may delete are not offered to calendar's.
            seeded.users = seeded.contacts.clone();
            break;
        }
        if Instant::now() > deadline {
            bail!("calendar's replica has {} users of {expected} after 90 s", items.len());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut events = Vec::new();
    for (i, owner) in seeded.users.iter().take(12).enumerate() {
        let bodies = [
            json!({"title": format!("Party {i}"), "day": 24, "month": 12, "year": 2026}),
            json!({"title": "Review <b>", "start": "2026-03-02T10:00:00Z", "end": "2026-03-02T11:00:00Z",
                "description": "line one\nline two", "location": "Room 1"}),
        ];
        for body in bodies {
            let response =
                http.post(system.calendar.url(&format!("calendar/{owner}"))).json(&body).send().await?;
            let event: Value = response.json().await?;
            events.push(text(&event, "id")?);
        }
    }
    for (i, event) in events.iter().enumerate() {
        let guests =
            [format!("seed{}@example.org", (i + 10) % 30), format!("seed{}@example.org", (i + 11) % 30)];
        let response = http
            .post(system.calendar.url(&format!("event/{event}/participants")))
            .json(&guests)
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("inviting to {event} answered {}", response.status());
        }
    }
    seeded.doomed_events = events.split_off(12);
    seeded.events = events;
    for i in 0..10 {
        let body = if i % 2 == 0 {
            json!({"email": format!("job{i}@example.org"), "subject": "Seeded", "message": "Hello"})
        } else {
            json!({"recipients": [format!("job{i}@example.org"), "other@example.org"], "message": "Hello all"})
        };
        let response = http
            .post(system.notifications.url("notifications"))
            .bearer_auth(token)
            .header("idempotency-key", format!("seed-{i}"))
            .json(&body)
            .send()
            .await?;
        let job: Value = response.json().await?;
        seeded.jobs.push(text(&job, "id")?);
    }
    Ok(seeded)
}

fn text(value: &Value, field: &str) -> anyhow::Result<String> {
    value[field].as_str().map(str::to_string).with_context(|| format!("no {field} in {value}"))
}

/// The document with the seeded values offered for every path parameter: as the parameter's
/// example (schemathesis' example phase) and as one branch of its schema (its generators),
/// next to the schema as documented.
fn with_seeded_parameters(mut document: Value, service: &str, seeded: &Seeded, valid_bodies: bool) -> Value {
    let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) else { return document };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else { continue };
        for (method, operation) in item.iter_mut() {
            let Some(parameters) = operation.get_mut("parameters").and_then(Value::as_array_mut) else {
                continue;
            };
            for parameter in parameters.iter_mut().filter(|p| p["in"] == "path") {
                let name = parameter["name"].as_str().unwrap_or("").to_string();
                let values = seeded_values(service, method, path, &name, seeded);
                if values.is_empty() {
                    continue;
                }
                let documented = parameter.get("schema").cloned().unwrap_or(json!({}));
                parameter["example"] = values[0].clone();
                parameter["schema"] = json!({"anyOf": [{"enum": values}, documented]});
            }
        }
        if service == "calendar" && valid_bodies {
            for method in ["post", "put"] {
                if let Some(body) = item
                    .get_mut(method)
                    .and_then(|op| op.pointer_mut("/requestBody/content/application~1json/schema"))
                    .filter(|_| path == "/calendar/{userId}" || path == "/event/{id}")
                {
                    *body = json!({"anyOf": [valid_event(), body.clone()]});
                }
            }
        }
    }
    document
}

/// Events that calendar accepts. Its documented body lists every field as optional (it takes
/// three forms, checked by hand), so generated bodies are almost never complete; offering these
/// too makes the fuzzer create and change events, not only have them refused.
fn valid_event() -> Value {
    let title = json!({"type": "string", "minLength": 1, "maxLength": 60, "pattern": "^[A-Za-z0-9]+( [A-Za-z0-9]+)*$"});
    let text = json!({"type": "string", "maxLength": 200, "pattern": "^[A-Za-z0-9 <>&'\"]*$"});
    json!({"oneOf": [
        {"type": "object", "additionalProperties": false, "required": ["title", "date"],
            "properties": {"title": title, "date": {"enum": ["2026-12-24", "2027-02-28", "2028-02-29"]},
                "description": text, "location": text}},
        {"type": "object", "additionalProperties": false, "required": ["title", "start", "end"],
            "properties": {"title": title, "start": {"enum": ["2026-03-02T10:00:00Z"]},
                "end": {"enum": ["2026-03-02T11:00:00Z", "2026-03-03T09:30:00+01:00"]},
                "description": text, "location": text}},
        {"type": "object", "additionalProperties": false, "required": ["title", "day", "month", "year"],
            "properties": {"title": title, "day": {"type": "integer", "minimum": 1, "maximum": 28},
                "month": {"type": "integer", "minimum": 1, "maximum": 12},
                "year": {"type": "integer", "minimum": 1900, "maximum": 2999}}},
    ]})
}

fn seeded_values(service: &str, method: &str, path: &str, name: &str, seeded: &Seeded) -> Vec<Value> {
    let strings = |v: &[String]| v.iter().map(|s| Value::from(s.as_str())).collect();
    let deletes = method.eq_ignore_ascii_case("delete");
    match (service, name) {
        ("contacts", "id") if deletes => strings(&seeded.doomed_contacts),
        ("contacts", "id") => strings(&seeded.contacts),
        ("contacts", "page") => seeded.archives.iter().map(|n| Value::from(*n)).collect(),
        // The seeded events' participants (seed10 to seed22, see `seed`).
        ("calendar", "userId") if path.contains("/participants/") => {
            strings(seeded.users.get(10..23).unwrap_or(&seeded.users))
        }
        ("calendar", "userId") => {
            let mut values: Vec<Value> = strings(&seeded.users);
            values.extend(seeded.users.iter().take(3).map(|id| Value::from(format!("{id}.ics"))));
            values
        }
        ("calendar", "id") if deletes && path == "/event/{id}" => strings(&seeded.doomed_events),
        ("calendar", "id") if path.starts_with("/event/") => strings(&seeded.events),
        ("calendar", "id") if path.starts_with("/users/") => strings(&seeded.users),
        ("notifications", "id") => strings(&seeded.jobs),
        _ => Vec::new(),
    }
}
