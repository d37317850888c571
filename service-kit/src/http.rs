//! HTTP middleware every service runs: request ids, one log line and metrics per request,
//! security headers, cross-site form protection, body limits, timeouts and panic capture.
//!
//! [`apply`] wraps a finished router with all of it in the right order.

use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts, MatchedPath, Request};
use axum::http::header::{self, HeaderName, HeaderValue};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tracing::Instrument;
use url::Url;

use crate::error::{ApiError, ErrorDetail};

/// The header carrying the request id in and out, and forwarded to other services.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Default maximum request body: 64 KiB.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// The id of the current request: taken from `x-request-id` when the caller sent a sane one,
/// generated otherwise. Extract it in a handler to pass it on (e.g. into an outbox row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

impl RequestId {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn from_header(value: Option<&HeaderValue>) -> Self {
        value
            .and_then(|v| v.to_str().ok())
            .filter(|v| is_sane_request_id(v))
            .map(|v| Self(v.to_string()))
            .unwrap_or_else(|| Self(uuid::Uuid::new_v4().to_string()))
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Incoming ids are echoed into logs and other services: keep them short and printable.
fn is_sane_request_id(v: &str) -> bool {
    !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(|| RequestId::from_header(parts.headers.get(&REQUEST_ID_HEADER))))
    }
}

/// What [`apply`] needs to know about the service.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Public base URL; its origin is accepted for unsafe methods besides the request's own.
    pub public_url: Url,
    /// Maximum request body in bytes.
    pub body_limit: usize,
    /// Upper bound for a whole request (reading the body included).
    pub request_timeout: Duration,
    /// `Content-Security-Policy` sent with every response.
    pub content_security_policy: &'static str,
}

/// A strict policy for server-rendered pages without scripts: own styles, own forms, no framing.
pub const DEFAULT_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

impl HttpOptions {
    pub fn new(public_url: Url) -> Self {
        Self {
            public_url,
            body_limit: DEFAULT_BODY_LIMIT,
            request_timeout: Duration::from_secs(60),
            content_security_policy: DEFAULT_CSP,
        }
    }
}

/// Wraps `router` with the standard middleware. Layers added to a `Router` run after routing,
/// so the logging and metrics see the matched route template. The unmatched-route fallback is
/// the JSON `404`.
pub fn apply(router: Router, options: HttpOptions) -> Router {
    let allowed_origin = options.public_url.origin().ascii_serialization();
    let csp = HeaderValue::from_str(&allow_public_origin_in_form_action(
        options.content_security_policy,
        &allowed_origin,
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(options.content_security_policy));
    router
        .fallback(crate::error::not_found_fallback)
        .layer(middleware::from_fn(move |req: Request, next: Next| async move {
            finish_writes(options.body_limit, req, next).await
        }))
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            let allowed_origin = allowed_origin.clone();
            async move { cross_site_guard(&allowed_origin, req, next).await }
        }))
        .layer(DefaultBodyLimit::max(options.body_limit))
        .layer(middleware::from_fn(move |req: Request, next: Next| async move {
            request_deadline(options.request_timeout, req, next).await
        }))
        .layer(CatchPanicLayer::custom(|_| ApiError::internal("handler panicked").into_response()))
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            let csp = csp.clone();
            async move { security_headers(csp, req, next).await }
        }))
        .layer(middleware::from_fn(log_and_measure))
}

/// Runs requests with unsafe methods to completion once their body has arrived. hyper drops a
/// request's future when its client hangs up; a write cut short between its commit and what
/// follows the commit (advancing the feed's in-memory head, waking a worker) would leave the
/// service inconsistent until something else repaired it. So the body is read first (still
/// cancellable, under the request deadline and the body limit), then the handler runs in a task
/// of its own that a hang-up cannot stop. Reads stay cancellable: a held long poll for a client
/// that is gone should end at once.
async fn finish_writes(body_limit: usize, req: Request, next: Next) -> Response {
    if is_safe_method(req.method()) {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, body_limit).await {
        Ok(bytes) => bytes,
        Err(e) if is_length_limit(&e) => return ApiError::payload_too_large().into_response(),
        Err(e) => return ApiError::bad_request(format!("cannot read the request body: {e}")).into_response(),
    };
    let req = Request::from_parts(parts, axum::body::Body::from(bytes));
    let span = tracing::Span::current();
    match tokio::spawn(next.run(req).instrument(span)).await {
        Ok(response) => response,
        // Re-raised here so the panic layer answers it like any other handler panic.
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => ApiError::internal(format_args!("request task ended: {e}")).into_response(),
    }
}

