//! Absolute URLs of calendar's resources, always from `PUBLIC_URL` (never from `Host`).

use url::Url;
use uuid::Uuid;

/// The public base URL and the addresses under it.
#[derive(Debug, Clone)]
pub struct Links {
    base: Url,
}

impl Links {
    pub fn new(public_url: Url) -> Self {
        Self { base: public_url }
    }

    fn join(&self, path: &str) -> String {
        self.base.join(path).map(String::from).unwrap_or_else(|_| format!("{}{path}", self.base))
    }

    pub fn user(&self, id: Uuid) -> String {
        self.join(&format!("users/{id}"))
    }

    pub fn users(&self) -> String {
        self.join("users")
    }

    pub fn calendar(&self, user: Uuid) -> String {
        self.join(&format!("calendar/{user}"))
    }

    pub fn ics(&self, user: Uuid) -> String {
        self.join(&format!("calendar/{user}.ics"))
    }

    pub fn event(&self, id: Uuid) -> String {
        self.join(&format!("event/{id}"))
    }

    pub fn parked(&self) -> String {
        self.join("feed/parked")
    }

    pub fn participants(&self, id: Uuid) -> String {
        self.join(&format!("event/{id}/participants"))
    }
}
