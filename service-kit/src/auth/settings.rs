//! The credential settings every service reads, and the safe default for a service that has
//! none: open on loopback, refused elsewhere unless `ALLOW_ANONYMOUS=true`.

use std::net::IpAddr;
use std::time::Duration;

use serde::Deserialize;

use crate::config::values::{ConfigError, Secret};
use crate::jwt::JwtSettings;

/// Default of `ADMIN_USER`.
pub const DEFAULT_ADMIN_USER: &str = "admin";
/// Default of `SESSION_TTL_SECS`: a working day.
pub const DEFAULT_SESSION_TTL_SECS: u64 = 8 * 3600;

/// The variables as they appear in the environment (all text, checked by hand so every
/// message names its variable).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct AuthEnv {
    api_tokens: Option<Secret>,
    api_tokens_file: Option<String>,
    admin_user: Option<String>,
    admin_password: Option<Secret>,
    admin_password_file: Option<String>,
    allow_anonymous: Option<String>,
    session_ttl_secs: Option<String>,
    auth_jwks_url: Option<String>,
    auth_issuer: Option<String>,
    auth_audience: Option<String>,
    auth_operator_scope: Option<String>,
}

/// Who may call the service, as configured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthSettings {
    /// `API_TOKENS` (comma-separated) plus the tokens in `API_TOKENS_FILE` (one a line or
    /// comma-separated): bearer tokens for the JSON API.
    pub tokens: Vec<Secret>,
    /// `ADMIN_USER`: the user name of the login page (default `admin`).
    pub admin_user: String,
    /// `ADMIN_PASSWORD` or the content of `ADMIN_PASSWORD_FILE`; without one the login page
    /// accepts nobody.
    pub admin_password: Option<Secret>,
    /// `SESSION_TTL_SECS`: how long a login session lasts (default 8 hours).
    pub session_ttl: Duration,
    /// `AUTH_JWKS_URL`, `AUTH_ISSUER`, `AUTH_AUDIENCE`, `AUTH_OPERATOR_SCOPE`: bearer JWTs from
    /// an OpenID Connect provider (see [`crate::jwt`]); `None` when not set.
    pub jwt: Option<JwtSettings>,
    /// No credentials are configured: every request is the operator `anonymous`. Only on a
    /// loopback address, or with `ALLOW_ANONYMOUS=true`.
    pub anonymous: bool,
}

impl Default for AuthSettings {
    /// Open, as on loopback with nothing configured (tests).
    fn default() -> Self {
        Self {
            tokens: Vec::new(),
            admin_user: DEFAULT_ADMIN_USER.into(),
            admin_password: None,
            session_ttl: Duration::from_secs(DEFAULT_SESSION_TTL_SECS),
            jwt: None,
            anonymous: true,
        }
    }
}

impl AuthSettings {
    /// Tokens `tokens` and the admin login `user`/`password`, for tests and tools.
    pub fn with_credentials(tokens: &[&str], user: &str, password: Option<&str>) -> Self {
        Self {
            tokens: tokens.iter().map(|t| Secret::new(*t)).collect(),
            admin_user: user.into(),
            admin_password: password.map(Secret::new),
            anonymous: false,
            ..Self::default()
        }
    }

    /// Whether any credential is configured.
    pub fn has_credentials(&self) -> bool {
        !self.tokens.is_empty() || self.admin_password.is_some() || self.jwt.is_some()
    }

