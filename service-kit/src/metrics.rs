//! Prometheus metrics: one process-wide recorder, `GET /metrics`, and the HTTP request metrics.
//!
//! Services record their domain metrics with the `metrics` macros (`counter!`, `gauge!`,
//! `histogram!`) anywhere; this module only installs the recorder and renders it.

use std::sync::OnceLock;
use std::time::Duration;

use axum::Router;
use axum::http::header::{self, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Buckets for every metric whose name ends in `_seconds`: 0.5 ms to 30 s.
pub const SECONDS_BUCKETS: &[f64] =
    &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// Buckets for small counts (search results, participants per event).
pub const COUNT_BUCKETS: &[f64] = &[0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the global recorder (once per process; later calls return the same handle).
///
/// `count_histograms` names histograms that count things rather than time them; they get
/// [`COUNT_BUCKETS`]. Every `*_seconds` histogram gets [`SECONDS_BUCKETS`].
pub fn install(count_histograms: &[&str]) -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let mut builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
                .expect("non-empty buckets");
            for name in count_histograms {
                builder = builder
                    .set_buckets_for_metric(Matcher::Full((*name).into()), COUNT_BUCKETS)
                    .expect("non-empty buckets");
            }
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (several services in one test binary
            // use this same function, so in practice it is ours).
            let _ = metrics::set_global_recorder(recorder);
            spawn_upkeep(handle.clone());
            describe_http_metrics();
            handle
        })
        .clone()
}

/// Histograms are drained by periodic upkeep; without it their buffers grow unbounded.
fn spawn_upkeep(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new().name("metrics-upkeep".into()).spawn(move || {
        loop {
            std::thread::sleep(Duration::from_secs(5));
            handle.run_upkeep();
        }
    });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "could not start the metrics upkeep thread");
    }
}

fn describe_http_metrics() {
    metrics::describe_counter!(
        "http_requests_total",
        "HTTP requests answered, by method, route template and status"
    );
    metrics::describe_histogram!(
        "http_request_duration_seconds",
        metrics::Unit::Seconds,
        "Time from request received to response ready, by method and route template"
    );
}

/// `GET /metrics` in the Prometheus text format.
pub fn router(handle: PrometheusHandle) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let handle = handle.clone();
            async move {
                (
                    StatusCode::OK,
                    [(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                    )],
                    handle.render(),
                )
                    .into_response()
            }
        }),
    )
}

/// The routes every service gets from [`crate::app::router`], besides its documented ones.
const STANDARD_ROUTES: &[&str] =
    &["/metrics", "/health/live", "/health/ready", "/openapi.json", "/assets/style.css"];

/// Registers, at zero, the request series of every operation in the service's OpenAPI document
/// and of the standard routes: `http_requests_total{status="500"}` and the request-duration
/// histogram. Alert rules then see these series from start-up: a counter that first appears at
/// 1 has no earlier sample for `rate()` to rise from, so a route's first internal error would
/// go uncounted. Other status codes appear with their first response, as before.
pub(crate) fn register_routes(openapi: &utoipa::openapi::OpenApi) {
    let standard = STANDARD_ROUTES.iter().map(|route| (Method::GET, *route));
    let documented = openapi.paths.paths.iter().flat_map(|(route, item)| {
        [
            (Method::GET, &item.get),
            (Method::PUT, &item.put),
            (Method::POST, &item.post),
            (Method::DELETE, &item.delete),
            (Method::OPTIONS, &item.options),
            (Method::HEAD, &item.head),
            (Method::PATCH, &item.patch),
        ]
        .into_iter()
        .filter(|(_, operation)| operation.is_some())
        .map(move |(method, _)| (method, route.as_str()))
    });
    for (method, route) in standard.chain(documented) {
        let method = method_label(&method);
        metrics::counter!(
            "http_requests_total",
            "method" => method,
            "route" => route.to_owned(),
            "status" => "500"
        )
        .increment(0);
        let _registered = metrics::histogram!("http_request_duration_seconds", "method" => method, "route" => route.to_owned());
    }
}

/// Records one answered request. `route` is the matched template (`/contacts/{id}`), never the
/// raw path, so the label set stays bounded.
pub(crate) fn record_request(method: &Method, route: &str, status: StatusCode, elapsed: Duration) {
    let method = method_label(method);
    metrics::counter!(
        "http_requests_total",
        "method" => method,
        "route" => route.to_owned(),
        "status" => status.as_str().to_owned()
    )
    .increment(1);
    metrics::histogram!("http_request_duration_seconds", "method" => method, "route" => route.to_owned())
        .record(elapsed.as_secs_f64());
}

/// Unknown methods collapse into one label value so clients cannot mint label values.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}
