//! Who may do what: bearer tokens for the JSON API, HTTP Basic for the operator's HTML pages.
//!
//! Both compare secrets in constant time (`subtle`), and the comparison runs over the whole
//! candidate and every configured token, so response timing tells nothing about how much of a
//! guess was right or which token it was close to.
//!
//! The pages use HTTP Basic rather than a login form: it needs no session store, no cookies and
//! no CSRF token, works in every browser without JavaScript, and the browser keeps sending the
//! credentials for the rest of the visit. Use it over HTTPS outside loopback (as any password).
//!
//! The JSON API's `401` is [`crate::error::Error::Unauthorized`]; the pages' is
//! [`Auth::page_challenge`], the browser's login prompt.

use axum::http::StatusCode;
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

use service_kit::config::Secret;

use crate::config::Settings;

/// The credentials the service accepts.
#[derive(Debug, Clone)]
pub struct Auth {
    tokens: Vec<Secret>,
    admin_user: String,
    admin_password: Secret,
}

impl Auth {
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
            tokens: settings.tokens.clone(),
            admin_user: settings.admin_user.clone(),
            admin_password: settings.admin_password.clone(),
        }
    }

    /// Whether the request carries `Authorization: Bearer <one of the tokens>`.
    pub fn is_api_client(&self, headers: &HeaderMap) -> bool {
        self.api_caller(headers).is_some()
    }

    /// Who the API client is: `token:<n>` for the `n`th of `NOTIFICATION_TOKENS` (from 1), a
    /// non-secret label to key quotas and idempotency by; `None` without a valid token.
    pub fn api_caller(&self, headers: &HeaderMap) -> Option<String> {
        let candidate = authorization(headers, "Bearer")?;
        let mut found = Choice::from(0);
        let mut which = 0u32;
        for (n, token) in (1u32..).zip(&self.tokens) {
            let same = ct_eq(token.expose().as_bytes(), candidate.as_bytes());
            which = u32::conditional_select(&which, &n, same);
            found |= same;
        }
        bool::from(found).then(|| format!("token:{which}"))
    }

    /// Whether the request carries `Authorization: Basic` with the operator's credentials.
    pub fn is_operator(&self, headers: &HeaderMap) -> bool {
        let Some(encoded) = authorization(headers, "Basic") else { return false };
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
            return false;
        };
        let Some(colon) = decoded.iter().position(|&b| b == b':') else { return false };
        let (user, password) = (&decoded[..colon], &decoded[colon + 1..]);
        let user_ok = ct_eq(self.admin_user.as_bytes(), user);
        let password_ok = ct_eq(self.admin_password.expose().as_bytes(), password);
        (user_ok & password_ok).into()
    }

    /// `401` for the pages: the browser asks for the user name and password.
    pub fn page_challenge() -> Response {
        (
            StatusCode::UNAUTHORIZED,
            [
                (
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"notifications operator\", charset=\"UTF-8\""),
                ),
                (header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8")),
            ],
            "These pages need the operator's user name and password (ADMIN_USER / ADMIN_PASSWORD).\n",
        )
            .into_response()
    }
}

/// The credentials after `<scheme> ` in the `Authorization` header (scheme case-insensitive).
fn authorization<'a>(headers: &'a HeaderMap, scheme: &str) -> Option<&'a str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (given, credentials) = value.split_once(' ')?;
    given.eq_ignore_ascii_case(scheme).then(|| credentials.trim_start())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> Auth {
        Auth {
            tokens: vec![Secret::new("first-token"), Secret::new("second")],
            admin_user: "admin".into(),
            admin_password: Secret::new("pa:ss"),
        }
    }

    fn headers(authorization: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(authorization).unwrap());
        h
    }

    #[test]
    fn any_configured_token_is_accepted_and_nothing_else() {
        let auth = auth();
        assert!(auth.is_api_client(&headers("Bearer first-token")));
        assert!(auth.is_api_client(&headers("bearer second")));
        for wrong in
            ["Bearer first", "Bearer first-token2", "Bearer ", "first-token", "Basic first-token", "Bearer"]
        {
            assert!(!auth.is_api_client(&headers(wrong)), "{wrong}");
        }
        assert!(!auth.is_api_client(&HeaderMap::new()));
    }

    #[test]
    fn basic_credentials_are_checked_as_user_and_password() {
        let auth = auth();
        let basic = |s: &str| format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(s));
        assert!(auth.is_operator(&headers(&basic("admin:pa:ss"))), "the password may contain ':'");
        assert!(!auth.is_operator(&headers(&basic("admin:pa"))));
        assert!(!auth.is_operator(&headers(&basic("root:pa:ss"))));
        assert!(!auth.is_operator(&headers(&basic("adminpa:ss"))));
        assert!(!auth.is_operator(&headers("Basic !!!not-base64")));
        assert!(!auth.is_operator(&headers("Bearer first-token")));
    }

    #[test]
    fn constant_time_equality_handles_different_lengths() {
        assert!(bool::from(ct_eq(b"abc", b"abc")));
        assert!(!bool::from(ct_eq(b"abc", b"abcd")));
        assert!(!bool::from(ct_eq(b"abc", b"ab")));
        assert!(!bool::from(ct_eq(b"", b"\0")));
    }
}