    pub(crate) fn resolve(env: AuthEnv, host: IpAddr) -> Result<Self, ConfigError> {
        let mut tokens = Vec::new();
        if let Some(raw) = env.api_tokens.as_ref().filter(|s| !s.expose().trim().is_empty()) {
            tokens.extend(parse_tokens("API_TOKENS", raw.expose())?);
        }
        if let Some(path) = env.api_tokens_file.as_deref().filter(|s| !s.is_empty()) {
            let text = read_secret_file("API_TOKENS_FILE", path)?;
            tokens.extend(parse_tokens("API_TOKENS_FILE", &text.replace(['\n', '\r'], ","))?);
        }
        let admin_user =
            env.admin_user.filter(|s| !s.is_empty()).unwrap_or_else(|| DEFAULT_ADMIN_USER.into());
        if admin_user.chars().any(char::is_control) || admin_user.len() > 256 {
            return Err(ConfigError::invalid(
                "ADMIN_USER",
                "a user name without control characters, at most 256 bytes",
                &admin_user,
            ));
        }
        let admin_password = match Secret::from_value_or_file(
            "ADMIN_PASSWORD",
            env.admin_password,
            env.admin_password_file.as_deref(),
        )? {
            Some(p) => Some(check_password("ADMIN_PASSWORD", p.expose())?),
            None => None,
        };
        let allow_anonymous = match env.allow_anonymous.as_deref().map(str::trim) {
            None | Some("") => false,
            Some(v) if v.eq_ignore_ascii_case("true") || v == "1" => true,
            Some(v) if v.eq_ignore_ascii_case("false") || v == "0" => false,
            Some(v) => return Err(ConfigError::invalid("ALLOW_ANONYMOUS", "true or false", v)),
        };
        let session_ttl = match env.session_ttl_secs.as_deref().map(str::trim) {
            None | Some("") => DEFAULT_SESSION_TTL_SECS,
            Some(v) => match v.parse::<u64>() {
                Ok(secs @ 60..=2_592_000) => secs,
                _ => {
                    return Err(ConfigError::invalid(
                        "SESSION_TTL_SECS",
                        "a number of seconds from 60 to 2592000 (30 days)",
                        v,
                    ));
                }
            },
        };
        let jwt = JwtSettings::from_values(
            env.auth_jwks_url,
            env.auth_issuer,
            env.auth_audience,
            env.auth_operator_scope,
        )?;
        let mut settings = Self {
            tokens,
            admin_user,
            admin_password,
            session_ttl: Duration::from_secs(session_ttl),
            jwt,
            anonymous: false,
        };
        if !settings.has_credentials() {
            if !host.is_loopback() && !allow_anonymous {
                return Err(ConfigError::new(format!(
                    "no credentials for HOST={host}, which is not a loopback address: set API_TOKENS \
                     (or API_TOKENS_FILE) and ADMIN_PASSWORD (or ADMIN_PASSWORD_FILE), or \
                     ALLOW_ANONYMOUS=true to serve everyone"
                )));
            }
            settings.anonymous = true;
        }
        Ok(settings)
    }
}

fn parse_tokens(var: &str, raw: &str) -> Result<Vec<Secret>, ConfigError> {
    let mut tokens = Vec::new();
    for token in raw.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ConfigError::new(format!(
                "{var}: tokens must be visible ASCII characters without spaces"
            )));
        }
        if token.len() < 16 {
            return Err(ConfigError::new(format!(
                "{var}: each token needs at least 16 characters (for example `openssl rand -hex 32`)"
            )));
        }
        tokens.push(Secret::new(token));
    }
    if tokens.is_empty() {
        return Err(ConfigError::new(format!("{var}: set but contains no token")));
    }
    Ok(tokens)
}

fn check_password(var: &str, password: &str) -> Result<Secret, ConfigError> {
    if password.chars().any(char::is_control) {
        return Err(ConfigError::new(format!("{var}: must not contain control characters")));
    }
    if password.chars().count() < 8 {
        return Err(ConfigError::new(format!("{var}: needs at least 8 characters")));
    }
    Ok(Secret::new(password))
}

