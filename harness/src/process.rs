//! One service binary as a separate process.
//!
//! A service starts with a cleared environment (plus `PATH`) and the variables of its
//! [`ServiceSpec`], `LOG_FORMAT=json` unless told otherwise. Its output either goes through a
//! pipe, where the last [`MAX_KEPT_LINES`] lines are kept for the test to read (and optionally
//! echoed with a `[name]` prefix), or to a file, as under a process manager: the benchmark uses a
//! file, since a pipe drained by the harness would add the harness's own work to what a request
//! costs. Readiness is `GET /health/ready` answering `200`, probed with a minimal HTTP/1.1
//! request over a fresh connection, so nothing here needs an HTTP client library.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

/// Log lines kept per process when its output is piped (older ones are dropped).
pub const MAX_KEPT_LINES: usize = 200_000;

/// Where a service's stdout and stderr go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Through a pipe: kept in memory ([`ServiceProcess::logs`]); with `echo`, also printed
    /// with a `[name]` prefix.
    Pipe { echo: bool },
    /// Appended to this file.
    File(PathBuf),
}

/// How to start one service.
#[derive(Debug, Clone)]
pub struct ServiceSpec {
    /// Name used in log prefixes and messages (`contacts`).
    pub name: String,
    pub binary: PathBuf,
    /// Working directory (the default SQLite files go to `./data/` under it).
    pub workdir: PathBuf,
    /// Environment variables on top of a cleared environment (plus `PATH`).
    pub env: Vec<(String, String)>,
    pub output: Output,
    /// `taskset -c` CPU list to pin the process (and all its threads) to.
    pub cpus: Option<String>,
    /// How long to wait for `/health/ready`.
    pub ready_timeout: Duration,
    /// How often to ask: the benchmark asks every millisecond so start-up times are not
    /// rounded up to a slow poll.
    pub probe_interval: Duration,
}

impl ServiceSpec {
    pub fn new(name: impl Into<String>, binary: PathBuf, workdir: PathBuf) -> Self {
        Self {
            name: name.into(),
            binary,
            workdir,
            env: vec![("LOG_FORMAT".into(), "json".into())],
            output: Output::Pipe { echo: false },
            cpus: None,
            ready_timeout: Duration::from_secs(30),
            probe_interval: Duration::from_millis(10),
        }
    }

    /// Sets (or replaces) one environment variable.
    pub fn env(mut self, key: &str, value: impl Into<String>) -> Self {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_string(), value.into()));
        self
    }

    pub fn get_env(&self, key: &str) -> Option<&str> {
        self.env.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub fn output(mut self, output: Output) -> Self {
        self.output = output;
        self
    }

    pub fn cpus(mut self, cpus: Option<&str>) -> Self {
        self.cpus = cpus.map(str::to_string);
        self
    }

    /// The command line as a shell would show it (variables first), for reports.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = self.env.iter().map(|(k, v)| format!("{k}={}", shell_word(v))).collect();
        if let Some(cpus) = &self.cpus {
            parts.push(format!("taskset -c {cpus}"));
        }
        parts.push(relative_to_workspace(&self.binary));
        parts.join(" ")
    }
}

type Lines = Arc<Mutex<VecDeque<String>>>;

/// A started service process.
#[derive(Debug)]
pub struct ServiceProcess {
    spec: ServiceSpec,
    child: Option<Child>,
    lines: Lines,
    /// The port it listens on.
    pub port: u16,
    /// From just before spawning to the first `200` from `/health/ready` (the last start).
    pub started_to_ready: Option<Duration>,
}

impl ServiceProcess {
    /// Starts the binary and waits until it is ready. With `PORT=0` (or no `PORT`) the port is
    /// read from the service's "listening" log line (`"port":N` in the JSON logs; piped output
    /// only).
    pub async fn start(spec: ServiceSpec) -> anyhow::Result<Self> {
        let lines: Lines = Arc::new(Mutex::new(VecDeque::new()));
        let mut process = Self { spec, child: None, lines, port: 0, started_to_ready: None };
        process.launch().await?;
        Ok(process)
    }

