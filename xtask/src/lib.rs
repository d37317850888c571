#![allow(clippy::print_stdout)] // a developer tool: printing to the terminal is its job

//! Developer tasks that run the real binaries together (`cargo xtask <command>`), and the process
//! supervision they share with the end-to-end tests.

pub mod processes;
pub mod soak;
pub mod system;

use std::path::{Path, PathBuf};

/// The workspace's root folder.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap_or(Path::new(".")).to_path_buf()
}

/// Builds the three services, and `extra` packages, with the cargo that runs us, in the
/// `release` or the dev profile.
pub fn build(profile: &str, extra: &[&str]) -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = std::process::Command::new(cargo);
    command.current_dir(workspace_root()).arg("build");
    if profile == "release" {
        command.arg("--release");
    }
    for package in ["contacts", "calendar", "notifications"].iter().chain(extra) {
        command.args(["-p", package]);
    }
    let status = command.status()?;
    anyhow::ensure!(status.success(), "building the services failed ({status})");
    Ok(())
}
