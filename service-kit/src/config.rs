//! Configuration from the environment (12-factor), parsed once at start-up into typed structs.
//!
//! Every service reads [`CommonSettings`] (the variables all three share) plus its own struct.
//! Both come from the same environment; each ignores the variables it does not know. A missing or
//! malformed value is a [`ConfigError`] naming the variable; `main` turns it into a one-line
//! message and exit code 2 with [`exit_on_error`].

use std::net::IpAddr;
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::auth::settings::{AuthEnv, AuthSettings};

pub(crate) mod values;
pub use values::{ConfigError, Secret};

/// Exit code for a configuration error (like `EX_USAGE`-style "you called me wrong").
pub const CONFIG_EXIT_CODE: i32 = 2;

/// Default of `HEADER_READ_TIMEOUT_SECS`.
pub const DEFAULT_HEADER_READ_TIMEOUT_SECS: u64 = 10;
/// Default of `MAX_HEADER_BYTES`: room for any sane request (browsers send 1 to 2 KiB; these
/// services set no cookies), far below what would cost memory.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 32 * 1024;
/// Bounds of `MAX_HEADER_BYTES`.
const MIN_MAX_HEADER_BYTES: usize = 1024;
const MAX_MAX_HEADER_BYTES: usize = 256 * 1024;

/// Parses `T` from the process environment.
pub fn from_env<T: DeserializeOwned>() -> Result<T, ConfigError> {
    Ok(envy::from_env::<T>()?)
}

/// The environment variables a settings struct reads (its field names, upper-cased, in the
/// order they are declared). `T` is the struct that [`from_env`] fills; it is not read from the
/// environment here, only asked for its field names.
pub fn variables<T: DeserializeOwned>() -> Vec<String> {
    let mut names = Vec::new();
    // The collector stops with an error after recording the names; that error is expected.
    let _ = T::deserialize(FieldNames(&mut names));
    names.iter().map(|n| n.to_uppercase()).collect()
}

/// The variables every service reads ([`CommonSettings`]).
pub fn common_variables() -> Vec<String> {
    let mut names = variables::<CommonEnv>();
    names.extend(variables::<crate::auth::settings::AuthEnv>());
    names
}

/// A service's own settings: its name, its default port, the struct its own variables fill, and
/// how the two become the settings it runs with. Reading them (from the process environment or
/// from given pairs) and listing their variables is the same for every service.
pub trait ServiceSettings: Sized {
    /// The service's name, as in log lines and error messages.
    const SERVICE: &'static str;
    /// The port it listens on when `PORT` is unset.
    const DEFAULT_PORT: u16;
    /// The service's own variables, as read from the environment.
    type Env: DeserializeOwned;

    /// Checks and combines the shared and the service's own variables.
    fn resolve(common: CommonSettings, env: Self::Env) -> Result<Self, ConfigError>;

    /// The shared part of the resolved settings.
    fn common(&self) -> &CommonSettings;

    /// Every environment variable the service reads (the shared ones first).
    fn variables() -> Vec<String> {
        let mut names = common_variables();
        names.extend(variables::<Self::Env>());
        names
    }

    /// Reads the settings from the process environment.
    fn from_env() -> Result<Self, ConfigError> {
        let common = CommonSettings::from_env(Self::SERVICE, Self::DEFAULT_PORT)?;
        Self::resolve(common, from_env()?)
    }

    /// Reads the settings from the given pairs (tests and tools).
    fn from_vars<I>(vars: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = (String, String)> + Clone,
    {
        let common = CommonSettings::from_iter(Self::SERVICE, Self::DEFAULT_PORT, vars.clone())?;
        Self::resolve(common, from_iter(vars)?)
    }
}

/// Writes `names` to stdout, one a line (the services' `--variables`).
pub fn print_variables(names: &[String]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    for name in names {
        writeln!(out, "{name}")?;
    }
    Ok(())
}

/// A deserializer that records the field names a derived `Deserialize` asks for.
struct FieldNames<'a>(&'a mut Vec<&'static str>);

#[derive(Debug)]
struct NamesCollected;

impl std::fmt::Display for NamesCollected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("field names collected")
    }
}

