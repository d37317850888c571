#![allow(clippy::print_stdout)] // a developer tool: printing to the terminal is its job

//! `cargo xtask <command>`:
//!
//! - `up [--release]`: builds the three services and runs them together on their default ports
//!   (contacts 3000, calendar 3002, notifications 3003) with embedded defaults (SQLite files under
//!   `./data/`, mailbox-mode e-mail, a generated token shared by calendar and notifications),
//!   streams their logs prefixed with their names, and stops them cleanly on Ctrl-C.
//! - `bench [options]`: the benchmark (see [`bench`]): builds in release, runs every scenario
//!   and writes `bench-results/results.md` and `results.json`. `bench --help` lists the options.
//! - `bench-smtp-client ...`: the benchmark's SMTP load client, run by `bench` itself.

use std::process::ExitCode;
use std::time::Duration;

use xtask::system::{System, SystemSpec, generate_token};
use xtask::{build, workspace_root};

mod bench;
mod chaos;
mod fuzz;

const USAGE: &str = "usage: cargo xtask up [--release] | cargo xtask bench [--help]";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("up") => up(&args[1..]).await,
        Some("bench") if args.iter().any(|a| a == "--help" || a == "-h") => {
            println!("{}", bench::USAGE);
            return ExitCode::SUCCESS;
        }
        Some("bench") => bench::main(&args[1..]).await,
        Some("bench-smtp-client") => bench::mail::client_main(&args[1..]).await,
        Some("chaos") => chaos::main(&args[1..]),
        Some("soak") => xtask::soak::command(&args[1..]).await,
        Some("fuzz") if args.iter().any(|a| a == "--help" || a == "-h") => {
            println!("{}", fuzz::USAGE);
            return ExitCode::SUCCESS;
        }
        Some("fuzz") => fuzz::main(&args[1..]).await,
        _ => {
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

async fn up(args: &[String]) -> anyhow::Result<()> {
    let release = match args {
        [] => false,
        [flag] if flag == "--release" => true,
        _ => anyhow::bail!("{USAGE}"),
    };
    let profile = if release { "release" } else { "debug" };
    build(profile, &[])?;

    // notifications' pages ask for a password: use the caller's, or make one for this run.
    let admin_password = std::env::var("ADMIN_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| generate_token()[..20].to_string());
    let spec = SystemSpec {
        profile: profile.into(),
        workdir: workspace_root(),
        ports: [3000, 3002, 3003],
        token: generate_token(),
        log_format: "text".into(),
        echo: true,
        extra_env: vec![("notifications".into(), "ADMIN_PASSWORD".into(), admin_password.clone())],
    };
    let system = System::start(&spec).await?;
    println!();
    println!("  contacts       http://localhost:{}/", system.contacts.port);
    println!("  calendar       http://localhost:{}/", system.calendar.port);
    println!(
        "  notifications  http://localhost:{}/   (user admin, password {admin_password})",
        system.notifications.port
    );
    println!();
    println!("  data in {}/data — press Ctrl-C to stop", spec.workdir.display());
    println!();

    let mut system = system;
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