fn read_secret_file(var: &str, path: &str) -> Result<String, ConfigError> {
    Secret::from_file(var, path).map(|s| s.expose().clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(pairs: &[(&str, &str)], host: [u8; 4]) -> Result<AuthSettings, ConfigError> {
        let env: AuthEnv =
            envy::from_iter(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>())?;
        AuthSettings::resolve(env, IpAddr::from(host))
    }

    #[test]
    fn without_credentials_only_loopback_runs_open() {
        assert!(resolve(&[], [127, 0, 0, 1]).unwrap().anonymous);
        let err = resolve(&[], [0, 0, 0, 0]).unwrap_err().to_string();
        for var in ["API_TOKENS", "ADMIN_PASSWORD", "ALLOW_ANONYMOUS"] {
            assert!(err.contains(var), "{err}");
        }
        assert!(!err.contains('\n'), "one line: {err}");
        assert!(resolve(&[("ALLOW_ANONYMOUS", "true")], [0, 0, 0, 0]).unwrap().anonymous);
        let err = resolve(&[("ALLOW_ANONYMOUS", "yes please")], [0, 0, 0, 0]).unwrap_err();
        assert!(err.to_string().starts_with("ALLOW_ANONYMOUS"), "{err}");
    }

    #[test]
    fn a_jwt_provider_is_a_credential_and_a_partial_one_names_what_is_missing() {
        let jwt = [
            ("AUTH_JWKS_URL", "http://idp.internal/certs"),
            ("AUTH_ISSUER", "http://idp.internal/realm"),
            ("AUTH_AUDIENCE", "services"),
        ];
        let s = resolve(&jwt, [0, 0, 0, 0]).unwrap();
        assert!(!s.anonymous && s.jwt.is_some());
        let err = resolve(&jwt[..1], [127, 0, 0, 1]).unwrap_err().to_string();
        assert!(err.starts_with("AUTH_ISSUER, AUTH_AUDIENCE: required"), "{err}");
    }

    #[test]
    fn tokens_come_from_the_variable_and_the_file() {
        let dir = std::env::temp_dir().join(format!("auth-settings-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("tokens");
        std::fs::write(&file, "from-the-file-0001\nsecond-in-the-file\n").unwrap();
        let s = resolve(
            &[("API_TOKENS", " first-token-00001, ,"), ("API_TOKENS_FILE", file.to_str().unwrap())],
            [0, 0, 0, 0],
        )
        .unwrap();
        let tokens: Vec<_> = s.tokens.iter().map(|t| t.expose().as_str()).collect();
        assert_eq!(tokens, ["first-token-00001", "from-the-file-0001", "second-in-the-file"]);
        assert!(!s.anonymous);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_password_file_loses_its_final_newline_only() {
        let dir = std::env::temp_dir().join(format!("auth-settings-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("password");
        std::fs::write(&file, " spaced password \n").unwrap();
        let s = resolve(&[("ADMIN_PASSWORD_FILE", file.to_str().unwrap())], [10, 0, 0, 1]).unwrap();
        assert_eq!(s.admin_password.unwrap().expose(), " spaced password ");
        let err = resolve(
            &[("ADMIN_PASSWORD_FILE", file.to_str().unwrap()), ("ADMIN_PASSWORD", "another-one")],
            [127, 0, 0, 1],
        )
        .unwrap_err();
        assert!(err.to_string().contains("set only one"), "{err}");
        assert!(err.to_string().starts_with("ADMIN_PASSWORD and ADMIN_PASSWORD_FILE"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn bad_values_name_their_variable_and_hide_the_secret() {
        for (var, value) in [
            ("API_TOKENS", "short"),
            ("API_TOKENS", "with space in the token"),
            ("API_TOKENS", ",,"),
            ("ADMIN_PASSWORD", "short"),
            ("ADMIN_PASSWORD", "has a\ttab in it"),
            ("API_TOKENS_FILE", "/nonexistent/tokens"),
            ("SESSION_TTL_SECS", "5"),
        ] {
            let err = resolve(&[(var, value)], [127, 0, 0, 1]).unwrap_err().to_string();
            assert!(err.starts_with(var), "{var}={value}: {err}");
            if var != "API_TOKENS_FILE" && var != "SESSION_TTL_SECS" {
                assert!(!err.contains(value), "{var}: the value is a secret: {err}");
            }
        }
    }
}
