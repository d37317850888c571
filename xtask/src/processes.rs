//! Starting, watching and stopping the real service binaries as separate processes.
//!
//! Used by the launcher (`cargo xtask up`), the end-to-end tests and the benchmark, so all three
//! exercise exactly the binaries that ship. A service is started with `LOG_FORMAT=json` (unless
//! told otherwise); its stdout lines are kept (the last [`MAX_KEPT_LINES`]) and optionally echoed
//! with a `[name]` prefix. Readiness is `GET /health/ready` answering `200`.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use url::Url;

/// Log lines kept per process (older ones are dropped).
pub const MAX_KEPT_LINES: usize = 200_000;

/// The folder the workspace's binaries are built into (`target/debug` or `target/release`),
/// found from the running executable, or `CARGO_TARGET_DIR`.
pub fn target_dir(profile: &str) -> PathBuf {
    if let Ok(dir) = std::env::var("CARGO_TARGET_DIR") {
        return PathBuf::from(dir).join(profile);
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap_or(Path::new("."));
    workspace.join("target").join(profile)
}

/// Path of a workspace binary in the given profile.
pub fn binary(name: &str, profile: &str) -> PathBuf {
    target_dir(profile).join(name)
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
    /// Echo each stdout/stderr line with a `[name]` prefix.
    pub echo: bool,
    /// How long to wait for `/health/ready`.
    pub ready_timeout: Duration,
}

impl ServiceSpec {
    pub fn new(name: impl Into<String>, binary: PathBuf, workdir: PathBuf) -> Self {
        Self {
            name: name.into(),
            binary,
            workdir,
            env: vec![("LOG_FORMAT".into(), "json".into())],
            echo: false,
            ready_timeout: Duration::from_secs(30),
        }
    }

    /// Sets (or replaces) one environment variable.
    pub fn env(mut self, key: &str, value: impl Into<String>) -> Self {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_string(), value.into()));
        self
    }

    fn get_env(&self, key: &str) -> Option<&str> {
        self.env.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
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
    /// `http://127.0.0.1:<port>/`.
    pub base_url: Url,
}

impl ServiceProcess {
    /// Starts the binary and waits until it is ready. With `PORT=0` (or no `PORT`) the port is
    /// read from the service's "listening" log line (`"port":N` in the JSON logs).
    pub async fn start(spec: ServiceSpec) -> anyhow::Result<Self> {
        let lines: Lines = Arc::new(Mutex::new(VecDeque::new()));
        let child = spawn(&spec, &lines)?;
        let mut process = Self { spec, child: Some(child), lines, port: 0, base_url: localhost(0) };
        process.wait_until_ready().await?;
        Ok(process)
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

    /// A URL on this service: `url("contacts")` → `http://127.0.0.1:<port>/contacts`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{}", self.port, path.trim_start_matches('/'))
    }

    /// The stdout/stderr lines so far (the last [`MAX_KEPT_LINES`]).
    pub fn logs(&self) -> Vec<String> {
        self.lines.lock().map(|l| l.iter().cloned().collect()).unwrap_or_default()
    }

    /// Lines parsed as JSON (non-JSON lines are skipped).
    pub fn json_logs(&self) -> Vec<serde_json::Value> {
        self.logs().iter().filter_map(|l| serde_json::from_str(l).ok()).collect()
    }

    async fn wait_until_ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + self.spec.ready_timeout;
        let fixed_port = self.spec.get_env("PORT").and_then(|p| p.parse::<u16>().ok()).filter(|p| *p != 0);
        let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(2)).build()?;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                bail!(
                    "{} exited during start-up ({status}); its output:\n{}",
                    self.spec.name,
                    self.logs().join("\n")
                );
            }
            if self.port == 0 {
                self.port = fixed_port.or_else(|| listening_port(&self.logs())).unwrap_or(0);
                self.base_url = localhost(self.port);
            }
            if self.port != 0 {
                let ready = client.get(self.url("health/ready")).send().await;
                if matches!(ready, Ok(ref r) if r.status().is_success()) {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                bail!(
                    "{} not ready within {:?}; its output:\n{}",
                    self.spec.name,
                    self.spec.ready_timeout,
                    self.logs().join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Sends SIGTERM and waits (up to `grace`, then SIGKILL) for the exit status.
    pub async fn stop(&mut self, grace: Duration) -> anyhow::Result<ExitStatus> {
        let mut child = self.child.take().context("not running")?;
        if let Some(pid) = child.id() {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGTERM);
        }
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
        let spec = self.spec.clone().env("PORT", self.port.to_string());
        self.child = Some(spawn(&spec, &self.lines)?);
        self.wait_until_ready().await
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
    }
}

fn localhost(port: u16) -> Url {
    Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap_or_else(|_| unreachable!("a valid URL"))
}

fn spawn(spec: &ServiceSpec, lines: &Lines) -> anyhow::Result<Child> {
    if !spec.binary.exists() {
        bail!("{} not found: build it first (cargo build -p {})", spec.binary.display(), spec.name);
    }
    let mut command = Command::new(&spec.binary);
    command
        .current_dir(&spec.workdir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().with_context(|| format!("cannot start {}", spec.binary.display()))?;
    let prefix = spec.echo.then(|| format!("[{}] ", spec.name));
    if let Some(out) = child.stdout.take() {
        tokio::spawn(pump(out, lines.clone(), prefix.clone()));
    }
    if let Some(err) = child.stderr.take() {
        tokio::spawn(pump(err, lines.clone(), prefix));
    }
    Ok(child)
}

async fn pump(stream: impl AsyncRead + Unpin, lines: Lines, echo_prefix: Option<String>) {
    let mut reader = BufReader::new(stream).lines();
    while let Ok(Some(line)) = reader.next_line().await {
        if let Some(prefix) = &echo_prefix {
            println!("{prefix}{line}");
        }
        if let Ok(mut kept) = lines.lock() {
            if kept.len() == MAX_KEPT_LINES {
                kept.pop_front();
            }
            kept.push_back(line);
        }
    }
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
}
