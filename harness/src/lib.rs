//! Running the real service binaries: one launcher for the launcher (`cargo xtask up`), the
//! end-to-end tests (`system-tests`) and the benchmark (`drivers`), so all of them exercise
//! exactly the binaries that ship.
//!
//! - [`process`]: one service process: start it with a clean environment, wait for
//!   `/health/ready`, keep or file its log lines, stop it with SIGTERM, kill it, restart it.
//! - [`system`]: the three services wired together as in production.
//!
//! The dependencies are kept to a handful of small crates: `cargo xtask up` compiles this crate
//! (in the dev profile) before it can start anything.

pub mod process;
pub mod system;

use std::path::{Path, PathBuf};

/// The three services, in start order for [`system::System`] (calendar last: it follows the
/// other two).
pub const SERVICES: [&str; 3] = ["contacts", "calendar", "notifications"];

/// The workspace's root folder (where `Cargo.toml` and `target/` are).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap_or(Path::new(".")).to_path_buf()
}

/// `target/` of the workspace, or `CARGO_TARGET_DIR`.
pub fn target_root() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace_root().join("target"))
}

/// The folder a profile's binaries are built into (`target/debug`, `target/release`).
pub fn target_dir(profile: &str) -> PathBuf {
    target_root().join(profile)
}

/// Path of a workspace binary in the given profile.
pub fn binary(name: &str, profile: &str) -> PathBuf {
    target_dir(profile).join(name)
}

/// Builds what ships (the workspace's default members: the three services and the image's
/// health check) with the cargo that runs us, in the `release` or the dev profile, with cargo's
/// progress on the terminal. It is the same command as a plain `cargo build [--release]`, so
/// after one of those it has nothing to do.
pub fn build(profile: &str) -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = std::process::Command::new(cargo);
    command.current_dir(workspace_root()).arg("build");
    if profile == "release" {
        command.arg("--release");
    }
    let status = command.status()?;
    anyhow::ensure!(status.success(), "building the services failed ({status})");
    Ok(())
}

/// A random token (256 bits from the operating system, as 64 hex digits).
pub fn generate_token() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 32];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if let Err(e) = read {
        // Nothing here can run without it; say so plainly.
        panic!("cannot read /dev/urandom for a token: {e}");
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_hex() {
        let (a, b) = (generate_token(), generate_token());
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
