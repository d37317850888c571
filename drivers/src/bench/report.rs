//! The results: collected while the scenarios run, compared with the targets of issue 7, and
//! written as `results.json` (everything, for machines) and `results.md` (the tables).

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use super::machine::{Machine, load_average};
use super::mail::ClientRun;
use super::options::{CpuMode, Options};
use super::wrk::{LoadShape, Measured};

#[derive(Debug, Serialize)]
pub struct Report {
    pub date: String,
    pub commit: String,
    pub machine: Machine,
    pub load_before: [f64; 3],
    pub load_after: [f64; 3],
    pub options: Options,
    pub load_shape: LoadShape,
    pub build_seconds: Option<f64>,
    pub run_seconds: f64,
    /// Time spent waiting for the load average to drop (`--wait-idle`), not in `run_seconds`.
    pub idle_wait_seconds: f64,
    pub ceiling_rps: Option<f64>,
    pub http: Vec<HttpRow>,
    pub propagation: Option<Propagation>,
    pub deliveries: Vec<Delivery>,
    pub smtp_capacity: Vec<ClientRun>,
    pub memory: Vec<MemoryRow>,
    pub startup: Vec<StartupRow>,
    pub targets: Vec<Target>,
    pub commands: Vec<String>,
    pub notes: Vec<String>,
    /// The run's temporary folder, shown as `$BENCH_DIR`.
    #[serde(skip)]
    pub temp_dir: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct HttpRow {
    pub scenario: String,
    pub name: String,
    pub setup: String,
    pub read: bool,
    pub measured: Measured,
    pub ratio_to_ceiling: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Propagation {
    pub contacts: usize,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// The `POST /contacts` part alone (until its `201`).
    pub post_p50_ms: f64,
    /// Polls of calendar's `GET /users/{id}` in all, at most one a millisecond.
    pub polls: u64,
}

/// The value at `q` (0..=1) of sorted samples, nearest rank.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn sorted_ms(samples: &[Duration]) -> Vec<f64> {
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    ms
}

impl Propagation {
    pub fn new(delays: &[Duration], posts: &[Duration], polls: u64) -> Self {
        let ms = sorted_ms(delays);
        let post = sorted_ms(posts);
        Self {
            contacts: ms.len(),
            p50_ms: percentile(&ms, 0.5),
            p90_ms: percentile(&ms, 0.9),
            p99_ms: percentile(&ms, 0.99),
            max_ms: ms.last().copied().unwrap_or(0.0),
            post_p50_ms: percentile(&post, 0.5),
            polls,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub smtp_max_concurrency: usize,
    pub jobs: usize,
    /// Until every `POST /notifications` was answered.
    pub post_seconds: f64,
    /// From the first `POST` until the SMTP server had accepted every message.
    pub seconds: f64,
    pub emails_per_s: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct MemoryRow {
    pub process: String,
    /// Idle after start (0: not measured).
    pub idle_kib: u64,
    pub loaded_kib: Option<u64>,
    pub loaded_after: String,
}

impl MemoryRow {
    pub fn new(process: &str, idle_kib: u64, loaded_kib: Option<u64>, after: &str) -> Self {
        Self { process: process.into(), idle_kib, loaded_kib, loaded_after: after.into() }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct StartupRow {
    pub binary: String,
    pub samples_ms: Vec<f64>,
    pub median_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
}

impl StartupRow {
    pub fn new(binary: &str, samples: &[Duration]) -> Self {
        let ms = sorted_ms(samples);
        // The median of an even count: the mean of the two middle values.
        let median = match ms.len() {
            0 => 0.0,
            n if n % 2 == 0 => (ms[n / 2 - 1] + ms[n / 2]) / 2.0,
            n => ms[n / 2],
        };
        Self {
            binary: binary.into(),
            samples_ms: samples.iter().map(|d| (d.as_secs_f64() * 1e5).round() / 100.0).collect(),
            median_ms: median,
            min_ms: ms.first().copied().unwrap_or(0.0),
            max_ms: ms.last().copied().unwrap_or(0.0),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Met,
    Missed,
    #[serde(rename = "not run")]
    NotRun,
}

#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub what: String,
    pub target: String,
    pub measured: String,
    pub verdict: Verdict,
}

impl Report {
    pub fn new(machine: Machine, options: &Options, shape: &LoadShape, build_seconds: Option<f64>) -> Self {
        Self {
            date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
            commit: commit(),
            machine,
            load_before: load_average(),
            load_after: [0.0; 3],
            options: options.clone(),
            load_shape: shape.clone(),
            build_seconds,
            run_seconds: 0.0,
            idle_wait_seconds: 0.0,
            ceiling_rps: None,
            http: Vec::new(),
            propagation: None,
            deliveries: Vec::new(),
            smtp_capacity: Vec::new(),
            memory: Vec::new(),
            startup: Vec::new(),
            targets: Vec::new(),
            commands: Vec::new(),
            notes: Vec::new(),
            temp_dir: None,
        }
    }

    pub fn finish(&mut self, elapsed: Duration) {
        self.load_after = load_average();
        self.run_seconds = elapsed.as_secs_f64();
    }

    /// Sets the ceiling to the higher of its measurements and every read's ratio to it.
    pub fn rebase_ratios(&mut self) {
        let ceiling = self
            .http
            .iter()
            .filter(|r| r.scenario.starts_with("ceiling"))
            .map(|r| r.measured.median().requests_per_s)
            .fold(0.0, f64::max);
        if ceiling <= 0.0 {
            return;
        }
        self.ceiling_rps = Some(ceiling);
        for row in self.http.iter_mut().filter(|r| r.read && !r.scenario.starts_with("ceiling")) {
            row.ratio_to_ceiling = Some(row.measured.median().requests_per_s / ceiling);
        }
    }

    fn row(&self, scenario: &str) -> Option<&HttpRow> {
        self.http.iter().find(|r| r.scenario == scenario)
    }

    /// Compares the figures with the targets table of issue 7.
    pub fn evaluate_targets(&mut self) {
        let mut targets = Vec::new();
        let mut push = |what: &str, target: &str, measured: Option<(String, bool)>| {
            let (measured, verdict) = match measured {
                Some((text, met)) => (text, if met { Verdict::Met } else { Verdict::Missed }),
                None => ("not run".to_string(), Verdict::NotRun),
            };
            targets.push(Target { what: what.into(), target: target.into(), measured, verdict });
        };
        let rps = |r: &HttpRow| r.measured.median().requests_per_s;
        let by_cpu = |r: &HttpRow| {
            self.cpu_ratio(r).map(|x| format!("; by CPU {:.0}%", x * 100.0)).unwrap_or_default()
        };
        let ratio = |r: &HttpRow| r.ratio_to_ceiling.unwrap_or(0.0);

        push(
            "`GET /contacts/{id}`",
            "≥ 50% of the bare-axum ceiling",
            self.row("1").map(|r| {
                (format!("{:.0}% ({:.0} req/s){}", ratio(r) * 100.0, rps(r), by_cpu(r)), ratio(r) >= 0.5)
            }),
        );
        push(
            "`POST /contacts`",
            "≥ 5,000/s durable on SQLite",
            self.row("2").map(|r| (format!("{:.0}/s", rps(r)), rps(r) >= 5000.0)),
        );
        push(
            "`GET /feed` (full document)",
            "≥ 20,000 req/s",
            self.row("3").map(|r| (format!("{:.0} req/s", rps(r)), rps(r) >= 20_000.0)),
        );
        push(
            "`GET /feed` → `304`",
            "≥ 70% of the ceiling",
            self.row("4").map(|r| {
                (format!("{:.0}% ({:.0} req/s){}", ratio(r) * 100.0, rps(r), by_cpu(r)), ratio(r) >= 0.7)
            }),
        );
        let archive = match (self.row("5 (first pages)"), self.row("5 (last pages)")) {
            (Some(first), Some(last)) => {
                let (a, z) = (first.measured.median(), last.measured.median());
                // "The same" within 20% (or 0.1 ms, below which loopback noise dominates).
                let same = |x: f64, y: f64| (x - y).abs() <= 0.2 * x.max(y) || (x - y).abs() <= 0.1;
                let met = same(a.latency_ms.p50, z.latency_ms.p50)
                    && same(a.requests_per_s / 1000.0, z.requests_per_s / 1000.0);
                Some((
                    format!(
                        "p50 {:.2} ms vs {:.2} ms first pages; {:.0} vs {:.0} req/s",
                        z.latency_ms.p50, a.latency_ms.p50, z.requests_per_s, a.requests_per_s
                    ),
                    met,
                ))
            }
            _ => None,
        };
        push("archive page deep in 10^6 events", "same latency as page 1", archive);
        for name in ["contacts", "calendar", "notifications"] {
            let row = self.memory.iter().find(|m| m.process == name && m.idle_kib > 0);
            push(
                &format!("idle RSS, {name}"),
                "≤ 15 MB",
                row.map(|m| (format!("{:.1} MB", mb(m.idle_kib)), mb(m.idle_kib) <= 15.0)),
            );
        }
        for name in ["contacts", "calendar", "notifications"] {
            let row = self.startup.iter().find(|s| s.binary == name);
            push(
                &format!("start to ready, {name}"),
                "≤ 100 ms",
                row.map(|s| {
                    (
                        format!("{:.1} ms (median of {})", s.median_ms, s.samples_ms.len()),
                        s.median_ms <= 100.0,
                    )
                }),
            );
        }
        push(
            "contact → calendar propagation",
            "p50 ≤ 20 ms",
            self.propagation
                .as_ref()
                .map(|p| (format!("p50 {:.1} ms, p99 {:.1} ms", p.p50_ms, p.p99_ms), p.p50_ms <= 20.0)),
        );
        let server_limit = self.smtp_capacity.iter().map(|c| c.messages_per_s).fold(0.0, f64::max);
        let best = self.deliveries.iter().max_by(|a, b| a.emails_per_s.total_cmp(&b.emails_per_s));
        push(
            "e-mails delivered",
            "≥ 1,000/s, or the SMTP server's own limit",
            best.map(|d| {
                (
                    format!(
                        "{:.0}/s (SMTP_MAX_CONCURRENCY={}); the SMTP server alone takes {:.0}/s",
                        d.emails_per_s, d.smtp_max_concurrency, server_limit
                    ),
                    d.emails_per_s >= 1000.0 || (server_limit > 0.0 && d.emails_per_s >= 0.9 * server_limit),
                )
            }),
        );
        self.targets = targets;

        // Say which figures other people's work on the machine may have lowered.
        let disturbed: Vec<String> = self
            .http
            .iter()
            .filter_map(|r| {
                let run = r.measured.median();
                let other = run.cpu.other_s / run.seconds.max(1e-9);
                (other > 0.2).then(|| format!("{} ({other:.2} cores)", r.scenario))
            })
            .collect();
        if !disturbed.is_empty() {
            self.notes.push(format!(
                "other processes used more than a fifth of a core during the reported run of: {}; those figures are \
                 likely lower than on a quiet machine",
                disturbed.join(", ")
            ));
        }
    }

    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir)?;
        let mut json = serde_json::to_string_pretty(self)? + "\n";
        if let Some(temp) = &self.temp_dir {
            json = json.replace(temp.as_str(), "$BENCH_DIR");
        }
        std::fs::write(dir.join("results.json"), json)?;
        std::fs::write(dir.join("results.md"), self.markdown())?;
        Ok(())
    }

    fn markdown(&self) -> String {
        let mut md = String::new();
        let m = &self.machine;
        let _ = writeln!(md, "# Benchmark results\n");
        let _ = writeln!(
            md,
            "`cargo xtask bench` on {}, commit `{}`; the measurements took {:.1} min{}{}.\n",
            self.date,
            self.commit,
            self.run_seconds / 60.0,
            if self.idle_wait_seconds >= 1.0 {
                format!(
                    " (after waiting {:.1} min for the machine to quieten)",
                    self.idle_wait_seconds / 60.0
                )
            } else {
                String::new()
            },
            self.build_seconds.map(|b| format!(" after a {:.1} min build", b / 60.0)).unwrap_or_default()
        );
        let _ = writeln!(md, "## Machine\n");
        let _ = writeln!(
            md,
            "- {} — {} cores{}, {:.1} GiB RAM\n- {}, Linux {}, {}",
            m.cpu_model,
            m.cores,
            m.virtualization.as_deref().map(|v| format!(" ({v} virtual machine)")).unwrap_or_default(),
            m.memory_gib,
            m.os,
            m.kernel,
            m.rustc
        );
        let _ = writeln!(
            md,
            "- load average (1/5/15 min) before the run {:.2} / {:.2} / {:.2}, after {:.2} / {:.2} / {:.2}; the machine is shared, \
             so every run also records the CPU time used by other processes (the \"cores\" column)",
            self.load_before[0],
            self.load_before[1],
            self.load_before[2],
            self.load_after[0],
            self.load_after[1],
            self.load_after[2]
        );
        let s = &self.load_shape;
        let split = match self.options.cpus {
            CpuMode::Split => format!(
                "services pinned to CPU {} (`taskset`), wrk (1 thread) and this harness to CPU {}: the server gets one core, the load generator the other",
                super::options::SERVER_CPU,
                super::options::LOAD_CPU
            ),
            CpuMode::Shared => {
                "no pinning: services, wrk (2 threads) and this harness share both cores".to_string()
            }
        };
        let _ = writeln!(
            md,
            "- {split}\n- wrk: {} connections, {} s warm-up, then {} × {} s; the run with the median throughput is reported \
             (closed loop: latencies are those of {} connections kept busy)\n- services as shipped: release build, default \
             settings, `LOG_FORMAT=json` with the default `RUST_LOG=info` (one log line per request, to a file)\n",
            s.connections,
            s.warmup.as_secs(),
            s.repetitions,
            s.duration.as_secs(),
            s.connections
        );

        let _ = writeln!(md, "## HTTP scenarios\n");
        let _ = writeln!(
            md,
            "| # | request | req/s | p50 ms | p99 ms | vs ceiling | service CPU µs/req | vs ceiling by CPU | req/s of each run | cores: service / wrk / other | setup |\n\
             | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |"
        );
        for r in &self.http {
            let run = r.measured.median();
            let wall: f64 = run.seconds.max(1e-9);
            let _ = writeln!(
                md,
                "| {} | `{}` | {:.0} | {:.2} | {:.2} | {} | {:.1} | {} | {} | {:.2} / {:.2} / {:.2} | {} |",
                r.scenario,
                r.name,
                run.requests_per_s,
                run.latency_ms.p50,
                run.latency_ms.p99,
                r.ratio_to_ceiling.map(|x| format!("{:.0}%", x * 100.0)).unwrap_or_else(|| "—".into()),
                run.server_cpu_us_per_request,
                self.cpu_ratio(r).map(|x| format!("{:.0}%", x * 100.0)).unwrap_or_else(|| "—".into()),
                runs_text(&r.measured),
                run.cpu.server_s / wall,
                run.cpu.load_s / wall,
                run.cpu.other_s / wall,
                r.setup
            );
        }
        let _ = writeln!(
            md,
            "\n\"service CPU µs/req\": the service process's CPU time (all threads, user and kernel) during the run divided by \
             the requests. \"vs ceiling by CPU\": the bare server's CPU per request divided by this one's, the throughput \
             ratio when both are bound by their one core; it hardly depends on what else runs on the machine. \"cores\": \
             CPU time per second of the run used by the service, by wrk, and by every other process on the machine (this \
             harness excluded); with the split, 1.00 is a whole core. When other processes took more than {:.1} of a core \
             during a run, up to {} more runs were made and the least disturbed kept (the others in brackets; all in \
             results.json); not for PostgreSQL, whose server is one of the other processes.\n",
            super::wrk::DISTURBED,
            super::wrk::RETRIES
        );
        self.where_the_time_goes(&mut md);

        if let Some(p) = &self.propagation {
            let _ = writeln!(md, "## Contact → calendar propagation (7)\n");
            let _ = writeln!(
                md,
                "`POST /contacts` at contacts until calendar's `GET /users/{{id}}` answers `200`, one contact at a time, {} contacts \
                 (a first one, not counted, waits for the feed follower's first poll). Calendar long-polls the feed \
                 (`Prefer: wait`); the harness polls calendar every millisecond on a kept-alive connection ({} polls in all).\n",
                p.contacts, p.polls
            );
            let _ = writeln!(
                md,
                "| p50 ms | p90 ms | p99 ms | max ms | of which `POST` (p50) ms |\n| ---: | ---: | ---: | ---: | ---: |\n| {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |\n",
                p.p50_ms, p.p90_ms, p.p99_ms, p.max_ms, p.post_p50_ms
            );
        }

        if !self.deliveries.is_empty() || !self.smtp_capacity.is_empty() {
            let _ = writeln!(md, "## E-mail delivery (8)\n");
            let _ = writeln!(
                md,
                "Jobs accepted per second: row 8 above. Delivery: N jobs posted to a fresh notifications (32 requests at a time), \
                 timed from the first `POST` until the SMTP server (the workspace's test SMTP server, in this harness) had \
                 accepted a message for every job; then each job's recipient checked to have got exactly one message, its own (by subject), and nobody else any.\n"
            );
            let _ = writeln!(
                md,
                "| `SMTP_MAX_CONCURRENCY` | jobs | all posted after s | all delivered after s | e-mails/s |\n| ---: | ---: | ---: | ---: | ---: |"
            );
            for d in &self.deliveries {
                let _ = writeln!(
                    md,
                    "| {} | {} | {:.2} | {:.2} | {:.0} |",
                    d.smtp_max_concurrency, d.jobs, d.post_seconds, d.seconds, d.emails_per_s
                );
            }
            let _ = writeln!(
                md,
                "\nThe same SMTP server alone, driven by `drivers bench-smtp-client` (a separate process where the services run): \
                 `raw` is a minimal client with `TCP_NODELAY` that writes each message and its final dot at once (the server's \
                 own capacity); `lettre` is lettre 0.11.23's own pooled transport, which leaves Nagle on (notifications uses lettre \
                 over connections it opens itself with `TCP_NODELAY`).\n"
            );
            let _ = writeln!(
                md,
                "| client | connections | messages | messages/s |\n| --- | ---: | ---: | ---: |"
            );
            for c in &self.smtp_capacity {
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {:.0} |",
                    c.client, c.connections, c.messages, c.messages_per_s
                );
            }
            let _ = writeln!(md);
        }

        if !self.memory.is_empty() {
            let _ = writeln!(md, "## Resident memory (9)\n");
            let _ = writeln!(
                md,
                "`VmRSS` from `/proc/<pid>/status`, 2 s after start (idle) and 2 s after the load.\n"
            );
            let _ = writeln!(md, "| process | idle MB | after load MB | load |\n| --- | ---: | ---: | --- |");
            for r in &self.memory {
                let idle = if r.idle_kib > 0 { format!("{:.1}", mb(r.idle_kib)) } else { "—".into() };
                let loaded = r.loaded_kib.map(|k| format!("{:.1}", mb(k))).unwrap_or_else(|| "—".into());
                let _ = writeln!(md, "| {} | {idle} | {loaded} | {} |", r.process, r.loaded_after);
            }
            let _ = writeln!(md);
        }

        if !self.startup.is_empty() {
            let _ = writeln!(md, "## Start-up (10)\n");
            let _ = writeln!(
                md,
                "From spawning the process to the first `200` of `GET /health/ready` (probed every millisecond), with a fresh \
                 SQLite database each time (so migrations run), {} starts each.\n",
                self.startup.first().map(|s| s.samples_ms.len()).unwrap_or(0)
            );
            let _ = writeln!(md, "| binary | median ms | min ms | max ms |\n| --- | ---: | ---: | ---: |");
            for s in &self.startup {
                let _ =
                    writeln!(md, "| {} | {:.1} | {:.1} | {:.1} |", s.binary, s.median_ms, s.min_ms, s.max_ms);
            }
            let _ = writeln!(md);
        }

        let _ = writeln!(md, "## Targets (issue 7)\n");
        let _ = writeln!(md, "| what | target | measured | |\n| --- | --- | --- | --- |");
        for t in &self.targets {
            let verdict = match t.verdict {
                Verdict::Met => "met",
                Verdict::Missed => "**missed**",
                Verdict::NotRun => "not run",
            };
            let _ = writeln!(md, "| {} | {} | {} | {verdict} |", t.what, t.target, t.measured);
        }
        let _ = writeln!(md);

        if !self.notes.is_empty() {
            let _ = writeln!(md, "## Notes\n");
            for n in &self.notes {
                let _ = writeln!(md, "- {n}");
            }
            let _ = writeln!(md);
        }

        let _ = writeln!(md, "## Commands\n");
        let _ = writeln!(
            md,
            "`$BENCH_DIR` is the run's temporary folder (databases, logs, generated wrk scripts: `drivers/bench/*.lua` with \
             the harness's values in front). Ports are free ports picked per run; `PORT` is set for every service.\n\n```sh"
        );
        if self.build_seconds.is_some() {
            let _ = writeln!(md, "{}", super::options::BUILD_COMMAND);
        }
        for c in &self.commands {
            let _ = writeln!(md, "{c}");
        }
        let mut wrk_lines: Vec<&str> = self.http.iter().map(|r| r.measured.command.as_str()).collect();
        wrk_lines.dedup();
        let _ = writeln!(md, "# load");
        for line in wrk_lines {
            let _ = writeln!(md, "{line}");
        }
        let _ = writeln!(md, "```");
        match &self.temp_dir {
            Some(dir) => md.replace(dir.as_str(), "$BENCH_DIR"),
            None => md,
        }
    }
}

impl Report {
    /// The per-request CPU of the reference rows side by side: the kernel and HTTP/1 floor (the
    /// ceiling), the shared middleware, the request log line, the handler.
    fn where_the_time_goes(&self, md: &mut String) {
        let us = |id: &str| self.row(id).map(|r| r.measured.median().server_cpu_us_per_request);
        let (Some(hello), Some(get), Some(get_quiet)) = (us("ceiling"), us("1"), us("1 (no log)")) else {
            return;
        };
        let _ = writeln!(md, "### Where the time goes\n");
        let _ = writeln!(
            md,
            "Service CPU per request, from the rows above: the bare axum server needs {hello:.1} µs (almost all of it the \
             kernel's loopback TCP work and hyper). `GET /contacts/{{id}}` needs {get:.1} µs; without its request log line \
             {get_quiet:.1} µs, so the log line costs {:.1} µs and the shared middleware plus the handler {:.1} µs.",
            get - get_quiet,
            get_quiet - hello
        );
        if let (Some(not_modified), Some(quiet)) = (us("4"), us("4 (no log)")) {
            let _ = writeln!(
                md,
                "The `304` needs {not_modified:.1} µs, {quiet:.1} µs without the log line: {:.1} µs for the log line, \
                 {:.1} µs for middleware and handler.",
                not_modified - quiet,
                quiet - hello
            );
        }
        let _ = writeln!(md);
    }
}

impl Report {
    /// The best (lowest) CPU per request of the ceiling runs over this row's.
    fn cpu_ratio(&self, row: &HttpRow) -> Option<f64> {
        if !row.read || row.scenario.starts_with("ceiling") {
            return None;
        }
        let ceiling = self
            .http
            .iter()
            .filter(|r| r.scenario.starts_with("ceiling"))
            .map(|r| r.measured.median().server_cpu_us_per_request)
            .fold(f64::INFINITY, f64::min);
        let own = row.measured.median().server_cpu_us_per_request;
        (ceiling.is_finite() && own > 0.0).then(|| ceiling / own)
    }
}

fn runs_text(measured: &super::wrk::Measured) -> String {
    let mut text = measured.all_rps().iter().map(|x| format!("{x:.0}")).collect::<Vec<_>>().join(", ");
    if !measured.discarded.is_empty() {
        let repeated: Vec<String> =
            measured.discarded.iter().map(|r| format!("{:.0}", r.requests_per_s)).collect();
        text.push_str(&format!(" [{}]", repeated.join(", ")));
    }
    text
}

fn mb(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn commit() -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(harness::workspace_root())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let hash = git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    if dirty { format!("{hash}{DIRTY}") } else { hash }
}

/// Marks a commit in the report whose tree had uncommitted changes when the bench ran.
pub const DIRTY: &str = " (with uncommitted changes)";

impl Report {
    /// Whether the measured code is a commit (the tree had no uncommitted changes).
    pub fn measured_a_commit(&self) -> bool {
        !self.commit.ends_with(DIRTY) && self.commit != "unknown"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let samples: Vec<f64> = (1..=200).map(f64::from).collect();
        assert_eq!(percentile(&samples, 0.5), 100.0);
        assert_eq!(percentile(&samples, 0.99), 198.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        let row = StartupRow::new(
            "x",
            &[
                Duration::from_millis(30),
                Duration::from_millis(10),
                Duration::from_millis(20),
                Duration::from_millis(40),
            ],
        );
        assert_eq!(row.median_ms, 25.0);
        assert_eq!(row.min_ms, 10.0);
    }
}

#[cfg(test)]
mod published {
    use std::process::Command;

    /// `bench-results/` holds figures of code that is in the history: the commit the report
    /// names had no uncommitted changes and is this checkout's HEAD or an ancestor of it.
    #[test]
    fn the_published_results_measured_a_commit_of_this_history() {
        let path = crate::bench::options::committed_results().join("results.json");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let report: serde_json::Value = serde_json::from_str(&text).expect("results.json is JSON");
        let commit = report["commit"].as_str().expect("results.json names a commit");
        assert!(!commit.ends_with(super::DIRTY), "bench-results/ holds figures of a dirty tree: {commit}");
        let root = harness::workspace_root();
        let git = Command::new("git")
            .args(["merge-base", "--is-ancestor", commit, "HEAD"])
            .current_dir(&root)
            .output();
        match git {
            Ok(out) if out.status.success() => {}
            Ok(out) if out.status.code() == Some(1) => {
                panic!("bench-results/ names commit {commit}, which is not an ancestor of HEAD")
            }
            other => {
                let why = match other {
                    Ok(out) => String::from_utf8_lossy(&out.stderr).trim().to_string(),
                    Err(e) => e.to_string(),
                };
                // Without git (a source tarball) or with a shallow clone the history cannot be
                // asked; CI has both, so there this fails.
                assert!(
                    std::env::var_os("CI").is_none(),
                    "cannot check bench-results/' commit {commit} against the history: {why}"
                );
                eprintln!("SKIPPED: cannot check bench-results/' commit {commit} against the history: {why}");
            }
        }
    }
}
