//! Building and starting the three services as one system, and stopping it.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use harness::generate_token;
use harness::process::ServiceProcess;
use harness::system::{System, SystemSpec};
use test_support::smtp::SmtpServer;
use test_support::{TempDir, TestDb};

/// Deadline for anything the system does in the background (start-up, replication, delivery).
/// Generous on purpose: debug builds share two cores with other work here. Tests wait on
/// conditions with this deadline and never assert on speed.
pub const PATIENCE: Duration = Duration::from_secs(90);

/// The per-hour quotas of the three services, which the system tests, the soak and the
/// benchmark lift to [`UNLIMITED`]: they send more in an hour than the defaults allow.
pub const LOAD_QUOTAS: [(&str, &str); 3] = [
    ("calendar", "QUOTA_INVITATIONS_PER_HOUR"),
    ("notifications", "QUOTA_JOBS_PER_HOUR"),
    ("notifications", "QUOTA_RECIPIENTS_PER_HOUR"),
];
/// A quota no test reaches (`u32::MAX`).
pub const UNLIMITED: &str = "4294967295";

/// How long a service may take to stop after SIGTERM before the test fails.
pub const STOP_GRACE: Duration = Duration::from_secs(40);

/// The operator's user name for the services' login pages.
const ADMIN_USER: &str = "operator";

/// Where notifications puts its mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mail {
    /// `SMTP_URL` points at a test SMTP server on 127.0.0.1 ([`TestSystem::smtp`]).
    Smtp,
    /// No `SMTP_URL`: messages are kept in notifications' mailbox (its `/mailbox` page).
    Mailbox,
}

pub use harness::workspace_root;

/// The folder for test artifacts (`target/artifacts/`, or under `CARGO_TARGET_DIR`).
pub fn artifacts_dir() -> PathBuf {
    harness::target_root().join("artifacts")
}

static BUILD: OnceLock<Result<(), String>> = OnceLock::new();

/// Builds the three service binaries with the cargo that runs the tests, once per test binary,
/// so the tests always start the current code. Later calls wait for the first one.
pub async fn build_services() {
    let result = tokio::task::spawn_blocking(|| BUILD.get_or_init(build).clone())
        .await
        .expect("the build task does not panic");
    if let Err(message) = result {
        panic!("{message}");
    }
}

