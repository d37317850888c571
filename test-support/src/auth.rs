//! Black-box checks of service-kit's credentials, the same for every service: each service's
//! tests list their guarded routes and call these against an instance started with
//! [`TOKEN`], [`USER`] and [`PASSWORD`].

use std::time::{Duration, Instant};

use base64::Engine;

use reqwest::header::{
    ACCEPT, AUTHORIZATION, CONTENT_TYPE, COOKIE, HeaderValue, LOCATION, SET_COOKIE, WWW_AUTHENTICATE,
};
use reqwest::{Method, StatusCode};

use crate::TestClient;

/// The API token the instance under test accepts.
pub const TOKEN: &str = "access-test-token-0123456789";
/// The admin login of the instance under test.
pub const USER: &str = "operator";
pub const PASSWORD: &str = "access-test-password";

/// A request that needs credentials.
#[derive(Debug, Clone)]
pub struct Guarded {
    pub method: Method,
    pub path: String,
    /// Content type and body.
    pub body: Option<(&'static str, String)>,
}

impl Guarded {
    pub fn get(path: impl Into<String>) -> Self {
        Self { method: Method::GET, path: path.into(), body: None }
    }

    pub fn json(method: Method, path: impl Into<String>, body: &serde_json::Value) -> Self {
        Self { method, path: path.into(), body: Some(("application/json", body.to_string())) }
    }

    pub fn form(path: impl Into<String>, fields: &[(&str, &str)]) -> Self {
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
        Self {
            method: Method::POST,
            path: path.into(),
            body: Some(("application/x-www-form-urlencoded", body)),
        }
    }

    pub fn delete(path: impl Into<String>) -> Self {
        Self { method: Method::DELETE, path: path.into(), body: None }
    }

    fn request(&self, client: &TestClient) -> reqwest::RequestBuilder {
        let mut request = client.http.request(self.method.clone(), client.url(&self.path));
        if let Some((content_type, body)) = &self.body {
            request = request.header(CONTENT_TYPE, *content_type).body(body.clone());
        }
        request
    }
}

/// Every route answers `401` with a `Bearer` challenge and the JSON error shape without
/// credentials, with a wrong token, with HTTP Basic of the admin's login and with a forged
/// session cookie; and a browser asking for a page without a session is sent to the login
/// page. Whether anything changed is for the caller to check afterwards.
pub async fn every_route_refuses_without_credentials(
    client: &TestClient,
    cookie_name: &str,
    routes: &[Guarded],
) {
    let basic =
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}")));
    let forged = format!("{cookie_name}={}", "ab".repeat(32));
    let wrong: [(&str, Option<(reqwest::header::HeaderName, String)>); 6] = [
        ("no credentials", None),
        ("a wrong token", Some((AUTHORIZATION, "Bearer wrong-token-0123456789".into()))),
        ("a prefix of the token", Some((AUTHORIZATION, format!("Bearer {}", &TOKEN[..TOKEN.len() - 1])))),
        ("the token without its scheme", Some((AUTHORIZATION, TOKEN.into()))),
        ("the admin's login as HTTP Basic", Some((AUTHORIZATION, basic))),
        ("a forged session cookie", Some((COOKIE, forged))),
    ];
    for route in routes {
        for (what, header) in &wrong {
            let mut request = route.request(client).header(ACCEPT, "application/json");
            if let Some((name, value)) = header {
                request = request.header(name.clone(), value.as_str());
            }
            let response = request.send().await.expect("send");
            let label = format!("{} {} with {what}", route.method, route.path);
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{label}");
            assert_eq!(
                response.headers().get(WWW_AUTHENTICATE).map(HeaderValue::as_bytes),
                Some(&b"Bearer"[..]),
                "{label}"
            );
            let body = crate::json_body(response).await;
            assert_eq!(body["error"], "unauthorized", "{label}: {body}");
        }
        if route.method == Method::GET {
            let response = route.request(client).header(ACCEPT, "text/html").send().await.expect("send");
            assert_eq!(
                response.status(),
                StatusCode::SEE_OTHER,
                "a browser at {} is sent to log in",
                route.path
            );
            let location = response.headers()[LOCATION].to_str().unwrap_or_default().to_string();
            let next: String = url::form_urlencoded::byte_serialize(route.path.as_bytes()).collect();
            assert!(location.contains(&format!("/login?next={next}")), "{}: {location}", route.path);
        }
    }
}

/// The same routes with the token: not `401` (each route's own answer is its own business).
pub async fn every_route_lets_the_token_in(client: &TestClient, routes: &[Guarded]) {
    for route in routes {
        let response = route.request(client).bearer_auth(TOKEN).send().await.expect("send");
        assert_ne!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{} {} with the token",
            route.method,
            route.path
        );
    }
}

