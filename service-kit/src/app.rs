//! Start-up and run: bind first (so tests can use port 0 and read the port back), wrap the
//! service's routes with the standard ones and the middleware, then run the server and the
//! background workers as sibling tasks under one cancellation token.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use axum::Router;
use axum::http::header::{self, HeaderValue};
use axum::response::IntoResponse;
use axum::routing::get;
use bytes::Bytes;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::auth::Auth;
use crate::config::{self, CommonSettings, ServiceSettings};
use crate::db::Db;
use crate::http::HttpOptions;
use crate::server::ServerLimits;

/// What a service's `main` does before it builds anything: `--variables` prints the variables
/// and ends (returns `None`); otherwise the settings are read (a configuration error ends the
/// process with one line and exit code 2), logging starts, and the settings are logged.
pub fn start<S: ServiceSettings + std::fmt::Debug>() -> anyhow::Result<Option<S>> {
    if std::env::args().nth(1).as_deref() == Some("--variables") {
        // One name a line: what a deployment may set (the Kubernetes checks read this).
        config::print_variables(&S::variables())?;
        return Ok(None);
    }
    let settings = config::exit_on_error(S::SERVICE, S::from_env());
    let common = settings.common();
    crate::telemetry::init(common.log_format, &common.log_filter);
    tracing::info!(?settings, "starting {}", S::SERVICE);
    Ok(Some(settings))
}

/// A bound listener and the public URL that goes with it.
#[derive(Debug)]
pub struct Bound {
    listener: TcpListener,
    pub addr: SocketAddr,
    pub public_url: Url,
}

impl Bound {
    /// Binds `HOST:PORT` from the settings and resolves the public URL (`PUBLIC_URL`, or
    /// `http://localhost:<port>/` with the port actually bound).
    pub async fn bind(settings: &CommonSettings) -> anyhow::Result<Self> {
        let addr = SocketAddr::new(settings.host, settings.port);
        let listener = crate::server::bind(addr).await.map_err(|e| {
            crate::exit::StartupError::new(
                crate::exit::BIND,
                format!("HOST, PORT: cannot listen on {addr}: {}", e.root_cause()),
            )
        })?;
        let addr = listener.local_addr()?;
        let public_url = settings.public_url_for(addr.port());
        Ok(Self { listener, addr, public_url })
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

/// Everything a service hands over to get the standard routes and middleware.
#[allow(missing_debug_implementations)] // utoipa's OpenApi has no Debug
pub struct Routes {
    /// The service's own routes, state already applied.
    pub api: Router,
    /// The service's OpenAPI document, served at `/openapi.json`.
    pub openapi: utoipa::openapi::OpenApi,
    /// Domain histograms that count things (see [`crate::metrics::install`]).
    pub count_histograms: &'static [&'static str],
    /// Who may call: checked on every route, see [`crate::auth`].
    pub auth: Auth,
}

/// The service's routes plus `/metrics`, `/health/*`, `/openapi.json`, `/assets/style.css` and
/// the login page, behind the credential check ([`crate::auth`]) and wrapped in the standard
/// middleware ([`crate::http::apply`]).
pub fn router(routes: Routes, db: &Db, http: HttpOptions) -> Router {
    let metrics = crate::metrics::install(routes.count_histograms);
    crate::metrics::register_routes(&routes.openapi);
    let openapi_json = Bytes::from(routes.openapi.to_json().unwrap_or_else(|_| "{}".into()));
    let auth = routes.auth;
    let app = routes
        .api
        .merge(crate::auth::login::router(auth.clone()))
        .merge(crate::metrics::router(metrics))
        .merge(crate::health::router(db.clone()))
        .merge(crate::html::assets_router())
        .route(
            "/openapi.json",
            get(move || {
                let body = openapi_json.clone();
                async move {
                    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body)
                        .into_response()
                }
            }),
        )
        .layer(axum::middleware::from_fn(move |req, next| auth.clone().layer(req, next)));
    crate::http::apply(app, http)
}

/// A named background task; it should return when the token is cancelled.
pub type Worker = (&'static str, Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>);

/// Runs the HTTP server and the workers until `shutdown` is cancelled or one of them ends.
///
/// When any task ends on its own (an error, or a worker that should have run forever), the
/// others are cancelled and the returned error says which task it was. On a requested shutdown
/// the server drains its in-flight requests and each worker finishes its current job.
pub async fn run(
    bound: Bound,
    router: Router,
    limits: ServerLimits,
    workers: Vec<Worker>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut tasks = JoinSet::new();
    let server_token = shutdown.clone();
    tasks.spawn(async move {
        let result = crate::server::serve(bound.listener, router, limits, server_token).await;
        ("http server", result.map_err(anyhow::Error::from))
    });
    for (name, future) in workers {
        tasks.spawn(async move { (name, future.await) });
    }

    let mut failure: Option<anyhow::Error> = None;
    tokio::select! {
        () = shutdown.cancelled() => {}
        Some(joined) = tasks.join_next() => {
            // A worker that saw the token first may end before this select sees it cancelled.
            note_task_end(joined, shutdown.is_cancelled(), &mut failure);
            shutdown.cancel();
        }
    }
    // Workers finish their current job and the server drains; bound the wait so a stuck task
    // cannot hang the exit.
    let deadline = tokio::time::sleep(SHUTDOWN_DEADLINE);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            () = &mut deadline => {
                tracing::warn!("tasks did not stop in time; exiting anyway");
                tasks.abort_all();
                break;
            }
            next = tasks.join_next() => match next {
                None => break,
                Some(joined) => note_task_end(joined, true, &mut failure),
            }
        }
    }
    failure.map_or(Ok(()), Err)
}

/// Longest wait for the tasks to stop once shutdown began (above the server's own grace).
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(35);

fn note_task_end(
    joined: Result<(&'static str, anyhow::Result<()>), tokio::task::JoinError>,
    shutting_down: bool,
    failure: &mut Option<anyhow::Error>,
) {
    let (name, result) = match joined {
        Ok(done) => done,
        Err(e) => ("a task", Err(anyhow::anyhow!("panicked: {e}"))),
    };
    match result {
        Ok(()) if shutting_down => tracing::info!(task = name, "stopped"),
        Ok(()) => {
            tracing::error!(task = name, "ended unexpectedly; shutting down");
            failure.get_or_insert_with(|| anyhow::anyhow!("{name} ended unexpectedly"));
        }
        Err(e) => {
            tracing::error!(task = name, error = format!("{e:#}"), "failed; shutting down");
            failure.get_or_insert_with(|| e.context(format!("{name} failed")));
        }
    }
}
