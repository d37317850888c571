//! What every scenario shares: the binaries measured and the [`Bench`] that launches services
//! and collects the report.

use std::path::{Path, PathBuf};
use std::time::Duration;

use harness::process::{Output, ServiceProcess, ServiceSpec, free_port};

use super::options::{CpuMode, Options, SERVER_CPU};
use super::report::Report;
use super::wrk::LoadShape;

/// The binaries measured, from `target/release`.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub contacts: PathBuf,
    pub calendar: PathBuf,
    pub notifications: PathBuf,
    pub hello: PathBuf,
    pub drivers: PathBuf,
}

impl Binaries {
    pub fn release() -> Self {
        let bin = |name: &str| harness::binary(name, "release");
        Self {
            contacts: bin("contacts"),
            calendar: bin("calendar"),
            notifications: bin("notifications"),
            hello: bin("hello"),
            drivers: bin("drivers"),
        }
    }
}

/// Starting a launch: `spec.start()` reads like the launch it is.
pub trait Start {
    fn start(&self) -> impl std::future::Future<Output = anyhow::Result<ServiceProcess>>;
}

impl Start for ServiceSpec {
    async fn start(&self) -> anyhow::Result<ServiceProcess> {
        ServiceProcess::start(self.clone()).await
    }
}

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
    pub fn new(
        options: Options,
        shape: LoadShape,
        bin: Binaries,
        dir: PathBuf,
        client: reqwest::Client,
        report: Report,
    ) -> Self {
        Self { options, shape, bin, dir, client, report, counter: 0 }
    }

    /// `taskset -c` list for services.
    pub fn server_cpus(&self) -> Option<&'static str> {
        (self.options.cpus == CpuMode::Split).then_some(SERVER_CPU)
    }

    /// A launch of `binary` on a free port with JSON logs to its own file, pinned per the CPU
    /// mode, probed for readiness every millisecond.
    pub fn launch(&mut self, name: &str, binary: &Path) -> ServiceSpec {
        self.counter += 1;
        let log = self.dir.join(format!("{:02}-{name}.log", self.counter));
        let mut spec = ServiceSpec::new(name, binary.to_path_buf(), self.dir.clone())
            .output(Output::File(log))
            .cpus(self.server_cpus())
            .env("PORT", free_port().map(|p| p.to_string()).unwrap_or_else(|_| "0".into()));
        spec.ready_timeout = Duration::from_secs(60);
        spec.probe_interval = Duration::from_millis(1);
        spec
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
