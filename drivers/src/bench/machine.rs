//! What the benchmark ran on, how busy the machine was, and where the CPU time went.
//!
//! The machine is shared: besides the load average, every measured run records the CPU time of
//! the server, of the load generator, and of everything else on the machine (from `/proc/stat`
//! minus the first two and this process), so a run disturbed by someone's compile shows it.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

/// The machine, read once at the start.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpu_model: String,
    pub cores: usize,
    pub memory_gib: f64,
    pub kernel: String,
    pub os: String,
    pub rustc: String,
    pub virtualization: Option<String>,
}

impl Machine {
    pub fn read() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, v)| v.trim()))
            .unwrap_or("unknown")
            .to_string();
        let memory_kib = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| m.lines().find_map(|l| l.strip_prefix("MemTotal:").map(kib)))
            .unwrap_or(0);
        let os = std::fs::read_to_string("/etc/os-release")
            .ok()
            .and_then(|o| {
                o.lines()
                    .find_map(|l| l.strip_prefix("PRETTY_NAME=").map(|v| v.trim_matches('"').to_string()))
            })
            .unwrap_or_else(|| "unknown".into());
        Self {
            cpu_model,
            cores: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).max(online_cpus()),
            memory_gib: (memory_kib as f64 / 1024.0 / 1024.0 * 10.0).round() / 10.0,
            kernel: command_output("uname", &["-r"]).unwrap_or_else(|| "unknown".into()),
            os,
            rustc: command_output("rustc", &["--version"]).unwrap_or_else(|| "unknown".into()),
            virtualization: command_output("systemd-detect-virt", &["--vm"]).filter(|v| v != "none"),
        }
    }
}

fn online_cpus() -> usize {
    std::fs::read_to_string("/proc/cpuinfo")
        .map(|c| c.lines().filter(|l| l.starts_with("processor")).count())
        .unwrap_or(1)
}

fn kib(rest: &str) -> u64 {
    rest.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(0)
}

fn command_output(program: &str, args: &[&str]) -> Option<String> {
    let output = std::process::Command::new(program).args(args).output().ok()?;
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// The 1-, 5- and 15-minute load averages.
pub fn load_average() -> [f64; 3] {
    let raw = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut values = raw.split_whitespace().map(|v| v.parse().unwrap_or(0.0));
    [values.next().unwrap_or(0.0), values.next().unwrap_or(0.0), values.next().unwrap_or(0.0)]
}

/// Clock ticks per second of `/proc` CPU times (`USER_HZ`; 100 on Linux everywhere).
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU time of a process (all its threads) so far.
pub fn process_cpu(pid: u32) -> Duration {
    process_cpu_at(format!("/proc/{pid}/stat"))
}

/// CPU time of this process so far.
pub fn own_cpu() -> Duration {
    process_cpu_at("/proc/self/stat")
}

fn process_cpu_at(path: impl AsRef<Path>) -> Duration {
    let Ok(stat) = std::fs::read_to_string(path) else { return Duration::ZERO };
    // The command name in parentheses may contain spaces: count fields after the last ')'.
    let Some((_, rest)) = stat.rsplit_once(')') else { return Duration::ZERO };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of stat(5) (utime, stime) are the 12th and 13th after the name.
    let ticks: u64 =
        fields.get(11..13).map(|f| f.iter().filter_map(|v| v.parse::<u64>().ok()).sum()).unwrap_or(0);
    Duration::from_secs_f64(ticks as f64 / TICKS_PER_SECOND)
}

/// Busy CPU time of the whole machine so far (every core; idle and I/O wait excluded).
pub fn machine_busy() -> Duration {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) else { return Duration::ZERO };
    let values: Vec<u64> = line.split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user)
    let busy: u64 = [0, 1, 2, 5, 6, 7].iter().filter_map(|&i| values.get(i)).sum();
    Duration::from_secs_f64(busy as f64 / TICKS_PER_SECOND)
}

/// CPU time of this process's children that have ended and been waited for.
pub fn children_cpu() -> Duration {
    use nix::sys::resource::{UsageWho, getrusage};
    match getrusage(UsageWho::RUSAGE_CHILDREN) {
        Ok(usage) => {
            let tv = |t: nix::sys::time::TimeVal| {
                Duration::from_secs(t.tv_sec().max(0) as u64)
                    + Duration::from_micros(t.tv_usec().max(0) as u64)
            };
            tv(usage.user_time()) + tv(usage.system_time())
        }
        Err(_) => Duration::ZERO,
    }
}

/// A snapshot to measure CPU use between two points.
#[derive(Debug, Clone)]
pub struct CpuMark {
    machine: Duration,
    servers: Duration,
    own: Duration,
    children: Duration,
    pids: Vec<u32>,
}

/// CPU seconds used between two marks, split by who used them.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct CpuUse {
    /// The measured service process(es).
    pub server_s: f64,
    /// The load generator (ended children of this process: wrk).
    pub load_s: f64,
    /// This harness itself.
    pub harness_s: f64,
    /// Everything else on the machine (other users, PostgreSQL, the kernel's own threads).
    pub other_s: f64,
}

impl CpuMark {
    pub fn now(server_pids: &[u32]) -> Self {
        Self {
            machine: machine_busy(),
            servers: server_pids.iter().map(|&p| process_cpu(p)).sum(),
            own: own_cpu(),
            children: children_cpu(),
            pids: server_pids.to_vec(),
        }
    }

    pub fn since(&self) -> CpuUse {
        let later = Self::now(&self.pids);
        let secs = |a: Duration, b: Duration| a.saturating_sub(b).as_secs_f64();
        let server_s = secs(later.servers, self.servers);
        let load_s = secs(later.children, self.children);
        let harness_s = secs(later.own, self.own);
        let machine_s = secs(later.machine, self.machine);
        CpuUse { server_s, load_s, harness_s, other_s: (machine_s - server_s - load_s - harness_s).max(0.0) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_a_cpu_time_and_a_resident_size() {
        // CPU time is counted in 10 ms ticks: spin until one is counted.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while own_cpu() == Duration::ZERO && std::time::Instant::now() < deadline {
            std::hint::black_box((0..10_000u64).sum::<u64>());
        }
        assert!(own_cpu() > Duration::ZERO);
        assert!(machine_busy() > Duration::ZERO);
    }
}
