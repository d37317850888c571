//! Starts a service binary that should refuse to start, and reads how it refused.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How a process ended: its exit code and what it wrote to stderr.
#[derive(Debug)]
pub struct Refusal {
    pub code: Option<i32>,
    pub stderr: String,
    pub took: Duration,
}

impl Refusal {
    /// Asserts the expected start-up failure: the exit code, and one line on stderr (no
    /// backtrace, even with `RUST_BACKTRACE=1`) holding every one of `words`.
    pub fn assert(&self, code: i32, words: &[&str]) {
        assert_eq!(self.code, Some(code), "exit code; stderr: {}", self.stderr);
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one line on stderr, got: {}", self.stderr);
        for word in words {
            assert!(lines[0].contains(word), "{word:?} missing from {:?}", lines[0]);
        }
    }
}

/// Runs `binary` in a fresh temporary folder (so a default SQLite file lands there) with `vars`
/// added to the environment and `RUST_BACKTRACE=1`, and waits at most 30 s for it to end.
///
/// # Panics
/// When the binary cannot be started or is still running after 30 s (it did not refuse).
pub fn refusal(binary: &str, vars: &[(&str, &str)]) -> Refusal {
    let dir = crate::TempDir::new("svc-start");
    let started = Instant::now();
    let mut child = Command::new(binary)
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .env("RUST_BACKTRACE", "1")
        .envs(vars.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the binary");
    loop {
        if child.try_wait().expect("wait").is_some() {
            let output = child.wait_with_output().expect("output");
            return Refusal {
                code: output.status.code(),
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
                took: started.elapsed(),
            };
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("{binary} with {vars:?} was still running after 30 s instead of refusing to start");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