    async fn launch(&mut self) -> anyhow::Result<()> {
        let started = Instant::now();
        self.child = Some(spawn(&self.spec, &self.lines)?);
        self.wait_until_ready().await?;
        self.started_to_ready = Some(started.elapsed());
        Ok(())
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    pub fn spec(&self) -> &ServiceSpec {
        &self.spec
    }

    /// The process id while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A URL on this service: `url("contacts")` → `http://127.0.0.1:<port>/contacts`.
    pub fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base(), path.trim_start_matches('/'))
    }

    /// The output lines so far (piped: the last [`MAX_KEPT_LINES`]; filed: the file's lines).
    pub fn logs(&self) -> Vec<String> {
        match &self.spec.output {
            Output::Pipe { .. } => self.lines.lock().map(|l| l.iter().cloned().collect()).unwrap_or_default(),
            Output::File(path) => std::fs::read_to_string(path)
                .map(|t| t.lines().map(str::to_string).collect())
                .unwrap_or_default(),
        }
    }

    /// Lines parsed as JSON (non-JSON lines are skipped).
    pub fn json_logs(&self) -> Vec<serde_json::Value> {
        self.logs().iter().filter_map(|l| serde_json::from_str(l).ok()).collect()
    }

    /// Resident memory now, in KiB (from `/proc`), while running.
    pub fn rss_kib(&self) -> Option<u64> {
        rss_kib(self.pid()?)
    }

    async fn wait_until_ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + self.spec.ready_timeout;
        let fixed_port = self.spec.get_env("PORT").and_then(|p| p.parse::<u16>().ok()).filter(|p| *p != 0);
        loop {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                bail!(
                    "{} exited during start-up ({status}); its output:\n{}",
                    self.spec.name,
                    self.output_tail()
                );
            }
            if self.port == 0 {
                self.port = fixed_port.or_else(|| listening_port(&self.logs())).unwrap_or(0);
            }
            if self.port != 0 && probe_ready(self.port).await {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "{} not ready within {:?}; its output:\n{}",
                    self.spec.name,
                    self.spec.ready_timeout,
                    self.output_tail()
                );
            }
            tokio::time::sleep(self.spec.probe_interval).await;
        }
    }

    fn output_tail(&self) -> String {
        let logs = self.logs();
        let tail = &logs[logs.len().saturating_sub(200)..];
        match &self.spec.output {
            Output::Pipe { .. } => tail.join("\n"),
            Output::File(path) => format!("{}\n(all of it in {})", tail.join("\n"), path.display()),
        }
    }

    /// Sends SIGTERM and waits (up to `grace`, then SIGKILL) for the exit status.
    pub async fn stop(&mut self, grace: Duration) -> anyhow::Result<ExitStatus> {
        self.terminate()?;
        self.wait_for_exit(grace).await
    }

    /// Sends SIGTERM and returns at once: the process shuts down while the caller goes on
    /// (for example to finish a request it has in flight); [`Self::wait_for_exit`] collects it.
    pub fn terminate(&mut self) -> anyhow::Result<()> {
        let child = self.child.as_ref().context("not running")?;
        let pid = child.id().context("already exited")?;
        kill(Pid::from_raw(pid as i32), Signal::SIGTERM).context("cannot send SIGTERM")?;
        Ok(())
    }

    /// Waits (up to `grace`, then SIGKILL) for the exit status of a process told to stop.
    pub async fn wait_for_exit(&mut self, grace: Duration) -> anyhow::Result<ExitStatus> {
        let mut child = self.child.take().context("not running")?;
        match tokio::time::timeout(grace, child.wait()).await {
            Ok(status) => Ok(status?),
            Err(_) => {
                child.start_kill()?;
                let status = child.wait().await?;
                bail!("{} did not stop within {grace:?} of SIGTERM and was killed ({status})", self.spec.name)
            }
        }
    }

    /// The exit status if the process has ended on its own, without being waited for.
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        self.child.as_mut().and_then(|c| c.try_wait().ok().flatten())
    }

    /// SIGKILL: the process dies at once, mid-whatever it was doing.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.start_kill()?;
            child.wait().await?;
        }
        Ok(())
    }

    /// Starts the same binary again with the same environment on the same port.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        if self.child.is_some() {
            bail!("{} is still running", self.spec.name);
        }
        self.spec = self.spec.clone().env("PORT", self.port.to_string());
        self.launch().await
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
    }
}

