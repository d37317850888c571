//! The two kinds of value every settings struct is made of, apart from the settings
//! themselves (so that modules which parse settings of their own need nothing else of
//! [`super`]).

use serde::Deserialize;

/// A configuration problem, with the variable it concerns in the message.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

impl ConfigError {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }

    /// An error for one variable: `VAR: expected <what>, got "<value>"`.
    pub fn invalid(var: &str, expected: &str, got: &str) -> Self {
        Self(format!("{var}: expected {expected}, got {got:?}"))
    }
}

impl From<envy::Error> for ConfigError {
    fn from(e: envy::Error) -> Self {
        match e {
            envy::Error::MissingValue(field) => {
                Self(format!("{}: required but not set", field.to_uppercase()))
            }
            // envy's custom errors already name the variable ("... provided by PORT").
            envy::Error::Custom(msg) => Self(msg),
        }
    }
}

/// A secret setting (a token, a password, a URL with credentials): hidden from `Debug`, so it
/// never reaches a log line through `?settings`; read it with [`Secret::expose`].
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret<T = String>(T);

impl<T> Secret<T> {
    pub fn new(value: impl Into<T>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl Secret<String> {
    /// 32 random bytes as 64 hex digits, for credentials generated at start.
    pub fn generate() -> Self {
        let (a, b) = (uuid::Uuid::new_v4().as_u128(), uuid::Uuid::new_v4().as_u128());
        // Both come from the operating system's random generator (v4: 122 random bits each).
        Self(format!("{a:032x}{b:032x}"))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The content of the file at `path` (a Docker or Kubernetes secret), without the one line
    /// break editors and `echo` put at its end. `var` names the `..._FILE` variable in errors.
    pub fn from_file(var: &str, path: &str) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::new(format!("{var}: cannot read {path:?}: {e}")))?;
        let value = text.strip_suffix('\n').unwrap_or(&text);
        let value = value.strip_suffix('\r').unwrap_or(value);
        Ok(Self(value.to_string()))
    }

    /// `VAR` or the content of `VAR_FILE` (setting both is an error naming them), `None` when
    /// neither is set or the value is empty.
    pub fn from_value_or_file(
        var: &str,
        value: Option<Self>,
        file: Option<&str>,
    ) -> Result<Option<Self>, ConfigError> {
        let value = value.filter(|v| !v.is_empty());
        match (value, file.filter(|f| !f.is_empty())) {
            (Some(_), Some(_)) => Err(ConfigError::new(format!("{var} and {var}_FILE: set only one"))),
            (Some(v), None) => Ok(Some(v)),
            (None, Some(path)) => {
                Ok(Some(Self::from_file(&format!("{var}_FILE"), path)?).filter(|v| !v.is_empty()))
            }
            (None, None) => Ok(None),
        }
    }
}

impl<T> std::fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"***\"")
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Secret<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(Self)
    }
}
