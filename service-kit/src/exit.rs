//! How a service ends when it cannot start: one line on stderr naming the setting and the cause
//! (path, host, what was expected), no backtrace, and an exit code per class of failure, so a
//! supervisor or a script can tell a typo from an unreachable database.

/// The settings are wrong (a variable is malformed, missing or contradicts another).
pub const CONFIG: i32 = crate::config::CONFIG_EXIT_CODE;
/// The database cannot be opened or reached (`DATABASE_URL`).
pub const DATABASE: i32 = 3;
/// The database was reached but its schema could not be brought up to date.
pub const MIGRATION: i32 = 4;
/// The listening socket cannot be bound (`HOST`, `PORT`).
pub const BIND: i32 = 5;

/// An expected start-up failure: the message is the whole story, one line.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct StartupError {
    pub code: i32,
    pub message: String,
}

impl StartupError {
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

/// The value of a start-up step, or the end of the process: a [`StartupError`] prints its line
/// and exits with its code; anything else prints one line (causes joined) and exits with 1.
pub fn or_exit<T>(service: &str, result: anyhow::Result<T>) -> T {
    match result {
        Ok(value) => value,
        Err(e) => {
            let code = e.downcast_ref::<StartupError>().map_or(1, |s| s.code);
            eprintln!("{service}: cannot start: {}", one_line(&format!("{e:#}")));
            std::process::exit(code);
        }
    }
}

fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_printed_on_one_line() {
        assert_eq!(one_line("a\n  b\tc "), "a b c");
    }
}
