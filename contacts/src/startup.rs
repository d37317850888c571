//! Builds the application from settings: database, routes, workers. Binds before serving so
//! tests can start it on port 0 and read the port back.

use service_kit::app::{self, Bound, Routes, Worker};
use service_kit::auth::Auth;
use service_kit::db::{ConnectOptions, Db, Migrations};
use service_kit::http::HttpOptions;
use service_kit::listen;
use service_kit::server::ServerLimits;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::config::Settings;
use crate::feed::Feed;
use crate::links::Links;
use crate::routes::AppState;
use crate::store::Store;
use crate::workers::listener;

pub const MIGRATIONS: Migrations = service_kit::migrations![
    1 "initial" "0001_initial.sql",
    2 "sessions" "0002_sessions.sql",
    3 "projection version" "0003_projection_version.sql",
];

/// A built, bound, not yet running contacts service.
#[allow(missing_debug_implementations)] // workers are futures
pub struct Application {
    bound: Bound,
    router: axum::Router,
    limits: ServerLimits,
    db: Db,
    store: Store,
    workers: Vec<Worker>,
    /// Cancelled when the service stops; held feed requests and the listener watch it.
    token: CancellationToken,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        // The recorder first: the store sets the `contacts` gauge as it opens.
        service_kit::metrics::install(crate::metrics::COUNT_HISTOGRAMS);
        crate::metrics::describe();
        let db = Db::connect(&ConnectOptions::from_settings(&settings.common), &MIGRATIONS).await?;
        let store = Store::open(db.clone(), Some(listener::CHANNEL)).await?;
        let bound = Bound::bind(&settings.common).await?;
        let public_url: Url = bound.public_url.clone();
        let links = Links::new(&public_url);
        let feed = Feed::new(store.clone(), links.clone(), settings.feed_page_size);
        let token = CancellationToken::new();
        let apps = settings.common.apps.with_own("contacts", &public_url);
        let state =
            AppState::new(store.clone(), feed, links, settings.common.request_timeout, token.clone(), apps);
        let (api, openapi) = crate::routes::router(state);
        let auth = Auth::new("contacts", &settings.common.auth, &public_url, &db)
            .with_apps(settings.common.apps.with_own("contacts", &public_url));
        let mut http = HttpOptions::new(public_url);
        http.allowed_hosts = settings.common.allowed_hosts.clone();
        http.request_timeout = settings.common.request_timeout;
        let router = app::router(
            Routes { api, openapi, count_histograms: crate::metrics::COUNT_HISTOGRAMS, auth },
            &db,
            http,
        );
        let limits = ServerLimits::from_settings(&settings.common);
        let mut workers: Vec<Worker> = Vec::new();
        if let Some(channel) = store.notify_channel() {
            let url = settings.common.database_url.clone();
            let handler = listener::HeadListener(store.clone());
            workers.push(listen::worker("feed listener", url, channel.to_owned(), handler, token.clone()));
        }
        Ok(Self { bound, router, limits, db, store, workers, token })
    }

    pub fn port(&self) -> u16 {
        self.bound.port()
    }

    pub fn public_url(&self) -> &Url {
        &self.bound.public_url
    }

    /// The store, for maintenance (rebuilding the read model) and tests.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Runs until `shutdown` is cancelled (or a task fails), then closes the database.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let token = self.token.clone();
        let forward = tokio::spawn(async move {
            shutdown.cancelled().await;
            token.cancel();
        });
        let result = app::run(self.bound, self.router, self.limits, self.workers, self.token).await;
        forward.abort();
        self.db.close().await;
        result
    }
}

/// `contacts rebuild-projection`: replaces the read model with the state replayed from the
/// event log (after a bug in the projection, or a hand-edited database). Returns the number of
/// contacts. On PostgreSQL running instances keep serving (their writes wait while it runs); on
/// SQLite stop the service first, since its in-process cache of contacts would not notice.
pub async fn rebuild_projection(settings: &Settings) -> anyhow::Result<usize> {
    let db = Db::connect(&ConnectOptions::from_settings(&settings.common), &MIGRATIONS).await?;
    let store = Store::open(db.clone(), None).await?;
    let contacts = store.rebuild_projection().await?;
    db.close().await;
    Ok(contacts)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_migration_file_is_registered() {
        assert_eq!(super::MIGRATIONS.unregistered(env!("CARGO_MANIFEST_DIR")), Vec::<String>::new());
    }
}
