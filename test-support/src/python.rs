//! Third-party readers of our output, run from the repository: the Python scripts in
//! `test-support/python/` (expat and feedparser for Atom; icalendar, vobject and
//! recurring-ical-events for iCalendar), in a virtual environment of their own that is created
//! under `target/` on first use from the pinned `requirements.txt`.
//!
//! A test that cannot run its tool (no `python3`, no network for the first install) fails under
//! `CI=true`; elsewhere it says loudly that it skipped the check and passes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// The folder holding the scripts and `requirements.txt`.
fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("python")
}

/// What a script printed, and whether it accepted its input.
#[derive(Debug, Clone)]
pub struct CheckOutput {
    /// Exit status 0: every reader accepted the document.
    pub accepted: bool,
    /// The script's report (it prints one JSON object).
    pub report: serde_json::Value,
    pub stderr: String,
}

/// One environment per version of the requirements, so a changed pin installs afresh.
fn venv_dir() -> PathBuf {
    let requirements = std::fs::read(scripts().join("requirements.txt")).unwrap_or_default();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in requirements {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    target_dir().join(format!("check-venv-{:012x}", hash & 0xffff_ffff_ffff))
}

/// `CARGO_TARGET_DIR`, or the `target/` folder the running test binary sits in.
fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| {
            exe.ancestors().find(|p| p.file_name().is_some_and(|n| n == "target")).map(Path::to_path_buf)
        })
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

/// Tests of one binary share one install.
static INSTALL: Mutex<()> = Mutex::new(());

/// The environment's interpreter, installing it if needed; `Err` says why it cannot be had.
fn interpreter() -> Result<PathBuf, String> {
    let _one_at_a_time = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    let venv = venv_dir();
    let python = venv.join("bin/python");
    if python.is_file() {
        return Ok(python);
    }
    // Built beside the final place and renamed into it, so another test binary never sees a
    // half-installed environment (the environment runs from anywhere through bin/python).
    let building = venv.with_extension(format!("building-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&building);
    eprintln!("test_support::python: installing the check tools into {}", venv.display());
    run(Command::new("python3").arg("-m").arg("venv").arg(&building))?;
    run(Command::new(building.join("bin/python"))
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input", "-r"])
        .arg(scripts().join("requirements.txt")))?;
    if std::fs::rename(&building, &venv).is_err() {
        // Another process finished first: use its environment.
        let _ = std::fs::remove_dir_all(&building);
    }
    if python.is_file() { Ok(python) } else { Err(format!("no interpreter at {}", python.display())) }
}

fn run(command: &mut Command) -> Result<(), String> {
    let output = command.output().map_err(|e| format!("{command:?}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!("{command:?} failed: {}", String::from_utf8_lossy(&output.stderr)))
    }
}

/// Runs `script` (a file in `test-support/python/`) on `document`. `None` when the tools cannot
/// be had outside CI (after saying so on stderr); under `CI=true` that panics instead.
pub fn check(script: &str, document: &[u8]) -> Option<CheckOutput> {
    let python = match interpreter() {
        Ok(python) => python,
        Err(why) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true and the check tools for {script} cannot be installed: {why}")
        }
        Err(why) => {
            eprintln!(
                "\n!!! SKIPPED the {script} check: the Python check tools cannot be installed ({why})\n"
            );
            return None;
        }
    };
    let mut file = tempfile_in_target(script);
    file.1.write_all(document).expect("write the document to check");
    drop(file.1);
    let output =
        Command::new(python).arg(scripts().join(script)).arg(&file.0).output().expect("run the check script");
    let _ = std::fs::remove_file(&file.0);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!("{script} printed no JSON report ({e}): {stdout}\n{}", String::from_utf8_lossy(&output.stderr))
    });
    Some(CheckOutput {
        accepted: output.status.success(),
        report,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

fn tempfile_in_target(script: &str) -> (PathBuf, std::fs::File) {
    let dir = std::env::temp_dir().join("test-support-checks");
    std::fs::create_dir_all(&dir).expect("temp folder for checks");
    let path = dir.join(format!("{}-{}.in", script.trim_end_matches(".py"), uuid::Uuid::new_v4().simple()));
    let file = std::fs::File::create(&path).expect("create the document file");
    (path, file)
}

/// Checks an Atom document with expat and feedparser (`atom_check.py`).
pub fn atom_check(document: &[u8]) -> Option<CheckOutput> {
    check("atom_check.py", document)
}

/// Reads an iCalendar document with icalendar, vobject and recurring-ical-events (`ics_check.py`).
pub fn ics_check(document: &[u8]) -> Option<CheckOutput> {
    check("ics_check.py", document)
}

/// Reads an e-mail with Python's `email` package and its iMIP `text/calendar` part with icalendar
/// and vobject (`imip_check.py`).
pub fn imip_check(message: &[u8]) -> Option<CheckOutput> {
    check("imip_check.py", message)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Installs the tools (CI runs this first, as `.ci/check-tools.sh`) and shows each reader
    /// can tell a good document from a broken one, so a test relying on them can fail.
    #[test]
    fn the_readers_accept_good_documents_and_refuse_broken_ones() {
        let feed = br#"<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><id>urn:x</id><title>t</title><updated>2026-01-01T00:00:00Z</updated><entry><id>urn:e</id><title>e</title><updated>2026-01-01T00:00:00Z</updated><content type="application/json">{"a":1}</content></entry></feed>"#;
        let Some(good) = atom_check(feed) else { return };
        assert!(good.accepted, "{}", good.report);
        assert_eq!(good.report["entries"][0]["content"], "{\"a\":1}");
        let broken = String::from_utf8_lossy(feed).replace("<title>t</title>", "<title>t\u{FFFE}</title>");
        let bad = atom_check(broken.as_bytes()).unwrap();
        assert!(!bad.accepted, "U+FFFE is no XML character: {}", bad.report);

        let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;VALUE=DATE:20261224\r\nSUMMARY:a\\, b\\; c\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let good = ics_check(ics.as_bytes()).unwrap();
        assert!(good.accepted, "{}", good.report);
        assert_eq!(good.report["icalendar"]["events"][0]["summary"], "a, b; c");
        assert_eq!(good.report["vobject"]["events"][0]["summary"], "a, b; c");
        let bad = ics_check(ics.replace("END:VCALENDAR\r\n", "").as_bytes()).unwrap();
        assert!(!bad.accepted, "an unterminated calendar: {}", bad.report);
    }
}
