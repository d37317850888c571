//! `healthcheck [URL]`: exit 0 when `GET URL` answers 2xx within the timeout, 1 otherwise, 2 when
//! called wrongly. Without a URL it asks `http://127.0.0.1:$PORT/health/ready`, the readiness
//! endpoint of the service in the same container. Used by the Dockerfile's `HEALTHCHECK`.
//! `HEALTHCHECK_TIMEOUT_MS` (default 2000) bounds connect and each read or write.

use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    let url = match std::env::args().nth(1) {
        Some(url) => url,
        None => match std::env::var("PORT") {
            Ok(port) if port.parse::<u16>().is_ok() => format!("http://127.0.0.1:{port}/health/ready"),
            _ => {
                eprintln!("healthcheck: give a URL, or set PORT to the service's port");
                return ExitCode::from(2);
            }
        },
    };
    let timeout_ms = match std::env::var("HEALTHCHECK_TIMEOUT_MS") {
        Err(_) => 2000,
        Ok(raw) => match raw.parse::<u64>() {
            Ok(ms) if ms > 0 => ms,
            _ => {
                eprintln!("healthcheck: HEALTHCHECK_TIMEOUT_MS: expected a positive number, got {raw:?}");
                return ExitCode::from(2);
            }
        },
    };
    match healthcheck::probe(&url, Duration::from_millis(timeout_ms)) {
        Ok(status) => {
            eprintln!("healthcheck: {url} answered {status}");
            ExitCode::SUCCESS
        }
        Err(healthcheck::ProbeError::BadUrl(raw)) => {
            eprintln!("healthcheck: expected an http://host[:port]/path URL, got {raw:?}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("healthcheck: {url}: {e}");
            ExitCode::FAILURE
        }
    }
}