impl std::error::Error for NamesCollected {}

impl serde::de::Error for NamesCollected {
    fn custom<M: std::fmt::Display>(_: M) -> Self {
        Self
    }
}

impl<'de> serde::Deserializer<'de> for FieldNames<'_> {
    type Error = NamesCollected;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(NamesCollected)
    }

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.extend_from_slice(fields);
        Err(NamesCollected)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option
        unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

/// Parses `T` from the given variables (tests and tools; not the process environment).
pub fn from_iter<T, I>(vars: I) -> Result<T, ConfigError>
where
    T: DeserializeOwned,
    I: IntoIterator<Item = (String, String)>,
{
    Ok(envy::from_iter::<_, T>(vars)?)
}

/// Unwraps a configuration result, or prints `<service>: configuration error: <message>` to
/// stderr and exits with code 2. Logging is not initialised yet at this point, hence stderr.
pub fn exit_on_error<T>(service: &str, result: Result<T, ConfigError>) -> T {
    match result {
        Ok(value) => value,
        Err(e) => {
            eprintln!("{service}: configuration error: {e}");
            std::process::exit(CONFIG_EXIT_CODE);
        }
    }
}

/// Log line format (`LOG_FORMAT`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable single lines.
    #[default]
    Text,
    /// One JSON object per line, for log shippers (ELK, Splunk, Loki).
    Json,
}

impl LogFormat {
    /// Parses `LOG_FORMAT` (unset or empty means text). Parsed by hand because envy's enum
    /// errors do not name the variable.
    fn parse(raw: Option<&str>) -> Result<Self, ConfigError> {
        match raw.map(str::trim) {
            None | Some("") => Ok(Self::Text),
            Some(v) if v.eq_ignore_ascii_case("text") => Ok(Self::Text),
            Some(v) if v.eq_ignore_ascii_case("json") => Ok(Self::Json),
            Some(v) => Err(ConfigError::invalid("LOG_FORMAT", "text or json", v)),
        }
    }
}

/// The variables as they appear in the environment; resolved into [`CommonSettings`].
#[derive(Debug, Deserialize)]
struct CommonEnv {
    host: Option<String>,
    port: Option<u16>,
    database_url: Option<Secret>,
    public_url: Option<String>,
    allowed_hosts: Option<String>,
    rust_log: Option<String>,
    log_format: Option<String>,
    request_timeout_secs: Option<u64>,
    header_read_timeout_secs: Option<u64>,
    max_header_bytes: Option<usize>,
    max_connections_per_client: Option<usize>,
    database_max_connections: Option<u32>,
    contacts_public_url: Option<String>,
    calendar_public_url: Option<String>,
    notifications_public_url: Option<String>,
}

/// Settings every service shares. Build with [`CommonSettings::from_env`] or, in tests,
/// [`CommonSettings::for_tests`].
#[derive(Clone)]
pub struct CommonSettings {
    /// Short service name (`contacts`), used in defaults and logs.
    pub service: &'static str,
    /// `HOST`: address to bind (default `127.0.0.1`; containers set `0.0.0.0`).
    pub host: IpAddr,
    /// `PORT`: port to bind (0 picks a free one).
    pub port: u16,
    /// `DATABASE_URL`: `sqlite://...` (default `sqlite://data/<service>.db`) or `postgres://...`;
    /// a secret, since it may carry a password.
    pub database_url: Secret,
    /// `PUBLIC_URL`: base of every absolute link the service publishes. `None` means
    /// `http://localhost:<bound port>`, resolved once the listener is bound.
    pub public_url: Option<Url>,
    /// `ALLOWED_HOSTS`: comma-separated `host[:port]` values accepted in the `Host` header
    /// besides `PUBLIC_URL`'s (IP addresses and `localhost` always are); others get `421`.
    pub allowed_hosts: Vec<String>,
    /// `RUST_LOG`: tracing filter directives (default `info`).
    pub log_filter: String,
    /// `LOG_FORMAT`: `text` or `json`.
    pub log_format: LogFormat,
    /// `REQUEST_TIMEOUT_SECS`: upper bound for one request, body included (default 60).
    pub request_timeout: Duration,
    /// `HEADER_READ_TIMEOUT_SECS`: time a client has to send a request's headers, and longest
    /// idle time of a kept-alive connection (default 10).
    pub header_read_timeout: Duration,
    /// `MAX_HEADER_BYTES`: largest request head (request line and headers) accepted; larger
    /// ones get `431` (default 32768).
    pub max_header_bytes: usize,
    /// `MAX_CONNECTIONS_PER_CLIENT`: open connections allowed per client IP (default 256).
    pub max_connections_per_client: usize,
    /// `DATABASE_MAX_CONNECTIONS`: pool size (default 8).
    pub database_max_connections: u32,
    /// Where a browser finds each of the three services, for the links between their pages.
    pub apps: AppUrls,
    /// `API_TOKENS`, `ADMIN_USER`, `ADMIN_PASSWORD`, `ALLOW_ANONYMOUS`, ... (see
    /// [`crate::auth::settings`]).
    pub auth: AuthSettings,
}