fn is_length_limit(error: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = e.source();
    }
    false
}

/// Assigns the request id, opens the request span, logs one line when the response is ready and
/// records `http_requests_total` and `http_request_duration_seconds`.
async fn log_and_measure(mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = RequestId::from_header(req.headers().get(&REQUEST_ID_HEADER));
    req.extensions_mut().insert(request_id.clone());
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let span = tracing::info_span!("request", method = %method, route = %route, request_id = %request_id);

    let mut response = next.run(req).instrument(span.clone()).await;

    let status = response.status();
    let elapsed = started.elapsed();
    let latency_ms = elapsed.as_secs_f64() * 1000.0;
    let detail = response.extensions_mut().remove::<ErrorDetail>();
    span.in_scope(|| match (&detail, status.is_server_error()) {
        (Some(ErrorDetail(detail)), _) => {
            tracing::error!(status = status.as_u16(), latency_ms, error = %detail, "request failed")
        }
        (None, true) => tracing::error!(status = status.as_u16(), latency_ms, "request failed"),
        (None, false) => tracing::info!(status = status.as_u16(), latency_ms, "request completed"),
    });
    crate::metrics::record_request(&method, &route, status, elapsed);

    if let Ok(value) = HeaderValue::from_str(request_id.as_str()) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

/// Answers `408` in the error shape when the handler (reading the body included) has not
/// answered within the request timeout; the handler is dropped. A client that sends its body
/// slowly is cut off here.
async fn request_deadline(timeout: Duration, req: Request, next: Next) -> Response {
    match tokio::time::timeout(timeout, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            let mut response = ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                format!("the request was not complete within {} s", timeout.as_secs_f64()),
            )
            .into_response();
            // The rest of the body may never come: do not wait for it to reuse the connection.
            response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            response
        }
    }
}

/// Adds the security headers, and gives axum's bare `405` (which already carries `Allow`) the
/// JSON error body.
async fn security_headers(csp: HeaderValue, req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    if response.status() == StatusCode::METHOD_NOT_ALLOWED
        && !response.headers().contains_key(header::CONTENT_TYPE)
    {
        let allow = response.headers().get(header::ALLOW).cloned();
        response = ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "method not allowed on this resource",
        )
        .into_response();
        if let Some(allow) = allow {
            response.headers_mut().insert(header::ALLOW, allow);
        }
    }
    let headers = response.headers_mut();
    headers.entry(header::CONTENT_SECURITY_POLICY).or_insert(csp);
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// Adds the public origin to the policy's `form-action` directive. Pages' forms post to their own
/// origin and are answered with a redirect to an address under `PUBLIC_URL`; browsers check
/// redirects of a form submission against `form-action` too, so without this a page opened at
/// another address of the service (`http://127.0.0.1:3000` for `http://localhost:3000`) could
/// post its form but never show the answer. The cross-site guard accepts the same two origins.
fn allow_public_origin_in_form_action(policy: &str, public_origin: &str) -> String {
    let directives = policy.split(';').map(str::trim).filter(|d| !d.is_empty());
    let directives: Vec<String> = directives
        .map(|directive| {
            let mut parts = directive.split_whitespace();
            let is_form_action = parts.next().is_some_and(|name| name.eq_ignore_ascii_case("form-action"));
            let sources: Vec<&str> = parts.collect();
            if is_form_action
                && public_origin != "null"
                && !sources.iter().any(|s| *s == "'none'" || *s == public_origin)
            {
                format!("{directive} {public_origin}")
            } else {
                directive.to_string()
            }
        })
        .collect();
    directives.join("; ")
}

/// Refuses state-changing requests that a browser sent from another site (CSRF), using the
/// `Sec-Fetch-Site` header modern browsers send and, without it, `Origin` compared with the
/// request's own `Host` and the configured public origin. Requests with neither header (curl,
/// other services) are not from a browser and pass.
async fn cross_site_guard(allowed_origin: &str, req: Request, next: Next) -> Response {
    if is_safe_method(req.method()) || !is_cross_site(&req, allowed_origin) {
        return next.run(req).await;
    }
    ApiError::forbidden("cross-site request refused").into_response()
}

