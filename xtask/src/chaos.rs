//! `cargo xtask chaos [--ops N] [--seed S] [--rate R] [--postgres URL]`: the long chaos run.
//!
//! The run is the system test `nothing_accepted_is_lost_while_random_services_are_killed` (the
//! short version of which is part of `cargo test`), started with more operations: a seeded mixed
//! workload while a random service is SIGKILLed and restarted every few seconds, then the checks
//! that nothing accepted was lost and nothing was sent twice beyond the documented window. One
//! implementation for both, so the long run checks exactly what CI checks.
//!
//! Without `--postgres` the run uses `TEST_DATABASE_URL` when set, else SQLite files.

use std::process::Command;

pub const USAGE: &str = "usage: cargo xtask chaos [--ops N] [--seed S] [--rate OPS_PER_SEC] [--postgres URL]\n\
    \n\
    Runs the chaos system test with N operations (default 20000) at R operations per second\n\
    (default 40) while SIGKILLing a random service every 1.5-4 s. The seed (random unless given)\n\
    is printed first; the same seed repeats the same operations and kill schedule.";

const TEST: &str = "nothing_accepted_is_lost_while_random_services_are_killed";

pub fn main(args: &[String]) -> anyhow::Result<()> {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return Ok(());
    }
    let mut ops = "20000".to_string();
    let mut seed: Option<String> = None;
    let mut rate: Option<String> = None;
    let mut postgres: Option<String> = None;
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let mut value =
            |name: &str| rest.next().cloned().ok_or_else(|| anyhow::anyhow!("{name} needs a value\n{USAGE}"));
        match flag.as_str() {
            "--ops" => ops = number(&value("--ops")?, "--ops")?,
            "--seed" => seed = Some(number(&value("--seed")?, "--seed")?),
            "--rate" => rate = Some(value("--rate")?),
            "--postgres" => postgres = Some(value("--postgres")?),
            other => anyhow::bail!("unknown option {other}\n{USAGE}"),
        }
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(harness::workspace_root())
        .args(["test", "-p", "system-tests", "--test", TEST, "--", "--nocapture"])
        .env("CHAOS_OPS", &ops);
    if let Some(seed) = &seed {
        command.env("CHAOS_SEED", seed);
    }
    if let Some(rate) = &rate {
        command.env("CHAOS_RATE", rate);
    }
    if let Some(url) = &postgres {
        command.env("TEST_DATABASE_URL", url);
    }
    let status = command.status()?;
    anyhow::ensure!(status.success(), "the chaos run failed ({status}); its seed is printed above");
    Ok(())
}

fn number(raw: &str, name: &str) -> anyhow::Result<String> {
    raw.parse::<u64>().map_err(|_| anyhow::anyhow!("{name} takes a whole number, got {raw:?}"))?;
    Ok(raw.to_string())
}
