//! Bearer tokens from an OpenID Connect provider: JWTs signed with RS256 or ES256, checked
//! against the provider's published keys (JWKS).
//!
//! [`JwtSettings`] holds `AUTH_JWKS_URL`, `AUTH_ISSUER`, `AUTH_AUDIENCE` (all three or none) and
//! the optional `AUTH_OPERATOR_SCOPE`. [`JwtVerifier::verify`] accepts a token only when
//! - its header names a key (`kid`) the JWKS holds, and the algorithm the header states is the
//!   one that key is for (RS256 for an RSA key, ES256 for a P-256 key). The algorithm comes from
//!   the key: `alg: none`, an HMAC algorithm, or RS256 against an EC key are refused, whatever the
//!   header says;
//! - the signature verifies with that key;
//! - `exp`, `iss`, `aud` and `sub` are present, `iss` is `AUTH_ISSUER`, `aud` is (or contains)
//!   `AUTH_AUDIENCE`, and `exp` and `nbf` (when present) hold within [`CLOCK_SKEW`].
//!
//! Keys are cached ([`keys`]): a token naming an unknown `kid` triggers a refetch (at most one
//! per [`JwtSettings::refetch_interval`]), so keys the provider rotates in are picked up, and a
//! flood of made-up `kid`s costs the provider one request per interval. Keys older than
//! [`JwtSettings::max_age`] are refreshed in the background, so keys the provider withdrew stop
//! being accepted. A fetch is bounded in time and size; while the provider is down, tokens signed
//! with cached keys keep working and nothing waits longer than one fetch timeout.

mod keys;
mod settings;

use std::sync::Arc;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;

pub use settings::{CLOCK_SKEW, JwtSettings};

use keys::KeyCache;

/// What a verified token says about its bearer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claims {
    /// `sub`: the provider's id of the user (or client).
    pub sub: String,
    /// `iss`: the provider (always `AUTH_ISSUER`).
    pub iss: String,
    /// `email`, unless absent or marked `"email_verified": false`.
    pub email: Option<String>,
    /// Whether the token carries `AUTH_OPERATOR_SCOPE` in its `scope` (space-separated),
    /// `scp` (a string or a list) or `roles` (a list) claim.
    pub operator: bool,
}

impl Claims {
    /// The stable label of the bearer, `jwt:<iss>#<sub>`.
    pub fn caller_id(&self) -> String {
        format!("jwt:{}#{}", self.iss, self.sub)
    }
}

/// Why a token was refused. The text names the reason, never the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("not a well-formed JWT")]
    Malformed,
    #[error("the token header names no key (kid)")]
    MissingKid,
    #[error("no key {0:?} in the provider's key set")]
    UnknownKey(String),
    #[error("the token's algorithm is not the one its key is for")]
    WrongAlgorithm,
    #[error("the signature does not verify")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("wrong issuer")]
    WrongIssuer,
    #[error("wrong audience")]
    WrongAudience,
    #[error("the token lacks the {0} claim")]
    MissingClaim(String),
    #[error("the token's claims are malformed")]
    BadClaims,
}

/// Verifies bearer JWTs against one provider. Cheap to clone (shares the key cache).
#[derive(Clone, Debug)]
pub struct JwtVerifier {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    issuer: String,
    audience: String,
    operator_scope: Option<String>,
    rs256: Validation,
    es256: Validation,
    keys: KeyCache,
}

impl JwtVerifier {
    /// A verifier that fetches keys with `client` (the service's HTTP client; the fetch sets its
    /// own timeout). No request is made until the first token arrives.
    pub fn from_settings(settings: &JwtSettings, client: reqwest::Client) -> Self {
        let validation = |alg| {
            let mut v = Validation::new(alg);
            v.leeway = CLOCK_SKEW.as_secs();
            v.validate_exp = true;
            v.validate_nbf = true;
            v.validate_aud = true;
            v.set_issuer(&[&settings.issuer]);
            v.set_audience(&[&settings.audience]);
            v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
            v
        };
        Self {
            inner: Arc::new(Inner {
                issuer: settings.issuer.clone(),
                audience: settings.audience.clone(),
                operator_scope: settings.operator_scope.clone(),
                rs256: validation(Algorithm::RS256),
                es256: validation(Algorithm::ES256),
                keys: KeyCache::new(settings, client),
            }),
        }
    }

    /// The issuer tokens must name.
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The audience tokens must name.
    pub fn audience(&self) -> &str {
        &self.inner.audience
    }

    /// How many times the key set was requested from the provider (successful or not).
    pub fn jwks_fetches(&self) -> u64 {
        self.inner.keys.fetches()
    }