fn is_safe_method(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE)
}

fn is_cross_site(req: &Request, allowed_origin: &str) -> bool {
    let headers = req.headers();
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return !matches!(site, "same-origin" | "none");
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    if origin == allowed_origin {
        return false;
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    match Url::parse(origin) {
        Ok(url) => {
            let origin_host = match (url.host_str(), url.port()) {
                (Some(h), Some(p)) => format!("{h}:{p}"),
                (Some(h), None) => h.to_string(),
                _ => return true,
            };
            !origin_host.eq_ignore_ascii_case(host)
        }
        // "null" (sandboxed frames, file://) and garbage are cross-site.
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    fn request(method: Method, headers: &[(&str, &str)]) -> Request {
        let mut builder = Request::builder().method(method).uri("/x");
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        builder.body(Body::empty()).unwrap()
    }

    const PUBLIC: &str = "https://contacts.example.org";

    #[test]
    fn requests_without_browser_headers_are_not_cross_site() {
        assert!(!is_cross_site(&request(Method::POST, &[("host", "localhost:3000")]), PUBLIC));
    }

    #[test]
    fn sec_fetch_site_decides_when_present() {
        assert!(!is_cross_site(&request(Method::POST, &[("sec-fetch-site", "same-origin")]), PUBLIC));
        assert!(is_cross_site(&request(Method::POST, &[("sec-fetch-site", "cross-site")]), PUBLIC));
        assert!(is_cross_site(&request(Method::POST, &[("sec-fetch-site", "same-site")]), PUBLIC));
    }

    #[test]
    fn origin_must_match_host_or_public_url() {
        let same = [("host", "localhost:3000"), ("origin", "http://localhost:3000")];
        assert!(!is_cross_site(&request(Method::POST, &same), PUBLIC));
        let public = [("host", "10.0.0.1:3000"), ("origin", PUBLIC)];
        assert!(!is_cross_site(&request(Method::POST, &public), PUBLIC));
        let evil = [("host", "localhost:3000"), ("origin", "http://evil.example")];
        assert!(is_cross_site(&request(Method::POST, &evil), PUBLIC));
        let null = [("host", "localhost:3000"), ("origin", "null")];
        assert!(is_cross_site(&request(Method::POST, &null), PUBLIC));
    }

    #[tokio::test]
    async fn wrong_methods_get_405_with_allow_and_the_error_shape() {
        use tower::ServiceExt;
        let app = apply(
            Router::new().route("/x", axum::routing::get(|| async { "ok" })),
            HttpOptions::new(Url::parse(PUBLIC).unwrap()),
        );
        let response = app.oneshot(request(Method::DELETE, &[])).await.unwrap();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers()[header::ALLOW], "GET,HEAD");
        let body = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["error"], "method_not_allowed");
    }

    #[test]
    fn form_action_also_allows_the_public_origin() {
        let policy = allow_public_origin_in_form_action(DEFAULT_CSP, "http://localhost:3000");
        assert!(policy.contains("; form-action 'self' http://localhost:3000;"), "{policy}");
        assert!(policy.starts_with("default-src 'none'; style-src 'self';"), "the rest is kept: {policy}");
        assert_eq!(
            allow_public_origin_in_form_action(&policy, "http://localhost:3000"),
            policy,
            "added once"
        );
        let none = "default-src 'none'; form-action 'none'";
        assert_eq!(
            allow_public_origin_in_form_action(none, "http://localhost:3000"),
            none,
            "'none' stays none"
        );
    }

    #[tokio::test]
    async fn responses_carry_the_policy_with_the_public_origin() {
        use tower::ServiceExt;
        let app = apply(
            Router::new().route("/x", axum::routing::get(|| async { "ok" })),
            HttpOptions::new(Url::parse(PUBLIC).unwrap()),
        );
        let response = app.oneshot(request(Method::GET, &[])).await.unwrap();
        let policy = response.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(policy.contains(&format!("form-action 'self' {PUBLIC};")), "{policy}");
    }

    #[test]
    fn hostile_request_ids_are_replaced() {
        let id = RequestId::from_header(Some(&HeaderValue::from_static("abc-123")));
        assert_eq!(id.as_str(), "abc-123");
        let id = RequestId::from_header(Some(&HeaderValue::from_static("a b\"c")));
        assert_ne!(id.as_str(), "a b\"c");
    }
}
