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
    /// `ALLOWED_HOSTS`: further `Host` values accepted besides `PUBLIC_URL`'s (`contacts:3000`
    /// for a service that others reach by its compose or Kubernetes name). An entry without a
    /// port accepts that name on any port.
    pub allowed_hosts: Vec<String>,
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
            allowed_hosts: Vec::new(),
        }
    }
}

/// Wraps `router` with the standard middleware. Layers added to a `Router` run after routing,
/// so the logging and metrics see the matched route template. The unmatched-route fallback is
/// the JSON `404`.
pub fn apply(router: Router, options: HttpOptions) -> Router {
    let allowed_origin = options.public_url.origin().ascii_serialization();
    let hosts = std::sync::Arc::new(AcceptedHosts::new(&options.public_url, &options.allowed_hosts));
    let scheme = options.public_url.scheme().to_owned();
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
            let scheme = scheme.clone();
            async move { cross_site_guard(&allowed_origin, &scheme, req, next).await }
        }))
        .layer(DefaultBodyLimit::max(options.body_limit))
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            let hosts = hosts.clone();
            async move { check_host_and_length(&hosts, options.body_limit, req, next).await }
        }))
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

/// The `Host` values a service answers to: `PUBLIC_URL`'s host and port, the `ALLOWED_HOSTS`
/// entries, and names no DNS answer can make a browser send for another site (IP literals and
/// `localhost`). Anything else is a DNS-rebinding attempt or a misrouted request.
#[derive(Debug)]
struct AcceptedHosts {
    /// Lower-case `host:port` pairs that must match exactly.
    exact: Vec<String>,
    /// Lower-case names accepted on any port.
    any_port: Vec<String>,
    /// The port a `Host` without one means: the default of `PUBLIC_URL`'s scheme.
    default_port: u16,
}

impl AcceptedHosts {
    fn new(public_url: &Url, allowed: &[String]) -> Self {
        let mut exact = Vec::new();
        let mut any_port = Vec::new();
        if let (Some(host), Some(port)) = (public_url.host_str(), public_url.port_or_known_default()) {
            exact.push(format!("{}:{port}", host.to_ascii_lowercase()));
        }
        for entry in allowed.iter().map(|e| e.trim().to_ascii_lowercase()).filter(|e| !e.is_empty()) {
            match split_host_port(&entry) {
                Some((host, Some(port))) => exact.push(format!("{host}:{port}")),
                Some((host, None)) => any_port.push(host.to_string()),
                None => {}
            }
        }
        let default_port = if public_url.scheme() == "https" { 443 } else { 80 };
        Self { exact, any_port, default_port }
    }

    /// `host` is the `Host` header (or the authority of an absolute request target).
    fn accepts(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        let Some((name, port)) = split_host_port(&host) else {
            return false;
        };
        if name == "localhost" || name.parse::<std::net::IpAddr>().is_ok() || is_bracketed_ipv6(name) {
            return true;
        }
        let port = port.unwrap_or(self.default_port);
        self.exact.iter().any(|e| *e == format!("{name}:{port}")) || self.any_port.iter().any(|e| e == name)
    }
}

fn is_bracketed_ipv6(name: &str) -> bool {
    name.strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .is_some_and(|n| n.parse::<std::net::Ipv6Addr>().is_ok())
}

/// Splits `host[:port]` (IPv6 literals in brackets); `None` for what is not a host.
fn split_host_port(value: &str) -> Option<(&str, Option<u16>)> {
    let (name, port) = if value.starts_with('[') {
        let end = value.find(']')?;
        let (name, rest) = value.split_at(end + 1);
        match rest {
            "" => (name, None),
            _ => (name, Some(rest.strip_prefix(':')?)),
        }
    } else {
        match value.rsplit_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (value, None),
        }
    };
    if name.is_empty() || name.contains(['/', '@', ' ', '\\']) {
        return None;
    }
    let port = match port {
        None => None,
        Some(p) => Some(p.parse::<u16>().ok()?),
    };
    Some((name, port))
}

/// Health checks and metrics answer on any `Host`: Kubernetes probes and Prometheus reach a pod
/// by whatever name or address their configuration uses, and these routes carry no personal
/// data and change nothing.
fn answers_any_host(path: &str) -> bool {
    path == "/metrics" || path.starts_with("/health/")
}

/// Answers `421 Misdirected Request` when the request names a host the service is not
/// configured for (DNS rebinding: a page on `evil.example` whose name now points at the
/// service), and `413` at once when a request declares a body over the limit, before anyone
/// waits for that body.
async fn check_host_and_length(
    hosts: &AcceptedHosts,
    body_limit: usize,
    req: Request,
    next: Next,
) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.as_str().to_owned()));
    let accepted = host.as_deref().is_some_and(|h| hosts.accepts(h));
    if !accepted && !answers_any_host(req.uri().path()) {
        return ApiError::new(
            StatusCode::MISDIRECTED_REQUEST,
            "misdirected_request",
            "this service does not answer to that host name (see PUBLIC_URL and ALLOWED_HOSTS)",
        )
        .into_response();
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > body_limit as u64) {
        let mut response = ApiError::payload_too_large().into_response();
        // The body is not read: do not keep the connection for a next request behind it.
        response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        return response;
    }
    next.run(req).await
}

