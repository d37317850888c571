//! `cargo xtask bench`: the benchmark harness (issue 7).
//!
//! Builds the release binaries, starts them on loopback with fresh databases, loads them with
//! `wrk` and purpose-built clients, and writes `bench-results/results.md` and `results.json`.
//! The scenarios (numbered as in the issue) live in [`scenarios`]; the report in [`report`].
//!
//! When started from a debug build (as `cargo xtask` does), it builds everything in release and
//! hands over to the release build of itself, so the harness's own clients (the SMTP server,
//! the propagation poller) run optimised too.

pub mod machine;
pub mod mail;
mod process;
mod report;
mod scenarios;
mod seed;
mod wrk;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;

use xtask::workspace_root;

use self::process::Launch;
use self::report::Report;
use self::wrk::LoadShape;

pub const USAGE: &str = "usage: cargo xtask bench [--quick] [--duration SECS] [--repetitions N] [--warmup SECS] \
     [--connections N] [--cpus split|shared] [--only 1,2,...] [--events N] [--out DIR] [--wait-idle] [--no-build]";

/// How the CPUs are shared between the services and the load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CpuMode {
    /// Services on CPU 0, wrk and the harness on CPU 1: the split is explicit and stable.
    Split,
    /// No pinning: everything competes for every CPU.
    Shared,
}

#[derive(Debug, Clone, Serialize)]
pub struct Options {
    pub duration: Duration,
    pub repetitions: u32,
    pub warmup: Duration,
    pub connections: u32,
    pub cpus: CpuMode,
    /// Scenario numbers to run (all when empty). The ceiling always runs.
    pub only: BTreeSet<u32>,
    /// Events in scenario 5's feed.
    pub events: u64,
    pub out: PathBuf,
    pub wait_idle: bool,
    #[serde(skip)]
    pub build: bool,
    pub quick: bool,
}

impl Options {
    fn parse(args: &[String]) -> anyhow::Result<Self> {
        let mut o = Self {
            duration: Duration::from_secs(6),
            repetitions: 3,
            warmup: Duration::from_secs(2),
            connections: 32,
            cpus: CpuMode::Split,
            only: BTreeSet::new(),
            events: 1_000_000,
            out: workspace_root().join("bench-results"),
            wait_idle: false,
            build: true,
            quick: false,
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value = || it.next().cloned().with_context(|| format!("{arg} needs a value\n{USAGE}"));
            let secs = |v: String| -> anyhow::Result<Duration> { Ok(Duration::from_secs(v.parse()?)) };
            match arg.as_str() {
                "--quick" => {
                    o.quick = true;
                    o.duration = Duration::from_secs(3);
                    o.repetitions = 1;
                    o.warmup = Duration::from_secs(1);
                    o.events = 100_000;
                }
                "--duration" => o.duration = secs(value()?)?,
                "--repetitions" => o.repetitions = value()?.parse()?,
                "--warmup" => o.warmup = secs(value()?)?,
                "--connections" => o.connections = value()?.parse()?,
                "--cpus" => {
                    o.cpus = match value()?.as_str() {
                        "split" => CpuMode::Split,
                        "shared" => CpuMode::Shared,
                        other => bail!("--cpus: expected split or shared, got {other:?}"),
                    }
                }
                "--only" => {
                    o.only = value()?
                        .split(',')
                        .map(|n| {
                            n.trim()
                                .parse::<u32>()
                                .with_context(|| format!("--only: {n:?} is not a scenario number"))
                        })
                        .collect::<anyhow::Result<_>>()?
                }
                "--events" => o.events = value()?.parse()?,
                "--out" => o.out = PathBuf::from(value()?),
                "--wait-idle" => o.wait_idle = true,
                "--no-build" => o.build = false,
                other => bail!("unknown argument {other:?}\n{USAGE}"),
            }
        }
        anyhow::ensure!(
            o.repetitions >= 1 && o.connections >= 1,
            "--repetitions and --connections must be at least 1"
        );
        anyhow::ensure!(o.events >= 40_000, "--events: at least 40000 (two windows of 1000 archive pages)");
        Ok(o)
    }

    pub fn runs(&self, scenario: u32) -> bool {
        self.only.is_empty() || self.only.contains(&scenario)
    }
}

/// The binaries measured, from `target/release`.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub contacts: PathBuf,
    pub calendar: PathBuf,
    pub notifications: PathBuf,
    pub hello: PathBuf,
    pub xtask: PathBuf,
}

impl Binaries {
    fn release() -> Self {
        let bin = |name: &str| xtask::processes::binary(name, "release");
        Self {
            contacts: bin("contacts"),
            calendar: bin("calendar"),
            notifications: bin("notifications"),
            hello: bin("hello"),
            xtask: bin("xtask"),
        }
    }
}

/// The build step, exactly as run (and as printed in the results).
pub const BUILD_COMMAND: &str = "cargo build --release -p contacts -p calendar -p notifications -p xtask";

fn build() -> anyhow::Result<Duration> {
    let started = Instant::now();
    eprintln!("bench: {BUILD_COMMAND}");
    xtask::build("release", &["xtask"])?;
    Ok(started.elapsed())
}