/// `CONTACTS_PUBLIC_URL`, `CALENDAR_PUBLIC_URL`, `NOTIFICATIONS_PUBLIC_URL`: the three services as
/// a browser reaches them, for the links between their pages (a contact's calendar, a
/// participant's contact). The defaults are localhost on each default port, as `cargo xtask up`
/// and `docker compose up` publish them; a service's own entry is its public URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppUrls {
    pub contacts: Url,
    pub calendar: Url,
    pub notifications: Url,
}

impl Default for AppUrls {
    fn default() -> Self {
        let local = |port: u16| Url::parse(&format!("http://localhost:{port}/")).expect("a valid URL");
        Self { contacts: local(3000), calendar: local(3002), notifications: local(3003) }
    }
}

impl AppUrls {
    fn resolve(env: &CommonEnv) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let pick =
            |var: &str, raw: &Option<String>, default: Url| match raw.as_deref().filter(|s| !s.is_empty()) {
                None => Ok(default),
                Some(raw) => parse_base_url(var, raw),
            };
        Ok(Self {
            contacts: pick("CONTACTS_PUBLIC_URL", &env.contacts_public_url, defaults.contacts)?,
            calendar: pick("CALENDAR_PUBLIC_URL", &env.calendar_public_url, defaults.calendar)?,
            notifications: pick(
                "NOTIFICATIONS_PUBLIC_URL",
                &env.notifications_public_url,
                defaults.notifications,
            )?,
        })
    }

    /// These URLs with `service`'s own replaced by where it really is (its bound public URL).
    pub fn with_own(&self, service: &str, own: &Url) -> Self {
        let mut apps = self.clone();
        match service {
            "contacts" => apps.contacts = own.clone(),
            "calendar" => apps.calendar = own.clone(),
            "notifications" => apps.notifications = own.clone(),
            _ => {}
        }
        apps
    }
}

impl std::fmt::Debug for CommonSettings {
    // The database URL may carry a password: show only its scheme.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = self.database_url.expose().split(':').next().unwrap_or("");
        f.debug_struct("CommonSettings")
            .field("service", &self.service)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database_url", &format_args!("{scheme}://…"))
            .field("public_url", &self.public_url.as_ref().map(Url::as_str))
            .field("allowed_hosts", &self.allowed_hosts)
            .field("log_filter", &self.log_filter)
            .field("log_format", &self.log_format)
            .field("request_timeout", &self.request_timeout)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("max_header_bytes", &self.max_header_bytes)
            .field("max_connections_per_client", &self.max_connections_per_client)
            .field("database_max_connections", &self.database_max_connections)
            .field("apps", &self.apps)
            .field("auth", &self.auth)
            .finish()
    }
}

impl CommonSettings {
    /// Reads the shared variables from the process environment.
    pub fn from_env(service: &'static str, default_port: u16) -> Result<Self, ConfigError> {
        Self::resolve(service, default_port, from_env()?, from_env()?)
    }