fn spawn(spec: &ServiceSpec, lines: &Lines) -> anyhow::Result<Child> {
    if !spec.binary.exists() {
        bail!("{} not found: build it first (cargo build -p {})", spec.binary.display(), spec.name);
    }
    let mut command = match &spec.cpus {
        Some(cpus) => {
            let mut command = Command::new("taskset");
            command.args(["-c", cpus]).arg(&spec.binary);
            command
        }
        None => Command::new(&spec.binary),
    };
    command
        .current_dir(&spec.workdir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .kill_on_drop(true);
    match &spec.output {
        Output::Pipe { .. } => {
            command.stdout(Stdio::piped()).stderr(Stdio::piped());
        }
        Output::File(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open {}", path.display()))?;
            command.stdout(file.try_clone()?).stderr(file);
        }
    }
    let mut child = command.spawn().with_context(|| format!("cannot start {}", spec.binary.display()))?;
    if let Output::Pipe { echo } = spec.output {
        let prefix = echo.then(|| format!("[{}] ", spec.name));
        if let Some(out) = child.stdout.take() {
            tokio::spawn(pump(out, lines.clone(), prefix.clone()));
        }
        if let Some(err) = child.stderr.take() {
            tokio::spawn(pump(err, lines.clone(), prefix));
        }
    }
    Ok(child)
}

async fn pump(stream: impl AsyncRead + Unpin, lines: Lines, echo_prefix: Option<String>) {
    let mut reader = BufReader::new(stream).lines();
    while let Ok(Some(line)) = reader.next_line().await {
        if let Some(prefix) = &echo_prefix {
            use std::io::Write;
            let _ = writeln!(std::io::stdout().lock(), "{prefix}{line}");
        }
        if let Ok(mut kept) = lines.lock() {
            if kept.len() == MAX_KEPT_LINES {
                kept.pop_front();
            }
            kept.push_back(line);
        }
    }
}

/// Whether `GET /health/ready` on 127.0.0.1:`port` answers `200` now (one short-lived
/// connection, at most 2 s).
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

/// A port that was free a moment ago.
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Resident memory of a process, in KiB (`VmRSS` in `/proc/<pid>/status`).
pub fn rss_kib(pid: u32) -> Option<u64> {
    proc_status_kib(pid, "VmRSS:")
}

/// Peak resident memory of a process, in KiB (`VmHWM`).
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    proc_status_kib(pid, "VmHWM:")
}

fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The port from the newest log line announcing that the service listens: a JSON line whose
/// message ends in "listening" with a numeric `port` field.
fn listening_port(lines: &[String]) -> Option<u16> {
    lines.iter().rev().find_map(|line| {
        let value: serde_json::Value = serde_json::from_str(line).ok()?;
        let message = value.get("message")?.as_str()?;
        if !message.ends_with("listening") {
            return None;
        }
        value.get("port")?.as_u64().and_then(|p| u16::try_from(p).ok())
    })
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
    let root = crate::workspace_root();
    path.strip_prefix(&root).unwrap_or(path).display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_port_comes_from_the_listening_line() {
        let lines = vec![
            r#"{"message":"starting","port":0}"#.to_string(),
            "not json".to_string(),
            r#"{"message":"contacts listening","port":41234,"url":"http://localhost:41234/"}"#.to_string(),
        ];
        assert_eq!(listening_port(&lines), Some(41234));
        assert_eq!(listening_port(&lines[..2]), None);
    }

    #[test]
    fn values_are_quoted_only_when_a_shell_needs_it() {
        assert_eq!(shell_word("sqlite:///tmp/a.db?mode=rwc"), "'sqlite:///tmp/a.db?mode=rwc'");
        assert_eq!(shell_word("json"), "json");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
    }

    #[test]
    fn this_process_has_a_resident_size() {
        assert!(rss_kib(std::process::id()).is_some_and(|k| k > 0));
        assert!(peak_rss_kib(std::process::id()).is_some_and(|k| k > 0));
    }
}
