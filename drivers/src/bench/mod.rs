//! `cargo xtask bench`: the benchmark harness.
//!
//! Builds the release binaries, starts them on loopback with fresh databases, loads them with
//! `wrk` and purpose-built clients, and writes `bench-results/results.md` and `results.json`.
//! The scenarios live in [`scenarios`]; the report in [`report`].
//!
//! `cargo xtask bench` builds and runs the release build of this crate, so the harness's own
//! clients (the SMTP server, the propagation poller) run optimised too. With `--cpus split` it
//! first moves itself onto the load CPU.

pub mod machine;
pub mod mail;
mod options;
mod report;
mod scenarios;
mod seed;
mod setup;
mod wrk;

use std::time::{Duration, Instant};

use anyhow::Context;

use harness::workspace_root;

use self::options::{BUILD_COMMAND, CpuMode, LOAD_CPU, Options};
use self::report::Report;
use self::setup::{Bench, Binaries};
use self::wrk::LoadShape;

pub use self::options::USAGE;

fn build() -> anyhow::Result<Duration> {
    let started = Instant::now();
    eprintln!("bench: {BUILD_COMMAND}");
    harness::build("release")?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = std::process::Command::new(cargo)
        .current_dir(workspace_root())
        .args(["build", "--release", "-p", "drivers"])
        .status()?;
    anyhow::ensure!(status.success(), "building the drivers failed ({status})");
    Ok(started.elapsed())
}

/// Set when the harness runs pinned to the load CPU (it re-ran itself under `taskset`).
const PINNED: &str = "BENCH_PINNED";

/// `cargo xtask bench ...`.
pub async fn main(args: &[String]) -> anyhow::Result<()> {
    let options = Options::parse(args)?;
    anyhow::ensure!(cfg!(target_os = "linux"), "the benchmark reads /proc and uses taskset: Linux only");
    anyhow::ensure!(
        !cfg!(debug_assertions),
        "this is a debug build of the benchmark: run it as `cargo xtask bench`, which builds and runs the release one"
    );
    let build_time = if options.build { Some(build()?) } else { None };
    if options.cpus == CpuMode::Split && std::env::var_os(PINNED).is_none() {
        // Run the harness itself (its clients, the propagation poller) on the load CPU.
        let me = Binaries::release().drivers;
        let mut command = std::process::Command::new("taskset");
        command.args(["-c", LOAD_CPU]).arg(&me).arg("bench").args(args).arg("--no-build").env(PINNED, "1");
        if let Some(t) = build_time {
            command.env("BENCH_BUILD_SECONDS", format!("{:.0}", t.as_secs_f64()));
        }
        let status = command.status().with_context(|| format!("cannot run {}", me.display()))?;
        anyhow::ensure!(status.success(), "the benchmark failed ({status})");
        return Ok(());
    }
    let build_seconds = build_time
        .map(|t| t.as_secs_f64())
        .or_else(|| std::env::var("BENCH_BUILD_SECONDS").ok().and_then(|s| s.parse().ok()));
    run(options, build_seconds).await
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
    let dir = std::env::temp_dir().join(format!("bench-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let mut report = Report::new(machine, &options, &shape, build_seconds);
    report.temp_dir = Some(dir.display().to_string());
    report.idle_wait_seconds = idle_wait.as_secs_f64();
    let mut bench = Bench::new(options, shape, bin, dir.clone(), seed::client()?, report);
    eprintln!("bench: working in {} (removed at the end)", dir.display());

    let result = scenarios::all(&mut bench).await;
    bench.report.finish(started.elapsed());
    if let Err(e) = &result {
        bench.note(format!("the run stopped early: {e:#}"));
    }
    let mut out = bench.options.out.clone();
    if out == options::committed_results() && !bench.report.measured_a_commit() {
        // Published figures name the commit they measured; a tree with uncommitted changes has
        // none, so its figures go elsewhere.
        out = harness::target_root().join("bench-results-uncommitted");
        eprintln!(
            "bench: the tree has uncommitted changes ({}), so the results go to {} instead of \
             bench-results/; commit and run again to publish them",
            bench.report.commit,
            out.display()
        );
    }
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