    /// Reads the shared variables from the given pairs.
    pub fn from_iter<I>(service: &'static str, default_port: u16, vars: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = (String, String)>,
    {
        let vars: Vec<(String, String)> = vars.into_iter().collect();
        Self::resolve(service, default_port, from_iter(vars.clone())?, from_iter(vars)?)
    }

    fn resolve(
        service: &'static str,
        default_port: u16,
        env: CommonEnv,
        auth: AuthEnv,
    ) -> Result<Self, ConfigError> {
        let apps = AppUrls::resolve(&env)?;
        let host = match env.host.as_deref().filter(|s| !s.trim().is_empty()) {
            None => IpAddr::from([127, 0, 0, 1]),
            Some(raw) => parse_host(raw)?,
        };
        let public_url = match env.public_url.filter(|s| !s.is_empty()) {
            None => None,
            Some(raw) => Some(parse_base_url("PUBLIC_URL", &raw)?),
        };
        let allowed_hosts = parse_allowed_hosts(env.allowed_hosts.as_deref().unwrap_or(""))?;
        let database_url = env
            .database_url
            .map(|s| s.expose().clone())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| default_sqlite_url(service));
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(ConfigError::invalid(
                "DATABASE_URL",
                "a sqlite:// or postgres:// URL",
                &redact_url(&database_url),
            ));
        }
        let request_timeout = env.request_timeout_secs.unwrap_or(60);
        if request_timeout == 0 {
            return Err(ConfigError::invalid("REQUEST_TIMEOUT_SECS", "a positive number", "0"));
        }
        let header_read_timeout = env.header_read_timeout_secs.unwrap_or(DEFAULT_HEADER_READ_TIMEOUT_SECS);
        if header_read_timeout == 0 {
            return Err(ConfigError::invalid("HEADER_READ_TIMEOUT_SECS", "a positive number", "0"));
        }
        let max_header_bytes = env.max_header_bytes.unwrap_or(DEFAULT_MAX_HEADER_BYTES);
        if !(MIN_MAX_HEADER_BYTES..=MAX_MAX_HEADER_BYTES).contains(&max_header_bytes) {
            return Err(ConfigError::invalid(
                "MAX_HEADER_BYTES",
                &format!("a number from {MIN_MAX_HEADER_BYTES} to {MAX_MAX_HEADER_BYTES}"),
                &max_header_bytes.to_string(),
            ));
        }
        let auth = AuthSettings::resolve(auth, host)?;
        Ok(Self {
            service,
            apps,
            host,
            port: env.port.unwrap_or(default_port),
            database_url: Secret::new(database_url),
            public_url,
            allowed_hosts,
            log_filter: parse_log_filter(env.rust_log)?,
            log_format: LogFormat::parse(env.log_format.as_deref())?,
            request_timeout: Duration::from_secs(request_timeout),
            header_read_timeout: Duration::from_secs(header_read_timeout),
            max_header_bytes,
            max_connections_per_client: env.max_connections_per_client.unwrap_or(256).max(1),
            database_max_connections: env.database_max_connections.unwrap_or(8).max(1),
            auth,
        })
    }

    /// Settings for an in-process test instance: loopback, a free port, the given database.
    pub fn for_tests(service: &'static str, database_url: impl Into<String>) -> Self {
        Self {
            service,
            host: IpAddr::from([127, 0, 0, 1]),
            port: 0,
            database_url: Secret::new(database_url.into()),
            public_url: None,
            allowed_hosts: Vec::new(),
            log_filter: "info".into(),
            log_format: LogFormat::Text,
            request_timeout: Duration::from_secs(60),
            header_read_timeout: Duration::from_secs(DEFAULT_HEADER_READ_TIMEOUT_SECS),
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            max_connections_per_client: 256,
            database_max_connections: 8,
            apps: AppUrls::default(),
            auth: AuthSettings::default(),
        }
    }

    /// The public base URL for a listener bound to `port`.
    pub fn public_url_for(&self, port: u16) -> Url {
        self.public_url
            .clone()
            .unwrap_or_else(|| Url::parse(&format!("http://localhost:{port}/")).expect("a valid URL"))
    }
}

