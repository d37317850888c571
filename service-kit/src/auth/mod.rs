//! Who may call a service: one mechanism for all three.
//!
//! - API clients send `Authorization: Bearer <token>` with one of `API_TOKENS`. Tokens are
//!   compared in constant time (`subtle`) over the whole candidate and every configured token,
//!   so response timing tells nothing about how much of a guess was right.
//! - Browsers log in at `/login` with `ADMIN_USER` / `ADMIN_PASSWORD` and get a session cookie
//!   ([`session`], [`login`]); failed attempts are answered ever more slowly ([`throttle`]).
//! - With `AUTH_JWKS_URL`, `AUTH_ISSUER` and `AUTH_AUDIENCE` set, a bearer that has the shape of
//!   a JWT is verified against the OpenID Connect provider's keys ([`crate::jwt`]): the caller
//!   is `jwt:<iss>#<sub>` with the token's `email`, an operator when it carries
//!   `AUTH_OPERATOR_SCOPE`. In that mode API tokens are no operators.
//! - With no credentials configured (allowed on loopback only, see [`settings`]) every request
//!   is the operator `anonymous`.
//!
//! The layer ([`Auth::layer`], applied by [`crate::app::router`]) checks the credentials of
//! every request, puts the [`Caller`] into the request's extensions, and refuses a request
//! without valid credentials unless its path is open (health, metrics, assets, the OpenAPI
//! document, the login page): `401` with `WWW-Authenticate: Bearer` and the JSON error shape for
//! API clients, a redirect to `/login?next=...` for browsers. Handlers that need to know who is
//! calling take a [`Caller`] argument.

pub mod login;
pub mod session;
pub mod settings;
pub mod throttle;

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::{Choice, ConstantTimeEq};
use url::Url;

use crate::config::{AppUrls, Secret};
use crate::db::Db;
use crate::error::ApiError;
use crate::jwt::{Claims, JwtVerifier, looks_like_jwt};

pub use session::Sessions;
pub use settings::AuthSettings;

/// Who made a request, after the credentials were checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// Stable, non-secret label, usable as a key in quotas, idempotency scopes and logs:
    /// "token:<16 hex chars of SHA-256 of the token>", "jwt:<iss>#<sub>", "session:<user>",
    /// "anonymous" (only when the service runs open on loopback).
    pub id: String,
    /// The e-mail address that identifies a calendar owner (JWT `email` claim); None otherwise.
    pub email: Option<String>,
    /// May do anything (API token without JWT mode, the admin session, an operator JWT).
    pub operator: bool,
}

impl Caller {
    /// The caller of a service that runs without credentials.
    pub fn anonymous() -> Self {
        Self { id: "anonymous".into(), email: None, operator: true }
    }

    /// The holder of an API token.
    pub fn token(token: &str) -> Self {
        Self { id: format!("token:{}", &session::hash(token)[..16]), email: None, operator: true }
    }

    /// The bearer of a verified JWT: `jwt:<iss>#<sub>`, its `email`, operator by
    /// `AUTH_OPERATOR_SCOPE`.
    pub fn jwt(claims: &Claims) -> Self {
        Self { id: claims.caller_id(), email: claims.email.clone(), operator: claims.operator }
    }

    /// The admin, logged in on the login page.
    pub fn session(user: &str) -> Self {
        Self { id: format!("session:{user}"), email: None, operator: true }
    }
}

/// Handlers take `caller: Caller`; the auth layer has put it there. Without one (a route the
/// layer leaves open, or a router built without the layer) the answer is `401`.
impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Caller>() {
            Some(caller) => Ok(caller.clone()),
            None => Err(challenge(
                &parts.method,
                &parts.headers,
                parts.uri.path_and_query().map(|p| p.as_str()),
                None,
            )),
        }
    }
}

/// The login page (`GET` shows it, `POST` logs in).
pub const LOGIN_PATH: &str = "/login";
/// `POST` ends the session.
pub const LOGOUT_PATH: &str = "/logout";

/// Paths every service leaves open: health, metrics, the stylesheet, the OpenAPI document and
/// the login page itself. Exact paths, or prefixes when they end with `/*`.
pub const OPEN_PATHS: &[&str] =
    &["/health/*", "/metrics", "/assets/*", "/openapi.json", LOGIN_PATH, LOGOUT_PATH];

/// The credential checker of one service.
#[derive(Clone, Debug)]
pub struct Auth {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    service: &'static str,
    settings: AuthSettings,
    sessions: Sessions,
    login: throttle::Throttle,
    cookie_name: String,
    secure_cookie: bool,
    public_url: Url,
    open_paths: Vec<&'static str>,
    /// The three services, for the login page's header.
    apps: AppUrls,
    jwt: Option<JwtVerifier>,
}