/// The login page: failed attempts are refused, ever more slowly, and counted; the right login
/// sets a proper session cookie that opens `page`; logging in again gives a new session and ends
/// the old one; logout ends the session; a forged cookie is refused.
pub async fn login_sets_a_proper_cookie_and_logout_ends_it(
    client: &TestClient,
    cookie_name: &str,
    page: &str,
    secure: bool,
) {
    let login = client.get("/login").await;
    assert_eq!(login.status(), 200);
    let form = login.text().await.expect("the login page");
    assert!(form.contains("name=\"password\"") && form.contains("action=\"/login\""), "{form}");

    let failures_before = counter(client, "login_attempts_total", "failure").await;
    let mut delays = Vec::new();
    for attempt in 1..=3 {
        let started = Instant::now();
        let response = post_login(client, USER, &format!("wrong-password-{attempt}"), Some(page), None).await;
        delays.push(started.elapsed());
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "attempt {attempt}");
        assert!(response.headers().get(SET_COOKIE).is_none(), "a failed login sets no cookie");
    }
    let response = post_login(client, "someone-else", PASSWORD, Some(page), None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "the right password for another user");
    for (n, delay) in delays.iter().enumerate() {
        let least = Duration::from_millis(250) * (1 << n);
        assert!(*delay >= least, "failure {} answered after {delay:?}, before {least:?}", n + 1);
    }
    let failures = counter(client, "login_attempts_total", "failure").await;
    assert!(failures >= failures_before + 4.0, "failures counted: {failures_before} -> {failures}");

    let successes_before = counter(client, "login_attempts_total", "success").await;
    let response = post_login(client, USER, PASSWORD, Some(page), None).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], page, "back to the page that asked for the login");
    let first = session_cookie(&response, cookie_name, secure);
    assert!(counter(client, "login_attempts_total", "success").await >= successes_before + 1.0);
    assert_eq!(page_status(client, page, &first).await, StatusCode::OK, "the session opens {page}");

    let forged = format!("{cookie_name}={}", "0f".repeat(32));
    assert_eq!(page_status(client, page, &forged).await, StatusCode::SEE_OTHER, "a forged cookie");

    // A new login from the same browser: a new id, and the old one is no longer valid.
    let response = post_login(client, USER, PASSWORD, None, Some(&first)).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let second = session_cookie(&response, cookie_name, secure);
    assert_ne!(first, second, "a new session id at every login");
    assert_eq!(
        page_status(client, page, &first).await,
        StatusCode::SEE_OTHER,
        "the session before the new login"
    );
    assert_eq!(page_status(client, page, &second).await, StatusCode::OK);

    let response =
        client.http.post(client.url("/logout")).header(COOKIE, &second).send().await.expect("POST /logout");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let cleared = response.headers()[SET_COOKIE].to_str().unwrap_or_default().to_string();
    assert!(cleared.starts_with(&format!("{cookie_name}=;")) && cleared.contains("Max-Age=0"), "{cleared}");
    assert_eq!(page_status(client, page, &second).await, StatusCode::SEE_OTHER, "the session after logout");
}

async fn post_login(
    client: &TestClient,
    user: &str,
    password: &str,
    next: Option<&str>,
    cookie: Option<&str>,
) -> reqwest::Response {
    let mut fields = vec![("user", user), ("password", password)];
    if let Some(next) = next {
        fields.push(("next", next));
    }
    let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
    let mut request = client
        .http
        .post(client.url("/login"))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body);
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, cookie);
    }
    request.send().await.expect("POST /login")
}

/// `name=value` of the session cookie set by `response`, after checking its attributes.
fn session_cookie(response: &reqwest::Response, name: &str, secure: bool) -> String {
    let set = response.headers()[SET_COOKIE].to_str().expect("ASCII").to_string();
    let mut parts = set.split(';').map(str::trim);
    let pair = parts.next().unwrap_or_default().to_string();
    let attributes: Vec<&str> = parts.collect();
    let value = pair.strip_prefix(&format!("{name}=")).unwrap_or_else(|| panic!("cookie {name}: {set}"));
    assert!(value.len() >= 32 && value.bytes().all(|b| b.is_ascii_hexdigit()), "a long random id: {set}");
    for wanted in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(attributes.contains(&wanted), "{wanted} in {set}");
    }
    let max_age =
        attributes.iter().find_map(|a| a.strip_prefix("Max-Age=")).and_then(|v| v.parse::<u64>().ok());
    assert!(max_age.is_some_and(|s| s > 0), "an expiring cookie: {set}");
    assert_eq!(attributes.contains(&"Secure"), secure, "Secure when PUBLIC_URL is https: {set}");
    pair
}

/// The status of `page`, requested as a browser with `cookie`.
async fn page_status(client: &TestClient, page: &str, cookie: &str) -> StatusCode {
    client
        .http
        .get(client.url(page))
        .header(ACCEPT, "text/html")
        .header(COOKIE, cookie)
        .send()
        .await
        .expect("GET page")
        .status()
}

/// The value of `name{outcome="..."}` on `/metrics` (0 when absent).
pub async fn counter(client: &TestClient, name: &str, outcome: &str) -> f64 {
    let text = client.get("/metrics").await.text().await.expect("/metrics");
    let series = format!("{name}{{outcome=\"{outcome}\"}}");
    text.lines().find_map(|l| l.strip_prefix(&series).and_then(|v| v.trim().parse().ok())).unwrap_or(0.0)
}
