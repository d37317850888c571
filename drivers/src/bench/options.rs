//! The benchmark's options (`cargo xtask bench --help`) and the constants its report quotes.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use harness::workspace_root;
use serde::Serialize;

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

/// Where the published results live (`bench-results/`, committed with the code).
pub fn committed_results() -> PathBuf {
    workspace_root().join("bench-results")
}

impl Options {
    pub fn parse(args: &[String]) -> anyhow::Result<Self> {
        let mut o = Self {
            duration: Duration::from_secs(6),
            repetitions: 3,
            warmup: Duration::from_secs(2),
            connections: 32,
            cpus: CpuMode::Split,
            only: BTreeSet::new(),
            events: 1_000_000,
            out: committed_results(),
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

/// The build step, exactly as run (and as printed in the results): the services, then this
/// crate's binaries (`cargo xtask bench` built them already; cargo finds nothing to do).
pub const BUILD_COMMAND: &str = "cargo build --release && cargo build --release -p drivers";

/// CPU lists for `--cpus split`.
pub const SERVER_CPU: &str = "0";
pub const LOAD_CPU: &str = "1";
