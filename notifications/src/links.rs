//! Absolute URLs of the service's resources, always from `PUBLIC_URL` (never from `Host`).

use url::Url;
use uuid::Uuid;

use crate::domain::JobStatus;

/// The public base URL and the addresses under it.
#[derive(Debug, Clone)]
pub struct Links {
    base: Url,
}

impl Links {
    pub fn new(public_url: &Url) -> Self {
        Self { base: public_url.clone() }
    }

    /// `notifications/{id}`.
    pub fn job(&self, id: Uuid) -> String {
        self.under(&format!("notifications/{id}"))
    }

    /// A page of `GET /notifications`: `limit` jobs from `cursor` on, only those with `status`
    /// if given.
    pub fn jobs_page(&self, limit: u32, cursor: i64, status: Option<JobStatus>) -> String {
        let mut url = self.under("notifications");
        url.push_str(&format!("?limit={limit}&cursor={cursor}"));
        if let Some(status) = status {
            url.push_str(&format!("&status={}", status.as_str()));
        }
        url
    }

    fn under(&self, path: &str) -> String {
        self.base.join(path).map(String::from).unwrap_or_else(|_| path.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_under_the_public_url() {
        let links = Links::new(&Url::parse("https://example.org/mail/").unwrap());
        let id = Uuid::nil();
        assert_eq!(links.job(id), format!("https://example.org/mail/notifications/{id}"));
        assert_eq!(
            links.jobs_page(2, 17, Some(JobStatus::Sent)),
            "https://example.org/mail/notifications?limit=2&cursor=17&status=sent"
        );
        assert_eq!(links.jobs_page(50, 3, None), "https://example.org/mail/notifications?limit=50&cursor=3");
    }
}