/// `HOST`: an IP address, or a name of this machine (`localhost`) resolved once at start.
fn parse_host(raw: &str) -> Result<IpAddr, ConfigError> {
    use std::net::ToSocketAddrs;
    let raw = raw.trim();
    if let Ok(ip) = raw.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
        return Ok(ip);
    }
    let expected = "an IP address or a host name that resolves to one";
    let mut addrs = (raw, 0).to_socket_addrs().map_err(|_| ConfigError::invalid("HOST", expected, raw))?;
    addrs.next().map(|a| a.ip()).ok_or_else(|| ConfigError::invalid("HOST", expected, raw))
}

/// `RUST_LOG`: tracing filter directives, checked here so a typo is a configuration error
/// rather than a warning lost among the first log lines.
fn parse_log_filter(raw: Option<String>) -> Result<String, ConfigError> {
    let filter = raw.filter(|s| !s.trim().is_empty()).unwrap_or_else(|| "info".into());
    tracing_subscriber::EnvFilter::builder().parse(&filter).map_err(|e| {
        ConfigError::new(format!("RUST_LOG: expected tracing filter directives such as info or calendar=debug,info, got {filter:?} ({e})"))
    })?;
    Ok(filter)
}

/// `sqlite://data/<service>.db`: a file under `./data/`, created when missing (see `db`).
pub fn default_sqlite_url(service: &str) -> String {
    format!("sqlite://data/{service}.db")
}

/// Parses an absolute `http(s)` base URL and normalises it to end with `/`, so
/// `base.join("contacts/1")` keeps any path prefix.
fn parse_allowed_hosts(raw: &str) -> Result<Vec<String>, ConfigError> {
    raw.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let (name, port) = match entry.rsplit_once(':') {
                Some((name, port)) if !name.ends_with(']') || name.starts_with('[') => (name, Some(port)),
                _ => (entry, None),
            };
            let name_ok =
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || "-.[]:".contains(c));
            let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok());
            if name_ok && port_ok {
                Ok(entry.to_ascii_lowercase())
            } else {
                Err(ConfigError::invalid("ALLOWED_HOSTS", "comma-separated host or host:port values", raw))
            }
        })
        .collect()
}

