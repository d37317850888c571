#![allow(clippy::print_stdout)] // a developer tool: printing to the terminal is its job

//! `drivers <command>`: the heavy developer tasks, run through `cargo xtask` (which builds this
//! crate first; see `cargo xtask help`):
//!
//! - `bench [options]`: the benchmark ([`bench`]): release binaries on loopback, `wrk` and
//!   purpose-built clients, `bench-results/results.md` and `results.json`.
//! - `fuzz [options]`: schemathesis against every JSON endpoint of the three binaries ([`fuzz`]).
//! - `bench-smtp-client ...`: the benchmark's SMTP load client, run by `bench` itself.

use std::process::ExitCode;

mod bench;
mod fuzz;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let wants_help = args.iter().any(|a| a == "--help" || a == "-h");
    let result = match args.first().map(String::as_str) {
        Some("bench") if wants_help => {
            println!("{}", bench::USAGE);
            return ExitCode::SUCCESS;
        }
        Some("bench") => bench::main(&args[1..]).await,
        Some("bench-smtp-client") => bench::mail::client_main(&args[1..]).await,
        Some("fuzz") if wants_help => {
            println!("{}", fuzz::USAGE);
            return ExitCode::SUCCESS;
        }
        Some("fuzz") => fuzz::main(&args[1..]).await,
        _ => {
            eprintln!(
                "usage: drivers bench [--help] | drivers fuzz [--help] (run them as cargo xtask bench / fuzz)"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("drivers: {e:#}");
            ExitCode::FAILURE
        }
    }
}
