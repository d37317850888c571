//! Builds the application from settings: database, routes, workers. Binds before serving so
//! tests can start it on port 0 and read the port back.

use service_kit::app::{self, Bound, Routes};
use service_kit::db::{ConnectOptions, Db, MigrationFile, Migrations};
use service_kit::http::HttpOptions;
use service_kit::server::ServerLimits;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::config::Settings;

pub const MIGRATIONS: Migrations = Migrations {
    sqlite: &[MigrationFile {
        version: 1,
        description: "initial",
        sql: include_str!("../migrations/sqlite/0001_initial.sql"),
    }],
    postgres: &[MigrationFile {
        version: 1,
        description: "initial",
        sql: include_str!("../migrations/postgres/0001_initial.sql"),
    }],
};

/// A built, bound, not yet running contacts service.
#[derive(Debug)]
pub struct Application {
    bound: Bound,
    router: axum::Router,
    limits: ServerLimits,
    db: Db,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let db = Db::connect(
            &ConnectOptions::new(&settings.common.database_url, settings.common.database_max_connections),
            &MIGRATIONS,
        )
        .await?;
        let bound = Bound::bind(&settings.common).await?;
        let public_url: Url = bound.public_url.clone();
        let api = crate::routes::router(public_url.clone());
        let mut http = HttpOptions::new(public_url);
        http.request_timeout = settings.common.request_timeout;
        let router =
            app::router(Routes { api, openapi: crate::routes::openapi(), count_histograms: &[] }, &db, http);
        let limits = ServerLimits {
            max_connections_per_client: settings.common.max_connections_per_client,
            ..ServerLimits::default()
        };
        Ok(Self { bound, router, limits, db })
    }

    pub fn port(&self) -> u16 {
        self.bound.port()
    }

    pub fn public_url(&self) -> &Url {
        &self.bound.public_url
    }

    /// Runs until `shutdown` is cancelled (or a task fails), then closes the database.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let result = app::run(self.bound, self.router, self.limits, Vec::new(), shutdown).await;
        self.db.close().await;
        result
    }
}
