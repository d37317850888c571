//! Starting the measured binaries for the benchmark.
//!
//! Unlike [`xtask::processes`] (which the launcher and the end-to-end tests use, and which reads
//! the services' output through a pipe), a benchmarked service writes its log lines to a file,
//! as it would under a process manager: one log line per request is part of what a request
//! costs, and a pipe drained by this harness would add the harness's own work to the
//! measurement. The port is chosen here and passed in `PORT`; readiness is `GET /health/ready`
//! answering `200`, probed with a minimal HTTP/1.1 request every millisecond so start-up times
//! are not rounded up to a slow poll.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

/// How to start one binary.
#[derive(Debug, Clone)]
pub struct Launch {
    pub name: String,
    pub binary: PathBuf,
    pub env: Vec<(String, String)>,
    /// `taskset -c` CPU list to pin the process (and all its threads) to.
    pub cpus: Option<String>,
    /// Where its stdout and stderr go.
    pub log: PathBuf,
    pub ready_timeout: Duration,
}

impl Launch {
    pub fn new(name: &str, binary: PathBuf, log_dir: &Path) -> Self {
        Self {
            name: name.to_string(),
            binary,
            env: Vec::new(),
            cpus: None,
            log: log_dir.join(format!("{name}.log")),
            ready_timeout: Duration::from_secs(60),
        }
    }

    pub fn env(mut self, key: &str, value: impl Into<String>) -> Self {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_string(), value.into()));
        self
    }

    pub fn cpus(mut self, cpus: Option<&str>) -> Self {
        self.cpus = cpus.map(str::to_string);
        self
    }

    pub fn log_file(mut self, path: PathBuf) -> Self {
        self.log = path;
        self
    }

    /// The command line as a shell would show it (variables first), for the report.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = self.env.iter().map(|(k, v)| format!("{k}={}", shell_word(v))).collect();
        if let Some(cpus) = &self.cpus {
            parts.push(format!("taskset -c {cpus}"));
        }
        parts.push(relative_to_workspace(&self.binary));
        parts.join(" ")
    }

    /// Starts the binary on a free port and waits until it is ready.
    pub async fn start(&self) -> anyhow::Result<Service> {
        let port = free_port()?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("cannot open {}", self.log.display()))?;
        let mut command = match &self.cpus {
            Some(cpus) => {
                let mut c = Command::new("taskset");
                c.args(["-c", cpus]).arg(&self.binary);
                c
            }
            None => Command::new(&self.binary),
        };
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        let started = Instant::now();
        let child = command.spawn().with_context(|| format!("cannot start {}", self.binary.display()))?;
        let mut service =
            Service { name: self.name.clone(), child: Some(child), port, started_to_ready: None };
        let deadline = started + self.ready_timeout;
        loop {
            if let Some(status) = service.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                bail!("{} exited during start-up ({status}); see {}", self.name, self.log.display());
            }
            if probe_ready(port).await {
                service.started_to_ready = Some(started.elapsed());
                return Ok(service);
            }
            if Instant::now() > deadline {
                bail!("{} not ready within {:?}; see {}", self.name, self.ready_timeout, self.log.display());
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

/// A running binary.
#[derive(Debug)]
pub struct Service {
    pub name: String,
    child: Option<Child>,
    pub port: u16,
    /// From just before spawning to the first `200` from `/health/ready`.
    pub started_to_ready: Option<Duration>,
}

impl Service {
    pub fn pid(&self) -> u32 {
        self.child.as_ref().and_then(Child::id).unwrap_or(0)
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base(), path.trim_start_matches('/'))
    }

    /// Resident memory now, in KiB.
    pub fn rss_kib(&self) -> u64 {
        super::machine::rss_kib(self.pid()).unwrap_or(0)
    }

    /// SIGTERM, then SIGKILL if it has not exited after `grace`.
    pub async fn stop(mut self, grace: Duration) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else { return Ok(()) };
        if let Some(pid) = child.id() {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGTERM);
        }
        match tokio::time::timeout(grace, child.wait()).await {
            Ok(status) => {
                status?;
                Ok(())
            }
            Err(_) => {
                child.start_kill()?;
                child.wait().await?;
                bail!("{} did not stop within {grace:?} of SIGTERM and was killed", self.name)
            }
        }
    }
}

/// A port that was free a moment ago.
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Whether `GET /health/ready` answers `200` now (one short-lived connection).
pub async fn probe_ready(port: u16) -> bool {
    let attempt = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        stream.set_nodelay(true)?;
        stream
            .write_all(b"GET /health/ready HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .await?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).await?;
        std::io::Result::Ok(head.starts_with(b"HTTP/1.1 200"))
    };
    matches!(tokio::time::timeout(Duration::from_secs(2), attempt).await, Ok(Ok(true)))
}

fn shell_word(value: &str) -> String {
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./:=,@%+".contains(&b)) {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', "'\\''"))
    }
}

/// `target/release/contacts` rather than an absolute path that names this checkout.
pub fn relative_to_workspace(path: &Path) -> String {
    let root = super::workspace_root();
    path.strip_prefix(&root).unwrap_or(path).display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_quoted_only_when_a_shell_needs_it() {
        assert_eq!(shell_word("sqlite:///tmp/a.db?mode=rwc"), "'sqlite:///tmp/a.db?mode=rwc'");
        assert_eq!(shell_word("json"), "json");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
    }
}
