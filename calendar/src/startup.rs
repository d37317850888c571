//! Builds the application from settings: database, routes, feed follower, outbox dispatcher.
//! Binds before serving so tests can start it on port 0 and read the port back.

use std::sync::Arc;

use service_kit::app::{self, Bound, Routes, Worker};
use service_kit::auth::Auth;
use service_kit::db::{ConnectOptions, Db, Migrations};
use service_kit::http::HttpOptions;
use service_kit::server::ServerLimits;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::config::Settings;
use crate::routes::{self, AppState};
use crate::store::Store;
use crate::workers::dispatcher::Dispatcher;
use crate::workers::feed::Follower;

pub const MIGRATIONS: Migrations = service_kit::migrations![
    1 "initial" "0001_initial.sql",
    2 "feed entries" "0002_feed_entries.sql",
    3 "sessions" "0003_sessions.sql",
    4 "applications counted" "0004_applications.sql",
    5 "notification job ids" "0005_outbox_job.sql",
    6 "outbox indexes" "0006_outbox_indexes.sql",
    7 "invitation iMIP parts" "0007_outbox_calendar.sql",
];

/// A built, bound, not yet running calendar service.
#[derive(Debug)]
pub struct Application {
    bound: Bound,
    router: axum::Router,
    limits: ServerLimits,
    store: Store,
    follower: Follower,
    dispatcher: Dispatcher,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let db = Db::connect(&ConnectOptions::from_settings(&settings.common), &MIGRATIONS).await?;
        let store = Store::new(db.clone());
        let bound = Bound::bind(&settings.common).await?;
        let public_url: Url = bound.public_url.clone();
        let wake = Arc::new(Notify::new());
        let follower = Follower::new(store.clone(), settings.feed.clone())?;
        let apps = settings.common.apps.with_own("calendar", &public_url);
        let state = AppState::new(
            store.clone(),
            public_url.clone(),
            apps,
            wake.clone(),
            follower.recovery(),
            settings.notifications.invitations_per_hour,
        );
        let (api, openapi) = routes::router(state);
        // The front page only redirects to a page that needs credentials.
        let auth = Auth::new("calendar", &settings.common.auth, &public_url, &db)
            .open_path("/")
            .with_apps(settings.common.apps.with_own("calendar", &public_url));
        let mut http = HttpOptions::new(public_url);
        http.allowed_hosts = settings.common.allowed_hosts.clone();
        http.request_timeout = settings.common.request_timeout;
        let router = app::router(
            Routes { api, openapi, count_histograms: crate::metrics::COUNT_HISTOGRAMS, auth },
            &db,
            http,
        );
        crate::metrics::describe();
        let limits = ServerLimits::from_settings(&settings.common);
        let client = reqwest::Client::builder().no_proxy().build()?;
        let dispatcher = Dispatcher::new(store.clone(), settings.notifications.clone(), client, wake)?;
        Ok(Self { bound, router, limits, store, follower, dispatcher })
    }

    pub fn port(&self) -> u16 {
        self.bound.port()
    }

    pub fn public_url(&self) -> &Url {
        &self.bound.public_url
    }

    /// A handle on the dispatcher (shares the running one's circuit breaker).
    pub fn dispatcher(&self) -> Dispatcher {
        self.dispatcher.clone()
    }

    /// Runs the API, the feed follower and the dispatcher until `shutdown` is cancelled (or a
    /// task fails), then closes the database.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let workers: Vec<Worker> = vec![
            ("feed follower", Box::pin(self.follower.run(shutdown.clone()))),
            ("outbox dispatcher", Box::pin(self.dispatcher.run(shutdown.clone()))),
        ];
        let result = app::run(self.bound, self.router, self.limits, workers, shutdown).await;
        self.store.close().await;
        result
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_migration_file_is_registered() {
        assert_eq!(super::MIGRATIONS.unregistered(env!("CARGO_MANIFEST_DIR")), Vec::<String>::new());
    }
}