/// Refuses state-changing requests that a browser sent from another site (CSRF), using the
/// `Sec-Fetch-Site` header modern browsers send and, without it, `Origin` compared by scheme,
/// host and port with the configured public origin or, with `PUBLIC_URL`'s scheme, the request's
/// own `Host` (already checked by [`check_host_and_length`], so never a rebound name). Requests
/// with neither header (curl, other services) are not from a browser and pass.
async fn cross_site_guard(allowed_origin: &str, scheme: &str, req: Request, next: Next) -> Response {
    if is_safe_method(req.method()) || !is_cross_site(&req, allowed_origin, scheme) {
        return next.run(req).await;
    }
    ApiError::forbidden("cross-site request refused").into_response()
}

fn is_safe_method(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE)
}

fn is_cross_site(req: &Request, allowed_origin: &str, scheme: &str) -> bool {
    let headers = req.headers();
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if site.is_some_and(|site| !matches!(site, "same-origin" | "none")) {
        return true;
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Ok(origin) = Url::parse(origin) else {
        // "null" (sandboxed frames, file://) and garbage are cross-site.
        return true;
    };
    let origin = origin.origin().ascii_serialization();
    if origin == allowed_origin {
        return false;
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    match Url::parse(&format!("{scheme}://{host}/")) {
        Ok(own) => origin != own.origin().ascii_serialization(),
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
        assert!(!is_cross_site(&request(Method::POST, &[("host", "localhost:3000")]), PUBLIC, "https"));
    }

    #[test]
    fn sec_fetch_site_decides_when_present() {
        assert!(!is_cross_site(
            &request(Method::POST, &[("sec-fetch-site", "same-origin")]),
            PUBLIC,
            "https"
        ));
        assert!(is_cross_site(&request(Method::POST, &[("sec-fetch-site", "cross-site")]), PUBLIC, "https"));
        assert!(is_cross_site(&request(Method::POST, &[("sec-fetch-site", "same-site")]), PUBLIC, "https"));
    }

    #[test]
    fn origin_must_match_host_or_public_url_by_scheme_host_and_port() {
        let same = [("host", "localhost:3000"), ("origin", "https://localhost:3000")];
        assert!(!is_cross_site(&request(Method::POST, &same), PUBLIC, "https"));
        let public = [("host", "10.0.0.1:3000"), ("origin", PUBLIC)];
        assert!(!is_cross_site(&request(Method::POST, &public), PUBLIC, "https"));
        let default_port = [("host", "10.0.0.1:3000"), ("origin", "https://contacts.example.org:443")];
        assert!(!is_cross_site(&request(Method::POST, &default_port), PUBLIC, "https"));
        let evil = [("host", "localhost:3000"), ("origin", "http://evil.example")];
        assert!(is_cross_site(&request(Method::POST, &evil), PUBLIC, "https"));
        let null = [("host", "localhost:3000"), ("origin", "null")];
        assert!(is_cross_site(&request(Method::POST, &null), PUBLIC, "https"));
        let other_scheme = [("host", "localhost:3000"), ("origin", "http://localhost:3000")];
        assert!(is_cross_site(&request(Method::POST, &other_scheme), PUBLIC, "https"));
        let https_for_http = [("host", "127.0.0.1:3000"), ("origin", "https://127.0.0.1:3000")];
        assert!(is_cross_site(&request(Method::POST, &https_for_http), "http://localhost:3000", "http"));
        let other_port = [("host", "localhost:3000"), ("origin", "https://localhost:3001")];
        assert!(is_cross_site(&request(Method::POST, &other_port), PUBLIC, "https"));
        let same_origin_but_other = [
            ("sec-fetch-site", "same-origin"),
            ("host", "localhost:3000"),
            ("origin", "https://evil.example"),
        ];
        assert!(is_cross_site(&request(Method::POST, &same_origin_but_other), PUBLIC, "https"));
    }

    #[test]
    fn hosts_are_public_url_allowed_hosts_or_unrebindable() {
        let hosts = AcceptedHosts::new(
            &Url::parse("http://localhost:3000/").unwrap(),
            &["contacts:3000".into(), "calendar".into()],
        );
        for ok in
            ["localhost:3000", "LOCALHOST:3000", "127.0.0.1:3000", "[::1]:3000", "10.1.2.3", "contacts:3000"]
        {
            assert!(hosts.accepts(ok), "{ok}");
        }
        assert!(hosts.accepts("calendar:8080"));
        for bad in ["evil.example:3000", "evil.example", "contacts:3001", "contacts", "", "a@b:3000", "x:y"] {
            assert!(!hosts.accepts(bad), "{bad}");
        }
        let public = AcceptedHosts::new(&Url::parse("https://cal.example.org/").unwrap(), &[]);
        assert!(public.accepts("cal.example.org"));
        assert!(public.accepts("cal.example.org:443"));
        assert!(!public.accepts("cal.example.org:80"));
        assert!(!public.accepts("other.example.org"));
    }

    #[tokio::test]
    async fn wrong_methods_get_405_with_allow_and_the_error_shape() {
        use tower::ServiceExt;
        let app = apply(
            Router::new().route("/x", axum::routing::get(|| async { "ok" })),
            HttpOptions::new(Url::parse(PUBLIC).unwrap()),
        );
        let response =
            app.oneshot(request(Method::DELETE, &[("host", "contacts.example.org")])).await.unwrap();
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
        let response = app.oneshot(request(Method::GET, &[("host", "contacts.example.org")])).await.unwrap();
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
