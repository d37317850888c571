#![allow(clippy::print_stdout)] // a developer tool: printing to the terminal is its job

//! `cargo xtask <command>`: the project's command-line front end (`cargo xtask help` lists the
//! commands). It stays small, so that `cargo xtask up` is ready seconds after a build: the
//! heavy drivers (benchmark, fuzzing) are a crate of their own (`drivers/`) that the commands
//! here build and run, and the long soak and chaos runs are the system tests themselves, run
//! longer.

use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::Duration;

use harness::system::{System, SystemSpec};
use harness::{generate_token, workspace_root};

mod chaos;

const USAGE: &str = "usage: cargo xtask <command> [options]

commands:
  up [--release]     build the three services and run them together on ports 3000, 3002, 3003
                     (SQLite under ./data/, e-mails in notifications' mailbox); Ctrl-C stops them
  bench [options]    the benchmark table (release build; `cargo xtask bench --help`)
  fuzz [options]     schemathesis against every JSON endpoint of the real binaries (`--help`)
  soak [options]     steady mixed load for N minutes against the release binaries (`--help`)
  chaos [options]    mixed workload while services are SIGKILLed at random (`--help`)
  help               this list";

const SOAK_USAGE: &str = "usage: cargo xtask soak [--minutes N] [--rate REQUESTS_PER_SEC] [--debug]

Builds the services (release unless --debug) and runs the soak system test
(a_steady_mixed_load_has_no_errors_and_flat_memory) for N minutes (default 10) at the given rate
(default 40 requests/s); it prints per minute: requests, errors, p50/p99 latency and each
service's RSS, and fails when any request failed, when not everything was delivered afterwards,
or when a service's RSS grew after the warm-up (the first two minutes; one for runs under four)
by more than max(10 %, 8 MiB). Uses PostgreSQL when TEST_DATABASE_URL is set.";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = args.get(1..).unwrap_or_default();
    let result = match args.first().map(String::as_str) {
        Some("up") => up(rest).await,
        Some("bench") => bench(rest),
        Some("fuzz") => cargo(&["run", "-p", "drivers", "--bin", "drivers", "--", "fuzz"], rest, &[]),
        Some("soak") => soak(rest),
        Some("chaos") => chaos::main(rest),
        Some("help" | "--help" | "-h") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(other) => {
            eprintln!("cargo xtask: unknown command {other:?}\n\n{USAGE}");
            return ExitCode::from(2);
        }
        None => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `cargo <args> <rest>` in the workspace with extra environment variables.
fn cargo(args: &[&str], rest: &[String], env: &[(&str, String)]) -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(workspace_root())
        .args(args)
        .args(rest)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .status()?;
    anyhow::ensure!(status.success(), "cargo {} failed ({status})", args.join(" "));
    Ok(())
}

/// The benchmark runs optimised, harness included: build the drivers in release, then run them.
fn bench(args: &[String]) -> anyhow::Result<()> {
    cargo(&["build", "--release", "-p", "drivers"], &[], &[])?;
    let drivers = harness::binary("drivers", "release");
    let status = Command::new(&drivers).current_dir(workspace_root()).arg("bench").args(args).status()?;
    anyhow::ensure!(status.success(), "the benchmark failed ({status})");
    Ok(())
}

fn soak(args: &[String]) -> anyhow::Result<()> {
    let mut minutes: u64 = 10;
    let mut rate: f64 = 40.0;
    let mut profile = "release";
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        match flag.as_str() {
            "--help" | "-h" => {
                println!("{SOAK_USAGE}");
                return Ok(());
            }
            "--minutes" => {
                minutes = rest.next().and_then(|v| v.parse().ok()).filter(|m| *m > 0).ok_or_else(|| {
                    anyhow::anyhow!("--minutes takes a whole number of minutes above 0\n{SOAK_USAGE}")
                })?
            }
            "--rate" => {
                rate =
                    rest.next().and_then(|v| v.parse().ok()).filter(|r: &f64| *r > 0.0).ok_or_else(|| {
                        anyhow::anyhow!("--rate takes a number of requests per second above 0\n{SOAK_USAGE}")
                    })?
            }
            "--debug" => profile = "debug",
            other => anyhow::bail!("unknown option {other}\n{SOAK_USAGE}"),
        }
    }
    let test = ["test", "-p", "system-tests", "--test", "a_steady_mixed_load_has_no_errors_and_flat_memory"];
    let env = [
        ("SOAK_MINUTES", minutes.to_string()),
        ("SOAK_RATE", rate.to_string()),
        ("SOAK_PROFILE", profile.to_string()),
    ];
    cargo(&test, &["--".into(), "--nocapture".into()], &env)
}