pub fn parse_base_url(var: &str, raw: &str) -> Result<Url, ConfigError> {
    let mut url = Url::parse(raw).map_err(|_| ConfigError::invalid(var, "an absolute http(s) URL", raw))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(ConfigError::invalid(var, "an absolute http(s) URL", raw));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// Parses a duration given in milliseconds (`..._MS` variables).
pub fn millis(var: &str, raw: Option<u64>, default: u64) -> Result<Duration, ConfigError> {
    match raw {
        Some(0) => Err(ConfigError::invalid(var, "a positive number of milliseconds", "0")),
        Some(ms) => Ok(Duration::from_millis(ms)),
        None => Ok(Duration::from_millis(default)),
    }
}

/// A URL with any password replaced by `***`, for messages and logs.
pub fn redact_url(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        Ok(_) => raw.to_string(),
        Err(_) => "<unparseable URL>".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_work_with_no_variables_set() {
        let s = CommonSettings::from_iter("contacts", 3000, vars(&[])).unwrap();
        assert_eq!(s.port, 3000);
        assert_eq!(s.database_url.expose(), "sqlite://data/contacts.db");
        assert_eq!(s.log_format, LogFormat::Text);
        assert_eq!(s.public_url_for(3000).as_str(), "http://localhost:3000/");
    }

    #[test]
    fn a_malformed_port_names_the_variable() {
        let err = CommonSettings::from_iter("contacts", 3000, vars(&[("PORT", "eighty")])).unwrap_err();
        assert!(err.to_string().contains("PORT"), "{err}");
    }

    #[test]
    fn an_unknown_log_format_names_the_variable() {
        let err = CommonSettings::from_iter("contacts", 3000, vars(&[("LOG_FORMAT", "xml")])).unwrap_err();
        assert!(err.to_string().contains("LOG_FORMAT"), "{err}");
    }

    #[test]
    fn public_url_gets_a_trailing_slash_and_must_be_absolute() {
        let s =
            CommonSettings::from_iter("c", 1, vars(&[("PUBLIC_URL", "https://example.org/app")])).unwrap();
        assert_eq!(s.public_url_for(1).as_str(), "https://example.org/app/");
        let err = CommonSettings::from_iter("c", 1, vars(&[("PUBLIC_URL", "/relative")])).unwrap_err();
        assert!(err.to_string().starts_with("PUBLIC_URL"), "{err}");
    }

    #[test]
    fn allowed_hosts_is_a_comma_list_of_host_or_host_and_port() {
        let s = CommonSettings::from_iter("c", 1, vars(&[("ALLOWED_HOSTS", " Contacts:3000, calendar ,")]))
            .unwrap();
        assert_eq!(s.allowed_hosts, ["contacts:3000", "calendar"]);
        for bad in ["contacts:port", "http://contacts:3000", "a b"] {
            let err = CommonSettings::from_iter("c", 1, vars(&[("ALLOWED_HOSTS", bad)])).unwrap_err();
            assert!(err.to_string().starts_with("ALLOWED_HOSTS"), "{bad}: {err}");
        }
    }

    #[test]
    fn database_url_must_be_sqlite_or_postgres_and_its_password_is_not_echoed() {
        let err = CommonSettings::from_iter("c", 1, vars(&[("DATABASE_URL", "mysql://u:secret@h/db")]))
            .unwrap_err();
        assert!(err.to_string().contains("DATABASE_URL"), "{err}");
        assert!(!err.to_string().contains("secret"), "{err}");
    }

    #[test]
    fn server_limits_have_defaults_and_are_checked() {
        let s = CommonSettings::from_iter("c", 1, vars(&[])).unwrap();
        assert_eq!(s.header_read_timeout, Duration::from_secs(10));
        assert_eq!(s.max_header_bytes, 32 * 1024);
        let s = CommonSettings::from_iter(
            "c",
            1,
            vars(&[("HEADER_READ_TIMEOUT_SECS", "3"), ("MAX_HEADER_BYTES", "8192")]),
        )
        .unwrap();
        assert_eq!((s.header_read_timeout, s.max_header_bytes), (Duration::from_secs(3), 8192));
        for (var, value) in [
            ("HEADER_READ_TIMEOUT_SECS", "0"),
            ("HEADER_READ_TIMEOUT_SECS", "soon"),
            ("MAX_HEADER_BYTES", "100"),
            ("MAX_HEADER_BYTES", "99999999"),
        ] {
            let err = CommonSettings::from_iter("c", 1, vars(&[(var, value)])).unwrap_err();
            assert!(err.to_string().contains(var), "{var}={value}: {err}");
        }
    }

    #[test]
    fn the_common_variables_are_listed_by_name() {
        let names = common_variables();
        for var in ["API_TOKENS", "AUTH_JWKS_URL", "AUTH_ISSUER", "AUTH_AUDIENCE", "AUTH_OPERATOR_SCOPE"] {
            assert!(names.iter().any(|n| n == var), "{var} in {names:?}");
        }
        for var in ["HOST", "PORT", "DATABASE_URL", "PUBLIC_URL", "RUST_LOG", "LOG_FORMAT"] {
            assert!(names.iter().any(|n| n == var), "{var} in {names:?}");
        }
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let secret: Secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?}"), "\"***\"");
        assert_eq!(secret.expose(), "hunter2");
        let generated = Secret::generate();
        assert_eq!(generated.expose().len(), 64);
        assert_ne!(generated, Secret::generate());
    }

    #[test]
    fn debug_output_hides_the_database_url() {
        let s = CommonSettings::for_tests("c", "postgres://u:secret@h/db");
        assert!(!format!("{s:?}").contains("secret"));
    }
}
