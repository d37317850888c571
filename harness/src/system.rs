//! The whole system wired together on one machine: contacts, notifications and calendar as
//! separate processes, calendar following contacts' feed and sending jobs to notifications with
//! a shared token, which every service accepts (`API_TOKENS`) and calendar sends to the other two
//! (`CONTACTS_TOKEN`, `NOTIFICATION_TOKEN`).

use std::path::PathBuf;
use std::time::Duration;

use crate::binary;
use crate::process::{Output, ServiceProcess, ServiceSpec};

/// Where and how to start the three services.
#[derive(Debug, Clone)]
pub struct SystemSpec {
    /// `debug` or `release`.
    pub profile: String,
    pub workdir: PathBuf,
    /// Ports for contacts, calendar, notifications (0 = any free port).
    pub ports: [u16; 3],
    /// Bearer token all three accept (`API_TOKENS`) and calendar sends to the other two.
    pub token: String,
    /// `text` or `json`.
    pub log_format: String,
    /// Echo the services' log lines, prefixed with their names.
    pub echo: bool,
    /// Extra variables per service: (service name, key, value).
    pub extra_env: Vec<(String, String, String)>,
}

impl SystemSpec {
    fn spec(&self, name: &str, port: u16) -> ServiceSpec {
        let mut spec = ServiceSpec::new(name, binary(name, &self.profile), self.workdir.clone())
            .env("PORT", port.to_string())
            .env("API_TOKENS", self.token.clone())
            .env("LOG_FORMAT", self.log_format.clone());
        if let Ok(filter) = std::env::var("RUST_LOG") {
            spec = spec.env("RUST_LOG", filter);
        }
        spec.output = Output::Pipe { echo: self.echo };
        for (service, key, value) in &self.extra_env {
            if service == name {
                spec = spec.env(key, value.clone());
            }
        }
        spec
    }
}

/// The three running services.
#[derive(Debug)]
pub struct System {
    pub contacts: ServiceProcess,
    pub notifications: ServiceProcess,
    pub calendar: ServiceProcess,
}

impl System {
    /// Starts contacts and notifications, then calendar pointed at both. Ports left 0 are
    /// picked before any service starts, so that each service's pages can link the others
    /// (`CONTACTS_PUBLIC_URL`, `CALENDAR_PUBLIC_URL`, `NOTIFICATIONS_PUBLIC_URL`, unless the
    /// caller set them).
    pub async fn start(spec: &SystemSpec) -> anyhow::Result<Self> {
        let mut ports = spec.ports;
        for port in &mut ports {
            if *port == 0 {
                *port = crate::process::free_port()?;
            }
        }
        let [contacts_port, calendar_port, notifications_port] = ports;
        let with_links = |mut service: ServiceSpec| {
            for (key, port) in [
                ("CONTACTS_PUBLIC_URL", contacts_port),
                ("CALENDAR_PUBLIC_URL", calendar_port),
                ("NOTIFICATIONS_PUBLIC_URL", notifications_port),
            ] {
                if service.get_env(key).is_none() {
                    service = service.env(key, format!("http://localhost:{port}/"));
                }
            }
            service
        };
        let contacts = ServiceProcess::start(with_links(spec.spec("contacts", contacts_port))).await?;
        let notifications =
            ServiceProcess::start(with_links(spec.spec("notifications", notifications_port))).await?;
        let calendar = with_links(
            spec.spec("calendar", calendar_port)
                .env("CONTACTS_FEED", format!("http://localhost:{}/feed", contacts.port))
                .env("CONTACTS_TOKEN", spec.token.clone())
                .env("NOTIFICATION_SERVICE", format!("http://localhost:{}", notifications.port))
                .env("NOTIFICATION_TOKEN", spec.token.clone()),
        );
        let calendar = ServiceProcess::start(calendar).await?;
        Ok(Self { contacts, notifications, calendar })
    }

    /// Stops calendar, then notifications and contacts, each with SIGTERM; reports the first
    /// one that did not exit cleanly.
    pub async fn stop(mut self, grace: Duration) -> anyhow::Result<()> {
        let mut problems = Vec::new();
        for service in [&mut self.calendar, &mut self.notifications, &mut self.contacts] {
            if service.pid().is_none() {
                continue;
            }
            match service.stop(grace).await {
                Ok(status) if status.success() => {}
                Ok(status) => problems.push(format!("{} exited with {status}", service.name())),
                Err(e) => problems.push(format!("{e:#}")),
            }
        }
        if problems.is_empty() { Ok(()) } else { anyhow::bail!(problems.join("; ")) }
    }
}