    /// Checks `bearer` and returns its claims.
    pub async fn verify(&self, bearer: &str) -> Result<Claims, JwtError> {
        if !looks_like_jwt(bearer) {
            return Err(JwtError::Malformed);
        }
        // The header is read unverified only to pick the key; `alg: none` and unknown
        // algorithms fail to parse here already.
        let header = jsonwebtoken::decode_header(bearer).map_err(|_| JwtError::Malformed)?;
        let kid = header.kid.filter(|k| !k.is_empty()).ok_or(JwtError::MissingKid)?;
        let key = self.inner.keys.get(&kid).await.ok_or(JwtError::UnknownKey(kid))?;
        if header.alg != key.alg {
            return Err(JwtError::WrongAlgorithm);
        }
        let validation = match key.alg {
            Algorithm::ES256 => &self.inner.es256,
            _ => &self.inner.rs256,
        };
        let data = jsonwebtoken::decode::<RawClaims>(bearer, &key.key, validation).map_err(refusal)?;
        let raw = data.claims;
        let operator = self.inner.operator_scope.as_deref().is_some_and(|scope| raw.grants(scope));
        let email = match raw.email_verified {
            Some(false) => None,
            _ => raw.email.clone().filter(|e| !e.is_empty()),
        };
        let sub = raw.sub.ok_or_else(|| JwtError::MissingClaim("sub".into()))?;
        let iss = raw.iss.ok_or_else(|| JwtError::MissingClaim("iss".into()))?;
        Ok(Claims { sub, iss, email, operator })
    }
}

/// Whether `bearer` has the shape of a JWS in compact form (three base64url parts, the first a
/// JSON object), as opposed to an opaque API token.
pub fn looks_like_jwt(bearer: &str) -> bool {
    let parts: Vec<&str> = bearer.split('.').collect();
    parts.len() == 3
        && bearer.starts_with("eyJ")
        && parts[..2].iter().all(|p| !p.is_empty())
        && parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

fn refusal(e: jsonwebtoken::errors::Error) -> JwtError {
    match e.kind() {
        ErrorKind::InvalidSignature => JwtError::BadSignature,
        ErrorKind::ExpiredSignature => JwtError::Expired,
        ErrorKind::ImmatureSignature => JwtError::NotYetValid,
        ErrorKind::InvalidIssuer => JwtError::WrongIssuer,
        ErrorKind::InvalidAudience => JwtError::WrongAudience,
        ErrorKind::MissingRequiredClaim(claim) => JwtError::MissingClaim(claim.clone()),
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => JwtError::WrongAlgorithm,
        ErrorKind::InvalidToken | ErrorKind::Base64(_) | ErrorKind::Utf8(_) => JwtError::Malformed,
        _ => JwtError::BadClaims,
    }
}

/// The claims read from a token (the registered ones are checked by `jsonwebtoken`).
#[derive(Debug, Deserialize)]
struct RawClaims {
    // Optional here so that a missing one is reported as missing by the validation.
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    iss: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    email_verified: Option<bool>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    scp: Option<StringOrList>,
    #[serde(default)]
    roles: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum StringOrList {
    One(String),
    Many(Vec<String>),
}

impl RawClaims {
    fn grants(&self, scope: &str) -> bool {
        let in_words = |s: &str| s.split_ascii_whitespace().any(|w| w == scope);
        self.scope.as_deref().is_some_and(in_words)
            || match &self.scp {
                Some(StringOrList::One(s)) => in_words(s),
                Some(StringOrList::Many(list)) => list.iter().any(|s| s == scope),
                None => false,
            }
            || self.roles.as_ref().is_some_and(|roles| roles.iter().any(|r| r == scope))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_compact_jws_shapes_look_like_jwts() {
        assert!(looks_like_jwt("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"));
        assert!(!looks_like_jwt("0123456789abcdef0123456789abcdef"));
        assert!(!looks_like_jwt("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0"));
        assert!(!looks_like_jwt("eyJ.a.b.c"));
        assert!(!looks_like_jwt("eyJhbGciOiJSUzI1NiJ9..c2ln"));
        assert!(!looks_like_jwt("eyJhbGci OiJ9.eyJzdWIiOiJ4In0.c2ln"));
    }

    #[test]
    fn the_operator_scope_is_found_in_scope_scp_or_roles() {
        let raw = |json: serde_json::Value| serde_json::from_value::<RawClaims>(json).unwrap();
        let base = serde_json::json!({"sub": "s", "iss": "i"});
        let with = |k: &str, v: serde_json::Value| {
            let mut c = base.clone();
            c[k] = v;
            raw(c)
        };
        assert!(with("scope", "openid calendar:admin".into()).grants("calendar:admin"));
        assert!(!with("scope", "openid calendar:admin-lite".into()).grants("calendar:admin"));
        assert!(with("scp", serde_json::json!(["a", "calendar:admin"])).grants("calendar:admin"));
        assert!(with("scp", "calendar:admin".into()).grants("calendar:admin"));
        assert!(with("roles", serde_json::json!(["calendar:admin"])).grants("calendar:admin"));
        assert!(!raw(base).grants("calendar:admin"));
    }
}
