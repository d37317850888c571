//! `GET /login`, `POST /login` and `POST /logout`: the admin's login for the HTML pages.
//!
//! Failed attempts are answered ever more slowly ([`super::throttle`]); every attempt is
//! counted in `login_attempts_total{outcome}`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;

use super::{Auth, LOGIN_PATH, LOGOUT_PATH, session};
use crate::error::ApiError;
use crate::html::Site;

/// Longest user name or password read from the form.
const MAX_FIELD_BYTES: usize = 1024;

/// The login routes of a service (state applied).
pub fn router(auth: Auth) -> Router {
    Router::new()
        .route(LOGIN_PATH, get(login_page).post(log_in))
        .route(LOGOUT_PATH, post(log_out))
        .with_state(auth)
}

#[derive(Debug, Deserialize)]
struct NextQuery {
    next: Option<String>,
}

async fn login_page(State(auth): State<Auth>, Query(query): Query<NextQuery>) -> Response {
    let next = safe_next(query.next.as_deref());
    page(&auth, StatusCode::OK, next, None)
}

async fn log_in(State(auth): State<Auth>, headers: HeaderMap, body: Bytes) -> Response {
    let mut user = None;
    let mut password = None;
    let mut next = None;
    for (key, value) in url::form_urlencoded::parse(&body) {
        match key.as_ref() {
            "user" => user = Some(value.into_owned()),
            "password" => password = Some(value.into_owned()),
            "next" => next = Some(value.into_owned()),
            _ => {}
        }
    }
    let next = safe_next(next.as_deref());
    let (Some(user), Some(password)) = (user, password) else {
        return page(&auth, StatusCode::BAD_REQUEST, next, Some("Enter the user name and the password."));
    };
    if user.len() > MAX_FIELD_BYTES || password.len() > MAX_FIELD_BYTES {
        return page(&auth, StatusCode::BAD_REQUEST, next, Some("The user name or password is too long."));
    }

    let ok = auth.inner.login.attempt(|| auth.is_admin(&user, &password)).await;
    metrics::counter!("login_attempts_total", "outcome" => if ok { "success" } else { "failure" })
        .increment(1);
    if !ok {
        tracing::warn!(user = %user.chars().take(64).collect::<String>(), "failed login");
        return page(&auth, StatusCode::UNAUTHORIZED, next, Some("Wrong user name or password."));
    }

    // A new id at every login; a session this browser held before ends now.
    if let Some(old) = session::cookie(&headers, auth.cookie_name())
        && let Err(e) = auth.inner.sessions.end(old).await
    {
        return ApiError::from(e).into_response();
    }
    let id = match auth.inner.sessions.start(&auth.inner.settings.admin_user).await {
        Ok(id) => id,
        Err(e) => return ApiError::from(e).into_response(),
    };
    tracing::info!(user = %auth.inner.settings.admin_user, "logged in");
    let cookie = session::set_cookie(
        auth.cookie_name(),
        id.expose(),
        auth.inner.sessions.ttl(),
        auth.inner.secure_cookie,
    );
    redirect(next.unwrap_or("/"), Some(cookie))
}

async fn log_out(State(auth): State<Auth>, headers: HeaderMap) -> Response {
    if let Some(id) = session::cookie(&headers, auth.cookie_name())
        && let Err(e) = auth.inner.sessions.end(id).await
    {
        return ApiError::from(e).into_response();
    }
    redirect(LOGIN_PATH, Some(session::clear_cookie(auth.cookie_name(), auth.inner.secure_cookie)))
}

fn redirect(to: &str, cookie: Option<String>) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(to) {
        headers.insert(header::LOCATION, location);
    }
    if let Some(cookie) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        headers.insert(header::SET_COOKIE, cookie);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `next` only when it is a path on this service (`/...`, not `//host` or `/\host`), so the
/// login page cannot be used to send someone elsewhere.
fn safe_next(next: Option<&str>) -> Option<&str> {
    next.filter(|n| {
        n.starts_with('/')
            && !n.starts_with("//")
            && !n.starts_with("/\\")
            && n.len() <= 2048
            && !n.chars().any(|c| c.is_control())
    })
}

fn page(auth: &Auth, status: StatusCode, next: Option<&str>, error: Option<&str>) -> Response {
    let site = Site { name: auth.service(), home: "/".into(), nav: vec![], apps: auth.apps().clone() };
    let body: Markup = html! {
        h1 { "Log in" }
        @if let Some(error) = error {
            p.error role="alert" { (error) }
        }
        form method="post" action=(LOGIN_PATH) {
            @if let Some(next) = next {
                input type="hidden" name="next" value=(next);
            }
            label { "User name " input type="text" name="user" autocomplete="username" required; }
            label { "Password " input type="password" name="password" autocomplete="current-password" required; }
            button type="submit" { "Log in" }
        }
    };
    let mut response = (status, site.page("Log in", None, body)).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_service() {
        assert_eq!(safe_next(Some("/contacts?x=1")), Some("/contacts?x=1"));
        for bad in ["//evil.example/", "/\\evil.example", "https://evil.example/", "contacts", "/a\nb"] {
            assert_eq!(safe_next(Some(bad)), None, "{bad}");
        }
    }
}
