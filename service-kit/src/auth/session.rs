//! Login sessions, kept in the service's own database so that logout ends a session on every
//! replica and a forged or expired cookie finds nothing.
//!
//! The cookie carries a random id (256 bits); the table stores only its SHA-256, so a copy of
//! the database does not hand out live sessions. Each service creates the table in its
//! migrations with the same columns:
//!
//! ```sql
//! CREATE TABLE sessions (
//!     id_hash    TEXT PRIMARY KEY,  -- hex SHA-256 of the cookie's value
//!     user_name  TEXT NOT NULL,
//!     created_at BIGINT NOT NULL,   -- epoch milliseconds
//!     expires_at BIGINT NOT NULL
//! );
//! ```

use std::time::Duration;

use axum::http::HeaderMap;
use axum::http::header;

use crate::config::Secret;
use crate::db::{Db, now_millis};

/// The session table of one service.
#[derive(Debug, Clone)]
pub struct Sessions {
    db: Db,
    ttl: Duration,
}

impl Sessions {
    pub fn new(db: Db, ttl: Duration) -> Self {
        Self { db, ttl }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Starts a session for `user`; returns the cookie value. Sessions that have expired are
    /// removed on the way, so the table holds only live ones (and those expired since the last login).
    pub async fn start(&self, user: &str) -> sqlx::Result<Secret> {
        let id = Secret::generate();
        let now = now_millis();
        let expires = now.saturating_add(i64::try_from(self.ttl.as_millis()).unwrap_or(i64::MAX));
        let mut tx = self.db.writer.begin().await?;
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(now).execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_name, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(hash(id.expose()))
        .bind(user)
        .bind(now)
        .bind(expires)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The user of a live session with this cookie value.
    pub async fn user(&self, id: &str) -> sqlx::Result<Option<String>> {
        sqlx::query_scalar("SELECT user_name FROM sessions WHERE id_hash = $1 AND expires_at > $2")
            .bind(hash(id))
            .bind(now_millis())
            .fetch_optional(&self.db.reader)
            .await
    }

    /// Ends the session (logout, or a new login from the same browser).
    pub async fn end(&self, id: &str) -> sqlx::Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(hash(id))
            .execute(&self.db.writer)
            .await?;
        Ok(())
    }
}

/// Hex SHA-256.
pub(crate) fn hash(value: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(value.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex
}

/// The value of the cookie `name` in the request's `Cookie` headers.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.trim_matches('"'))
        .filter(|value| !value.is_empty())
}

/// `Set-Cookie` for a session: not readable by scripts, not sent on cross-site requests other
/// than top-level navigation, HTTPS-only when the service is served over HTTPS.
pub(crate) fn set_cookie(name: &str, value: &str, max_age: Duration, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax{secure}", max_age.as_secs())
}

/// `Set-Cookie` that removes the session cookie.
pub(crate) fn clear_cookie(name: &str, secure: bool) -> String {
    set_cookie(name, "", Duration::ZERO, secure)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn the_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("a=1; contacts_session=abc ; b=2"));
        headers.append(header::COOKIE, HeaderValue::from_static("calendar_session=def"));
        assert_eq!(cookie(&headers, "contacts_session"), Some("abc"));
        assert_eq!(cookie(&headers, "calendar_session"), Some("def"));
        assert_eq!(cookie(&headers, "session"), None);
    }

    #[test]
    fn cookie_attributes() {
        let c = set_cookie("x_session", "v", Duration::from_secs(60), true);
        assert_eq!(c, "x_session=v; Path=/; Max-Age=60; HttpOnly; SameSite=Lax; Secure");
        assert!(!clear_cookie("x_session", false).contains("Secure"));
        assert!(clear_cookie("x_session", false).contains("Max-Age=0"));
    }

    #[test]
    fn hashes_are_hex_sha256() {
        assert_eq!(hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