impl Auth {
    /// The checker for `service` with its settings; sessions live in `db` (table `sessions`).
    /// Logs once when the service runs without credentials.
    pub fn new(service: &'static str, settings: &AuthSettings, public_url: &Url, db: &Db) -> Self {
        throttle::describe_metrics();
        if settings.anonymous {
            tracing::warn!(
                "no credentials configured (API_TOKENS, ADMIN_PASSWORD): every request is served \
                 as the operator \"anonymous\""
            );
        }
        Self {
            inner: Arc::new(Inner {
                service,
                settings: settings.clone(),
                sessions: Sessions::new(db.clone(), settings.session_ttl),
                login: throttle::Throttle::default(),
                cookie_name: format!("{service}_session"),
                secure_cookie: public_url.scheme() == "https",
                public_url: public_url.clone(),
                open_paths: OPEN_PATHS.to_vec(),
                apps: AppUrls::default().with_own(service, public_url),
                jwt: settings.jwt.as_ref().map(|jwt| JwtVerifier::from_settings(jwt, jwks_client(service))),
            }),
        }
    }

    /// Leaves `path` (exact, or a prefix when it ends with `/*`) open to everyone as well.
    pub fn open_path(mut self, path: &'static str) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.open_paths.push(path);
        }
        self
    }

    /// Where the three services are, for the login page's header (default: localhost).
    pub fn with_apps(mut self, apps: AppUrls) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.apps = apps;
        }
        self
    }

    /// The three services, as [`Auth::with_apps`] set them.
    pub fn apps(&self) -> &AppUrls {
        &self.inner.apps
    }

    /// Name of the session cookie (`<service>_session`: one per service, since browsers share
    /// cookies between ports of one host).
    pub fn cookie_name(&self) -> &str {
        &self.inner.cookie_name
    }

    pub fn settings(&self) -> &AuthSettings {
        &self.inner.settings
    }

    pub(crate) fn service(&self) -> &'static str {
        self.inner.service
    }

    fn is_open(&self, path: &str) -> bool {
        is_open(&self.inner.open_paths, path)
    }

    /// The caller the request's credentials identify, if any. A bearer header is judged alone:
    /// a wrong token is no caller even when a session cookie comes along.
    pub async fn caller(&self, headers: &HeaderMap) -> Result<Option<Caller>, ApiError> {
        if self.inner.settings.anonymous {
            return Ok(Some(Caller::anonymous()));
        }
        if let Some(token) = bearer(headers) {
            if let Some(jwt) = &self.inner.jwt
                && looks_like_jwt(token)
            {
                return Ok(match jwt.verify(token).await {
                    Ok(claims) => Some(Caller::jwt(&claims)),
                    Err(refused) => {
                        tracing::info!(reason = %refused, "bearer JWT refused");
                        None
                    }
                });
            }
            // With JWT authentication, operators are the admin and operator JWTs; API tokens
            // remain for services calling each other.
            return Ok(self
                .is_token(token)
                .then(|| Caller { operator: self.inner.jwt.is_none(), ..Caller::token(token) }));
        }
        if let Some(id) = session::cookie(headers, &self.inner.cookie_name) {
            let user = self.inner.sessions.user(id).await?;
            return Ok(user.filter(|u| *u == self.inner.settings.admin_user).map(|u| Caller::session(&u)));
        }
        Ok(None)
    }

    /// Whether `candidate` is one of the tokens, in time independent of where it differs.
    fn is_token(&self, candidate: &str) -> bool {
        let mut found = Choice::from(0);
        for token in &self.inner.settings.tokens {
            found |= ct_eq(token.expose().as_bytes(), candidate.as_bytes());
        }
        found.into()
    }

    /// Whether user and password are the admin's (both compared in constant time).
    fn is_admin(&self, user: &str, password: &str) -> bool {
        let Some(expected) = &self.inner.settings.admin_password else { return false };
        let user_ok = ct_eq(self.inner.settings.admin_user.as_bytes(), user.as_bytes());
        let password_ok = ct_eq(expected.expose().as_bytes(), password.as_bytes());
        (user_ok & password_ok).into()
    }

    /// The middleware: see the module docs.
    pub async fn layer(self, mut req: Request, next: Next) -> Response {
        let caller = match self.caller(req.headers()).await {
            Ok(caller) => caller,
            Err(e) => return e.into_response(),
        };
        match caller {
            Some(caller) => {
                req.extensions_mut().insert(caller);
            }
            None if self.is_open(req.uri().path()) => {}
            None => {
                let wrong_bearer = bearer(req.headers()).is_some();
                let login = self.inner.public_url.join(LOGIN_PATH.trim_start_matches('/')).ok();
                let target = req.uri().path_and_query().map(|p| p.as_str().to_owned());
                return challenge(
                    req.method(),
                    req.headers(),
                    if wrong_bearer { None } else { target.as_deref() },
                    if wrong_bearer { None } else { login.as_ref() },
                );
            }
        }
        next.run(req).await
    }
}

