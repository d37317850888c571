//! `AUTH_JWKS_URL`, `AUTH_ISSUER`, `AUTH_AUDIENCE`, `AUTH_OPERATOR_SCOPE`.

use std::time::Duration;

use url::Url;

use crate::config::values::ConfigError;

/// How far `exp` and `nbf` may be off the service's clock (both ways).
pub const CLOCK_SKEW: Duration = Duration::from_secs(60);

/// Settings of JWT authentication, read with the other credential settings
/// ([`crate::auth::AuthSettings::jwt`], `None` when JWT authentication is off), or built with
/// [`JwtSettings::new`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JwtSettings {
    /// `AUTH_JWKS_URL`: the provider's key set (`jwks_uri` of its OpenID configuration).
    pub jwks_url: Url,
    /// `AUTH_ISSUER`: the exact `iss` tokens must carry.
    pub issuer: String,
    /// `AUTH_AUDIENCE`: the `aud` tokens must carry (the client id of this system at the provider).
    pub audience: String,
    /// `AUTH_OPERATOR_SCOPE`: a token carrying this in `scope`, `scp` or `roles` is an operator
    /// (may do anything). Unset: no token is.
    pub operator_scope: Option<String>,
    /// Longest a key-set fetch may take, body included (5 s).
    pub fetch_timeout: Duration,
    /// Largest key set read (256 KiB).
    pub max_jwks_bytes: usize,
    /// Least time between two fetches of the key set (30 s): an unknown `kid` within this time
    /// of the last fetch is refused without asking the provider.
    pub refetch_interval: Duration,
    /// Age after which the cached key set is refreshed in the background (10 min).
    pub max_age: Duration,
}

impl JwtSettings {
    /// Settings with the given provider and the default bounds.
    pub fn new(jwks_url: Url, issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            jwks_url,
            issuer: issuer.into(),
            audience: audience.into(),
            operator_scope: None,
            fetch_timeout: Duration::from_secs(5),
            max_jwks_bytes: 256 * 1024,
            refetch_interval: Duration::from_secs(30),
            max_age: Duration::from_secs(600),
        }
    }

    /// The settings from the values of `AUTH_JWKS_URL`, `AUTH_ISSUER`, `AUTH_AUDIENCE` and
    /// `AUTH_OPERATOR_SCOPE` (unset or blank: `None`).
    pub fn from_values(
        url: Option<String>,
        issuer: Option<String>,
        audience: Option<String>,
        scope: Option<String>,
    ) -> Result<Option<Self>, ConfigError> {
        let set = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        let (url, issuer, audience, scope) = (set(url), set(issuer), set(audience), set(scope));
        let (url, issuer, audience) = match (url, issuer, audience) {
            (None, None, None) if scope.is_none() => return Ok(None),
            (Some(url), Some(issuer), Some(audience)) => (url, issuer, audience),
            (url, issuer, audience) => {
                let missing: Vec<&str> = [
                    ("AUTH_JWKS_URL", url.is_none()),
                    ("AUTH_ISSUER", issuer.is_none()),
                    ("AUTH_AUDIENCE", audience.is_none()),
                ]
                .into_iter()
                .filter_map(|(name, absent)| absent.then_some(name))
                .collect();
                return Err(ConfigError::new(format!(
                    "{}: required for JWT authentication (set AUTH_JWKS_URL, AUTH_ISSUER and \
                     AUTH_AUDIENCE together, or none of them)",
                    missing.join(", ")
                )));
            }
        };
        let jwks_url = Url::parse(&url)
            .ok()
            .filter(|u| u.scheme() == "http" && u.host().is_some())
            .ok_or_else(|| {
                let expected = if url.starts_with("https:") {
                    "an http:// URL (this build fetches keys over plain HTTP; reach an https \
                     provider through a TLS-originating proxy)"
                } else {
                    "an absolute http:// URL"
                };
                ConfigError::invalid("AUTH_JWKS_URL", expected, &url)
            })?;
        let mut settings = Self::new(jwks_url, issuer, audience);
        settings.operator_scope = scope;
        Ok(Some(settings))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(pairs: &[(&str, &str)]) -> Result<Option<JwtSettings>, ConfigError> {
        let get = |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string());
        JwtSettings::from_values(
            get("AUTH_JWKS_URL"),
            get("AUTH_ISSUER"),
            get("AUTH_AUDIENCE"),
            get("AUTH_OPERATOR_SCOPE"),
        )
    }

    #[test]
    fn no_variables_means_jwt_authentication_is_off() {
        assert!(from(&[]).unwrap().is_none());
        assert!(from(&[("AUTH_ISSUER", " ")]).unwrap().is_none());
    }

    #[test]
    fn all_three_variables_turn_it_on() {
        let s = from(&[
            ("AUTH_JWKS_URL", "http://idp.internal/certs"),
            ("AUTH_ISSUER", "http://idp.internal/realm"),
            ("AUTH_AUDIENCE", "calendar"),
            ("AUTH_OPERATOR_SCOPE", "calendar:admin"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(s.jwks_url.as_str(), "http://idp.internal/certs");
        assert_eq!((s.issuer.as_str(), s.audience.as_str()), ("http://idp.internal/realm", "calendar"));
        assert_eq!(s.operator_scope.as_deref(), Some("calendar:admin"));
    }

    #[test]
    fn a_partial_set_names_the_missing_variables() {
        let err = from(&[("AUTH_JWKS_URL", "http://idp/certs")]).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("AUTH_ISSUER, AUTH_AUDIENCE: required"), "{msg}");
        let err = from(&[("AUTH_OPERATOR_SCOPE", "admin")]).unwrap_err();
        assert!(err.to_string().starts_with("AUTH_JWKS_URL, AUTH_ISSUER, AUTH_AUDIENCE:"), "{err}");
    }

    #[test]
    fn the_jwks_url_must_be_absolute_http() {
        for url in ["/certs", "ftp://idp/certs", "https://idp/certs"] {
            let err =
                from(&[("AUTH_JWKS_URL", url), ("AUTH_ISSUER", "i"), ("AUTH_AUDIENCE", "a")]).unwrap_err();
            assert!(err.to_string().starts_with("AUTH_JWKS_URL: expected"), "{url}: {err}");
        }
    }
}
