//! Builds the application from settings: database, routes, delivery worker. Binds before
//! serving so tests can start it on port 0 and read the port back.

use std::sync::Arc;

use service_kit::app::{self, Bound, Routes, Worker};
use service_kit::config::Secret;
use service_kit::db::{ConnectOptions, Db, Migrations};
use service_kit::http::HttpOptions;
use service_kit::listen;
use service_kit::server::ServerLimits;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::config::{Delivery, Settings};
use crate::links::Links;
use crate::routes::{self, AppState};
use crate::store::Store;
use crate::templates::Pages;
use crate::workers::{DeliveryWorker, Retention};
use service_kit::auth::Auth;

pub const MIGRATIONS: Migrations = service_kit::migrations![
    1 "jobs" "0001_jobs.sql",
    2 "sessions" "0002_sessions.sql",
    3 "scoped idempotency keys" "0003_scoped_idempotency_keys.sql",
    4 "job parts" "0004_job_parts.sql",
];

/// Largest request body. Every valid notification without attachments fits, even written
/// entirely in `\u` escapes (20,000 characters of message, 50 addresses of 254 characters, 12
/// bytes per character at worst), and so do attachments at their limits (256 KiB) in base64 or
/// as ordinary text; anything larger is refused with `413` before it is parsed.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// A built, bound, not yet running notifications service.
#[derive(Debug)]
pub struct Application {
    bound: Bound,
    router: axum::Router,
    limits: ServerLimits,
    store: Store,
    delivery: DeliveryWorker,
    retention: Option<Retention>,
    run_worker: bool,
    /// The database whose `NOTIFY` of new jobs wakes the worker (used on PostgreSQL only).
    database_url: Secret,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        announce_deprecations(&settings);
        let db = Db::connect(&ConnectOptions::from_settings(&settings.common), &MIGRATIONS).await?;
        let store = Store::open(db).await?;
        if store.db().backend() == service_kit::db::Backend::Sqlite {
            // One process owns a SQLite queue: what is `sending` now, a killed predecessor left.
            let taken = store.take_over_abandoned(service_kit::db::now_millis()).await?;
            if taken > 0 {
                tracing::warn!(jobs = taken, "jobs a stopped process left half-sent are due again now");
            }
        }
        let bound = Bound::bind(&settings.common).await?;
        let public_url: Url = bound.public_url.clone();
        let wake = Arc::new(Notify::new());
        let delivery = DeliveryWorker::new(store.clone(), settings.delivery.clone(), wake.clone())?;
        let smtp_host = match &settings.delivery.delivery {
            Delivery::Smtp { url } => {
                Some(crate::workers::transport::describe_url(url.expose()).unwrap_or_default())
            }
            Delivery::Mailbox => None,
        };
        let mail_from = settings.delivery.mail_from.clone();
        let max_attempts = settings.delivery.max_attempts;
        let state = AppState {
            store: store.clone(),
            quotas: Arc::new(service_kit::quota::Quotas::new(
                settings.quota_jobs_per_hour,
                settings.quota_recipients_per_hour,
                service_kit::quota::WINDOW,
            )),
            addresses: Arc::new(settings.addresses.clone()),
            links: Links::new(&public_url),
            pages: Pages::new(
                smtp_host,
                mail_from.clone(),
                max_attempts,
                settings.common.apps.with_own("notifications", &public_url),
            ),
            mail_from,
            wake,
            max_attempts,
        };
        let (api, openapi) = routes::router(state);
        // The front page only redirects to a page that needs credentials.
        let auth = Auth::new("notifications", &settings.common.auth, &public_url, store.db())
            .open_path("/")
            .with_apps(settings.common.apps.with_own("notifications", &public_url));
        let mut http = HttpOptions::new(public_url);
        http.allowed_hosts = settings.common.allowed_hosts.clone();
        http.request_timeout = settings.common.request_timeout;
        http.body_limit = BODY_LIMIT;
        let router = app::router(Routes { api, openapi, count_histograms: &[], auth }, store.db(), http);
        crate::metrics::describe();
        let limits = ServerLimits::from_settings(&settings.common);
        let retention = settings.retention.map(|keep| Retention::new(store.clone(), keep));
        let database_url = settings.common.database_url.clone();
        Ok(Self {
            bound,
            router,
            limits,
            store,
            delivery,
            retention,
            run_worker: settings.run_worker,
            database_url,
        })
    }

    pub fn port(&self) -> u16 {
        self.bound.port()
    }

    pub fn public_url(&self) -> &Url {
        &self.bound.public_url
    }

    /// The delivery worker (tests drive it with [`DeliveryWorker::step`] when the settings
    /// switched the background worker off).
    pub fn delivery(&self) -> DeliveryWorker {
        self.delivery.clone()
    }

    /// The retention sweep, unless `RETENTION_DAYS` is 0 (tests call [`Retention::step`] with
    /// a time of their choosing).
    pub fn retention(&self) -> Option<Retention> {
        self.retention.clone()
    }

    /// Runs until `shutdown` is cancelled (or a task fails), then closes the database.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let mut workers: Vec<Worker> = Vec::new();
        if self.run_worker {
            workers.push(("delivery worker", Box::pin(self.delivery.clone().run(shutdown.clone()))));
            if let Some(channel) = self.store.listen_channel() {
                let handler = self.delivery.listener();
                let (url, channel) = (self.database_url.clone(), channel.to_string());
                workers.push(listen::worker("new job listener", url, channel, handler, shutdown.clone()));
            }
            if let Some(retention) = self.retention.clone() {
                workers.push(("retention sweep", Box::pin(retention.run(shutdown.clone()))));
            }
        }
        let result = app::run(self.bound, self.router, self.limits, workers, shutdown).await;
        self.store.db().close().await;
        result
    }
}

/// Logs, once, the settings that still work under an old name.
fn announce_deprecations(settings: &Settings) {
    for warning in &settings.deprecated {
        tracing::warn!("{warning}");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_migration_file_is_registered() {
        assert_eq!(super::MIGRATIONS.unregistered(env!("CARGO_MANIFEST_DIR")), Vec::<String>::new());
    }
}