/// The client that fetches the provider's keys (the verifier bounds each fetch itself).
fn jwks_client(service: &'static str) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::limited(3))
        .user_agent(service)
        .build()
        .unwrap_or_default()
}

fn is_open(open_paths: &[&str], path: &str) -> bool {
    open_paths.iter().any(|open| match open.strip_suffix('*') {
        Some(prefix) => path.starts_with(prefix),
        None => path == *open,
    })
}

/// The refusal of a request without valid credentials: a redirect to the login page for a
/// browser asking for a page (`login` given), else `401` with a `Bearer` challenge.
fn challenge(method: &Method, headers: &HeaderMap, target: Option<&str>, login: Option<&Url>) -> Response {
    if let Some(login) = login.filter(|_| crate::negotiate::wants_html(headers)) {
        let mut to = login.clone();
        // A form posted without a session comes back to the page it was on, not to the POST.
        let next = if method == Method::GET { target } else { None };
        if let Some(next) = next {
            to.query_pairs_mut().append_pair("next", next);
        }
        let mut response = StatusCode::SEE_OTHER.into_response();
        if let Ok(location) = HeaderValue::from_str(to.as_str()) {
            response.headers_mut().insert(header::LOCATION, location);
        }
        return response;
    }
    let mut response = ApiError::unauthorized(
        "send a valid token as \"Authorization: Bearer <token>\" (API_TOKENS), or log in at /login",
    )
    .into_response();
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// The token after `Bearer ` in the `Authorization` header (scheme case-insensitive).
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, credentials) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("Bearer").then(|| credentials.trim()).filter(|c| !c.is_empty())
}

/// Constant-time equality that also hides where two inputs of different lengths differ: it
/// always walks the longer of the two.
fn ct_eq(expected: &[u8], candidate: &[u8]) -> Choice {
    let len = expected.len().max(candidate.len());
    let mut same = (expected.len() as u64).ct_eq(&(candidate.len() as u64));
    for i in 0..len {
        let a = expected.get(i).copied().unwrap_or(0);
        let b = candidate.get(i).copied().unwrap_or(0);
        same &= a.ct_eq(&b);
    }
    same
}

/// A token for tools that generate credentials (`cargo xtask up`, the tests): 64 hex digits.
pub fn generate_token() -> Secret {
    Secret::generate()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(authorization: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(authorization).unwrap());
        h
    }

    #[test]
    fn the_bearer_token_is_read_case_insensitively_and_nothing_else() {
        assert_eq!(bearer(&headers("Bearer abc")), Some("abc"));
        assert_eq!(bearer(&headers("bearer  abc ")), Some("abc"));
        for wrong in ["Bearer ", "abc", "Basic abc", "Bearer"] {
            assert_eq!(bearer(&headers(wrong)), None, "{wrong}");
        }
    }

    #[test]
    fn constant_time_equality_handles_different_lengths() {
        assert!(bool::from(ct_eq(b"abc", b"abc")));
        assert!(!bool::from(ct_eq(b"abc", b"abcd")));
        assert!(!bool::from(ct_eq(b"abc", b"ab")));
        assert!(!bool::from(ct_eq(b"", b"\0")));
    }

    #[test]
    fn open_paths_are_exact_unless_they_end_with_a_star() {
        let paths: Vec<&str> = OPEN_PATHS.iter().copied().chain(["/"]).collect();
        let open = |path: &str| is_open(&paths, path);
        assert!(open("/health/ready") && open("/assets/style.css") && open("/") && open("/login"));
        assert!(!open("/contacts") && !open("/metrics/x") && !open("/loginx") && !open("/healthz"));
    }

    #[test]
    fn a_token_caller_is_named_by_a_hash_prefix_not_the_token() {
        let caller = Caller::token("first-token-00001");
        assert_eq!(caller.id.len(), "token:".len() + 16);
        assert!(!caller.id.contains("first"));
        assert_eq!(caller, Caller::token("first-token-00001"));
        assert_ne!(caller, Caller::token("first-token-00002"));
    }
}