async fn up(args: &[String]) -> anyhow::Result<()> {
    let release = match args {
        [] => false,
        [flag] if flag == "--release" => true,
        _ => anyhow::bail!("usage: cargo xtask up [--release]"),
    };
    let profile = if release { "release" } else { "debug" };
    println!("xtask: building the services ({profile})…");
    harness::build(profile)?;

    // Credentials are made on the first run and kept with the data, so a restart keeps the
    // logins and tokens people have copied; ADMIN_PASSWORD from the environment wins.
    let workdir = workspace_root();
    let mut credentials = Credentials::load_or_create(&workdir.join("data").join(CREDENTIALS_FILE))?;
    if let Some(password) = std::env::var("ADMIN_PASSWORD").ok().filter(|p| !p.is_empty()) {
        credentials.admin_password = password;
    }
    let mut extra_env = Vec::new();
    for service in ["contacts", "calendar", "notifications"] {
        extra_env.push((service.into(), "ADMIN_USER".into(), credentials.admin_user.clone()));
        extra_env.push((service.into(), "ADMIN_PASSWORD".into(), credentials.admin_password.clone()));
    }
    let spec = SystemSpec {
        profile: profile.into(),
        workdir,
        ports: [3000, 3002, 3003],
        token: credentials.token.clone(),
        log_format: "text".into(),
        echo: true,
        extra_env,
    };
    println!("xtask: starting contacts, notifications and calendar…");
    let mut system = System::start(&spec).await?;
    banner(&system, &credentials, &spec.workdir);

    let mut poll = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            signal = tokio::signal::ctrl_c() => { signal?; break; }
            _ = poll.tick() => {
                let exited = [&mut system.contacts, &mut system.calendar, &mut system.notifications]
                    .into_iter()
                    .find_map(|s| s.exit_status().map(|status| (s.name().to_string(), status)));
                if let Some((name, status)) = exited {
                    eprintln!("{name} exited ({status}); stopping the others");
                    let _ = system.stop(Duration::from_secs(40)).await;
                    anyhow::bail!("{name} exited unexpectedly ({status})");
                }
            }
        }
    }
    println!("stopping…");
    system.stop(Duration::from_secs(40)).await?;
    println!("all three services stopped");
    Ok(())
}

fn banner(system: &System, credentials: &Credentials, workdir: &Path) {
    println!();
    println!("  contacts       http://localhost:{}/", system.contacts.port);
    println!("  calendar       http://localhost:{}/", system.calendar.port);
    println!("  notifications  http://localhost:{}/", system.notifications.port);
    println!();
    println!("  pages: log in as {} with password {}", credentials.admin_user, credentials.admin_password);
    println!("  API token of all three (calendar uses it too), for the README's curl examples:");
    println!("    export TOKEN={}", credentials.token);
    println!();
    println!(
        "  data and credentials ({CREDENTIALS_FILE}) in {}/data; press Ctrl-C to stop",
        workdir.display()
    );
    println!();
}

/// Where `up` keeps its generated credentials, under the data folder.
const CREDENTIALS_FILE: &str = "credentials.env";

/// The login and token `up` configures all three services with.
struct Credentials {
    admin_user: String,
    admin_password: String,
    token: String,
}

impl Credentials {
    /// Reads `path` (`KEY=value` lines), or makes new credentials and writes them there,
    /// readable by the owner only.
    fn load_or_create(path: &Path) -> anyhow::Result<Self> {
        if let Ok(text) = std::fs::read_to_string(path) {
            let value = |key: &str| {
                text.lines()
                    .filter_map(|l| l.split_once('='))
                    .find(|(k, _)| k.trim() == key)
                    .map(|(_, v)| v.trim().to_string())
                    .filter(|v| !v.is_empty())
            };
            if let (Some(admin_user), Some(admin_password), Some(token)) =
                (value("ADMIN_USER"), value("ADMIN_PASSWORD"), value("API_TOKENS"))
            {
                return Ok(Self { admin_user, admin_password, token });
            }
            anyhow::bail!(
                "{} lacks ADMIN_USER, ADMIN_PASSWORD or API_TOKENS: fix it or delete it to make new ones",
                path.display()
            );
        }
        let credentials = Self {
            admin_user: "admin".into(),
            admin_password: generate_token()[..24].to_string(),
            token: generate_token(),
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let text = format!(
            "# Made by `cargo xtask up` on its first run; delete this file to get new ones.\n\
             ADMIN_USER={}\nADMIN_PASSWORD={}\nAPI_TOKENS={}\n",
            credentials.admin_user, credentials.admin_password, credentials.token
        );
        write_private(path, &text)?;
        println!("xtask: new credentials written to {}", path.display());
        Ok(credentials)
    }
}

/// Writes `text` to a new file only its owner may read.
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(text.as_bytes())?;
    Ok(())
}
