//! Absolute URLs of the service's resources, always from `PUBLIC_URL` (never from `Host`).

use url::Url;

use crate::domain::ContactId;

/// The public base URL (ending in `/`) and the addresses under it.
#[derive(Debug, Clone)]
pub struct Links {
    base: String,
}

impl Links {
    pub fn new(public_url: &Url) -> Self {
        let mut base = public_url.to_string();
        if !base.ends_with('/') {
            base.push('/');
        }
        Self { base }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn contact(&self, id: ContactId) -> String {
        format!("{}contacts/{id}", self.base)
    }

    pub fn contacts(&self) -> String {
        format!("{}contacts", self.base)
    }

    /// `/contacts` with query parameters, properly encoded.
    pub fn contacts_with(&self, params: &[(&str, &str)]) -> String {
        let mut url =
            Url::parse(&self.contacts()).unwrap_or_else(|_| Url::parse("http://localhost/").expect("valid"));
        if !params.is_empty() {
            url.query_pairs_mut().extend_pairs(params);
        }
        url.to_string()
    }

    pub fn feed(&self) -> String {
        format!("{}feed", self.base)
    }

    pub fn archive(&self, page: u64) -> String {
        format!("{}feed/archive/{page}", self.base)
    }
}