fn build() -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = std::process::Command::new(&cargo)
        .current_dir(workspace_root())
        .args(["build", "--quiet", "-p", "contacts", "-p", "calendar", "-p", "notifications"])
        .output()
        .map_err(|e| format!("cannot run {cargo}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "building the services failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// The three services running as separate processes, wired as in production: calendar follows
/// contacts' feed and sends invitations to notifications with a shared, generated token.
/// Stopped with [`TestSystem::stop`]; killed when dropped. When a test panics (or always, with
/// `SYSTEM_TESTS_KEEP_LOGS=1`), every service's log is written to
/// `target/artifacts/logs/<test>/`; after a panic its tail is printed too.
#[derive(Debug)]
pub struct TestSystem {
    pub contacts: ServiceProcess,
    pub calendar: ServiceProcess,
    pub notifications: ServiceProcess,
    /// The SMTP server notifications sends to ([`Mail::Smtp`] only).
    pub smtp: Option<SmtpServer>,
    /// The bearer token all three accept and calendar sends to the other two.
    pub token: String,
    /// The login of the services' pages (`/login` on each).
    pub admin_user: String,
    pub admin_password: String,
    /// A client for the tests' own calls, sending the token (no proxy, no redirects followed).
    pub http: reqwest::Client,
    _dbs: Vec<TestDb>,
    _workdir: TempDir,
}

impl TestSystem {
    /// Builds the binaries (once) and starts the system with fresh databases.
    pub async fn start(mail: Mail) -> Self {
        Self::start_with(mail, &[]).await
    }

    /// As [`Self::start`], with extra environment variables: `(service, name, value)`.
    pub async fn start_with(mail: Mail, extra: &[(&str, &str, &str)]) -> Self {
        build_services().await;
        let workdir = TempDir::new("system-test");
        let smtp = match mail {
            Mail::Smtp => Some(SmtpServer::start().await),
            Mail::Mailbox => None,
        };
        let mut dbs = Vec::new();
        let mut env: Vec<(String, String, String)> = Vec::new();
        let mut set = |service: &str, key: &str, value: &str| {
            env.push((service.to_string(), key.to_string(), value.to_string()));
        };
        for service in ["contacts", "calendar", "notifications"] {
            let db = TestDb::new().await;
            set(service, "DATABASE_URL", &db.url);
            dbs.push(db);
        }
        let admin_password = generate_token();
        for service in ["contacts", "calendar", "notifications"] {
            set(service, "ADMIN_USER", ADMIN_USER);
            set(service, "ADMIN_PASSWORD", &admin_password);
        }
        if let Some(smtp) = &smtp {
            set("notifications", "SMTP_URL", &smtp.url());
        }
        // Retry schedules shortened from minutes to seconds, so that recovery after an outage is
        // observed within a test's deadline; the mechanisms are the production ones.
        set("notifications", "RETRY_MIN_MS", "100");
        set("notifications", "RETRY_MAX_MS", "2000");
        set("notifications", "POLL_INTERVAL_MS", "500");
        set("calendar", "OUTBOX_RETRY_MIN_MS", "100");
        set("calendar", "OUTBOX_RETRY_MAX_MS", "2000");
        set("calendar", "BREAKER_OPEN_MS", "2000");
        set("calendar", "FEED_RETRY_MAX_MS", "2000");
        // The abuse limits are a spammer's, and the load and fault tests send more than a team
        // would; the test of the limits sets its own.
        for (service, key) in LOAD_QUOTAS {
            set(service, key, UNLIMITED);
        }
        for (service, key, value) in extra {
            set(service, key, value);
        }
        let token = generate_token();
        let spec = SystemSpec {
            profile: "debug".into(),
            workdir: workdir.path().to_path_buf(),
            ports: [0, 0, 0],
            token: token.clone(),
            log_format: "json".into(),
            echo: false,
            extra_env: env,
        };
        let System { contacts, notifications, calendar } =
            System::start(&spec).await.unwrap_or_else(|e| panic!("the system did not start: {e:#}"));
        Self {
            contacts,
            calendar,
            notifications,
            smtp,
            token: spec.token,
            admin_user: ADMIN_USER.into(),
            admin_password,
            http: test_support::http_client_with_token(&token),
            _dbs: dbs,
            _workdir: workdir,
        }
    }

    /// A page of `service` at its public address (`PUBLIC_URL`, as announced in its "listening"
    /// log line): the address its own links and redirects use, so the one to browse with.
    pub fn public_url(&self, service: &ServiceProcess, path: &str) -> String {
        let base = service
            .json_logs()
            .iter()
            .rev()
            .find(|l| l["message"].as_str().is_some_and(|m| m.ends_with("listening")))
            .and_then(|l| l["url"].as_str().map(str::to_string))
            .unwrap_or_else(|| panic!("{} announced no public URL", service.name()));
        format!("{}/{}", base.trim_end_matches('/'), path.trim_start_matches('/'))
    }

    /// The SMTP server ([`Mail::Smtp`] systems only).
    pub fn smtp(&self) -> &SmtpServer {
        self.smtp.as_ref().expect("this system was started with Mail::Smtp")
    }

    /// Stops the running services with SIGTERM (calendar first) and checks that each one exits
    /// cleanly (status 0), as the design asks of every service.
    pub async fn stop(&mut self) {
        for service in [&mut self.calendar, &mut self.notifications, &mut self.contacts] {
            if service.pid().is_none() {
                continue;
            }
            let status = service
                .stop(STOP_GRACE)
                .await
                .unwrap_or_else(|e| panic!("{} did not stop cleanly: {e:#}", service.name()));
            assert!(status.success(), "{} exited with {status} after SIGTERM", service.name());
        }
    }

    fn save_logs(&self, print_tail: bool) {
        let test = std::thread::current().name().unwrap_or("unnamed").replace("::", "-");
        let dir = artifacts_dir().join("logs").join(test);
        let _ = std::fs::create_dir_all(&dir);
        for service in [&self.contacts, &self.calendar, &self.notifications] {
            let logs = service.logs();
            let path = dir.join(format!("{}.log", service.name()));
            let _ = std::fs::write(&path, logs.join("\n"));
            if !print_tail {
                continue;
            }
            eprintln!(
                "---- {} log ({} lines, all in {}), the last 15:",
                service.name(),
                logs.len(),
                path.display()
            );
            for line in logs.iter().rev().take(15).rev() {
                eprintln!("{line}");
            }
        }
    }
}

impl Drop for TestSystem {
    fn drop(&mut self) {
        let panicking = std::thread::panicking();
        if panicking || std::env::var("SYSTEM_TESTS_KEEP_LOGS").is_ok_and(|v| v == "1") {
            self.save_logs(panicking);
        }
    }
}