/// `cargo xtask bench ...`.
pub async fn main(args: &[String]) -> anyhow::Result<()> {
    let options = Options::parse(args)?;
    anyhow::ensure!(cfg!(target_os = "linux"), "the benchmark reads /proc and uses taskset: Linux only");
    let build_time = if options.build { Some(build()?) } else { None };
    if cfg!(debug_assertions) {
        // Hand over to the optimised build of this harness.
        let release = Binaries::release().xtask;
        let mut command = match options.cpus {
            CpuMode::Split => {
                let mut c = std::process::Command::new("taskset");
                c.args(["-c", LOAD_CPU]).arg(&release);
                c
            }
            CpuMode::Shared => std::process::Command::new(&release),
        };
        command.arg("bench").args(args).arg("--no-build");
        if let Some(t) = build_time {
            command.env("BENCH_BUILD_SECONDS", format!("{:.0}", t.as_secs_f64()));
        }
        let status = command.status().with_context(|| format!("cannot run {}", release.display()))?;
        anyhow::ensure!(status.success(), "the benchmark failed ({status})");
        return Ok(());
    }
    let build_seconds = build_time
        .map(|t| t.as_secs_f64())
        .or_else(|| std::env::var("BENCH_BUILD_SECONDS").ok().and_then(|s| s.parse().ok()));
    run(options, build_seconds).await
}

/// CPU lists for `--cpus split`.
pub const SERVER_CPU: &str = "0";
pub const LOAD_CPU: &str = "1";

/// What every scenario shares.
#[derive(Debug)]
pub struct Bench {
    pub options: Options,
    pub shape: LoadShape,
    pub bin: Binaries,
    /// Temporary folder for databases, logs and scripts (removed at the end).
    pub dir: PathBuf,
    pub client: reqwest::Client,
    pub report: Report,
    counter: u32,
}

impl Bench {
    /// `taskset -c` list for services.
    pub fn server_cpus(&self) -> Option<&'static str> {
        (self.options.cpus == CpuMode::Split).then_some(SERVER_CPU)
    }

    /// A launch of `binary` with JSON logs to its own file, pinned per the CPU mode.
    pub fn launch(&mut self, name: &str, binary: &Path) -> Launch {
        self.counter += 1;
        let log = self.dir.join(format!("{:02}-{name}.log", self.counter));
        Launch::new(name, binary.to_path_buf(), &self.dir)
            .log_file(log)
            .cpus(self.server_cpus())
            .env("LOG_FORMAT", "json")
    }

    /// A fresh SQLite database URL in the temp folder.
    pub fn sqlite_url(&mut self, name: &str) -> String {
        self.counter += 1;
        let path = self.dir.join(format!("{:02}-{name}.db", self.counter));
        format!("sqlite://{}?mode=rwc", path.display())
    }

    pub fn note(&mut self, text: impl Into<String>) {
        let text = text.into();
        eprintln!("bench: {text}");
        self.report.notes.push(text);
    }

    pub fn command(&mut self, text: impl Into<String>) {
        self.report.commands.push(text.into());
    }
}

async fn run(options: Options, build_seconds: Option<f64>) -> anyhow::Result<()> {
    wrk::ensure_installed()?;
    let bin = Binaries::release();
    for path in [&bin.contacts, &bin.calendar, &bin.notifications, &bin.hello] {
        anyhow::ensure!(path.exists(), "{} is missing: run `{BUILD_COMMAND}`", path.display());
    }
    let waited = Instant::now();
    if options.wait_idle {
        wait_for_idle(1.5, Duration::from_secs(30 * 60)).await;
    }
    let idle_wait = waited.elapsed();
    let started = Instant::now();
    let machine = machine::Machine::read();
    let (threads, wrk_cpus) = match options.cpus {
        CpuMode::Split => (1, Some(LOAD_CPU.to_string())),
        CpuMode::Shared => (2, None),
    };
    let shape = LoadShape {
        connections: options.connections,
        threads,
        warmup: options.warmup,
        duration: options.duration,
        repetitions: options.repetitions,
        cpus: wrk_cpus,
    };
    let dir = std::env::temp_dir().join(format!("xtask-bench-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let mut report = Report::new(machine, &options, &shape, build_seconds);
    report.temp_dir = Some(dir.display().to_string());
    report.idle_wait_seconds = idle_wait.as_secs_f64();
    let mut bench =
        Bench { options, shape, bin, dir: dir.clone(), client: seed::client()?, report, counter: 0 };
    eprintln!("bench: working in {} (removed at the end)", dir.display());

    let result = scenarios::all(&mut bench).await;
    bench.report.finish(started.elapsed());
    if let Err(e) = &result {
        bench.note(format!("the run stopped early: {e:#}"));
    }
    let out = bench.options.out.clone();
    bench.report.write(&out)?;
    eprintln!("bench: wrote {}/results.md and results.json", out.display());
    if result.is_ok() {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        eprintln!("bench: logs kept in {}", dir.display());
    }
    result
}

/// Waits until the 1-minute load average drops below `threshold` (other people's builds), at
/// most `max`.
async fn wait_for_idle(threshold: f64, max: Duration) {
    let deadline = Instant::now() + max;
    loop {
        let load = machine::load_average();
        if load[0] < threshold {
            eprintln!("bench: load average {:.2}, starting", load[0]);
            return;
        }
        if Instant::now() > deadline {
            eprintln!("bench: load average still {:.2} after {max:?}; starting anyway", load[0]);
            return;
        }
        eprintln!("bench: load average {:.2} ≥ {threshold}: waiting", load[0]);
        tokio::time::sleep(Duration::from_secs(15)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn options_parse_and_bad_ones_are_refused() {
        let o = Options::parse(&args(&["--only", "1, 5", "--cpus", "shared", "--duration", "4"])).unwrap();
        assert!(o.runs(1) && o.runs(5) && !o.runs(2));
        assert_eq!(o.cpus, CpuMode::Shared);
        assert_eq!(o.duration, Duration::from_secs(4));
        assert!(Options::parse(&args(&["--cpus", "both"])).is_err());
        assert!(Options::parse(&args(&["--only", "x"])).is_err());
        assert!(Options::parse(&args(&["--frobnicate"])).is_err());
    }
}
