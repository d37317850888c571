//! Where the follower may go: the origin (scheme, host, port) of `CONTACTS_FEED` and the origins
//! in `CONTACTS_ALLOWED_ORIGINS`, nowhere else. A feed names itself by its `self` link, built
//! from contacts' `PUBLIC_URL`, which calendar may not reach (inside a cluster it calls contacts'
//! Service, and the network policies let it go nowhere else): links on that origin are followed
//! on `CONTACTS_FEED`'s origin instead. Any other link is refused before a connection is made.

use std::sync::RwLock;

use url::{Origin, Url};

/// The origins the follower fetches from, shared with the operator's retry.
#[derive(Debug)]
pub struct Origins {
    feed: Url,
    allowed: Vec<Origin>,
    /// The origin the subscription document names itself by (its `self`/`current` link).
    named: RwLock<Option<Origin>>,
}

/// A link the follower will not fetch.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0} is not on the feed's origin nor on CONTACTS_ALLOWED_ORIGINS")]
pub struct Forbidden(pub String);

impl Origins {
    pub fn new(feed: Url, allowed: Vec<Origin>) -> Self {
        Self { feed, allowed, named: RwLock::new(None) }
    }

    pub fn feed(&self) -> &Url {
        &self.feed
    }

    /// Whether `url` may be requested as it is.
    pub fn fetchable(&self, url: &Url) -> bool {
        let origin = url.origin();
        origin == self.feed.origin() || self.allowed.contains(&origin)
    }

    /// Remembers the origin the subscription document (fetched from `CONTACTS_FEED`) names
    /// itself by.
    pub fn name_self(&self, self_link: Option<&Url>) {
        let mut named = self.named.write().unwrap_or_else(|e| e.into_inner());
        *named = self_link.map(Url::origin);
    }

    fn is_named(&self, url: &Url) -> bool {
        let named = self.named.read().unwrap_or_else(|e| e.into_inner());
        named.as_ref().is_some_and(|origin| *origin == url.origin())
    }

    /// Where to fetch `link`: itself when it is fetchable, on `CONTACTS_FEED`'s origin when it
    /// is on the origin the feed names itself by; refused otherwise.
    pub fn resolve(&self, link: &Url) -> Result<Url, Forbidden> {
        if self.fetchable(link) {
            Ok(link.clone())
        } else if self.is_named(link) {
            Ok(on_origin_of(&self.feed, link))
        } else {
            Err(Forbidden(link.to_string()))
        }
    }

    /// Whether a contact URL from the feed may be kept (and shown as a link): an `http(s)` URL
    /// the follower could fetch.
    pub fn keeps(&self, link: &str) -> bool {
        Url::parse(link)
            .is_ok_and(|url| matches!(url.scheme(), "http" | "https") && self.resolve(&url).is_ok())
    }
}

/// `link` with the scheme, host and port of `feed`; the path and query stay as they are.
pub fn on_origin_of(feed: &Url, link: &Url) -> Url {
    let mut local = link.clone();
    if local.origin() != feed.origin() {
        // Infallible between http and https URLs, which are the only links the parser keeps.
        let _ = local.set_scheme(feed.scheme());
        let _ = local.set_host(feed.host_str());
        let _ = local.set_port(feed.port());
    }
    local
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn links_are_followed_on_the_origin_of_the_feed() {
        let service = url("http://contacts:3000/feed");
        for (link, expected) in [
            ("https://contacts.example.com/feed/archive/7", "http://contacts:3000/feed/archive/7"),
            ("https://contacts.example.com:8443/contacts/1?x=y", "http://contacts:3000/contacts/1?x=y"),
            ("http://contacts:3000/feed/archive/1", "http://contacts:3000/feed/archive/1"),
        ] {
            assert_eq!(on_origin_of(&service, &url(link)).as_str(), expected, "{link}");
        }
        let public = url("https://contacts.example.com/feed");
        assert_eq!(
            on_origin_of(&public, &url("http://localhost:3000/feed/archive/2")).as_str(),
            "https://contacts.example.com/feed/archive/2"
        );
    }

    #[test]
    fn only_the_feeds_own_named_and_allowed_origins_are_reached() {
        let origins =
            Origins::new(url("http://contacts:3000/feed"), vec![url("https://mirror.example.org").origin()]);
        assert_eq!(
            origins.resolve(&url("http://contacts:3000/x")).unwrap().as_str(),
            "http://contacts:3000/x"
        );
        assert_eq!(
            origins.resolve(&url("https://mirror.example.org/c/1")).unwrap().as_str(),
            "https://mirror.example.org/c/1"
        );
        let public = url("https://contacts.example.com/contacts/1");
        assert!(origins.resolve(&public).is_err(), "before the feed names itself");
        origins.name_self(Some(&url("https://contacts.example.com/feed")));
        assert_eq!(origins.resolve(&public).unwrap().as_str(), "http://contacts:3000/contacts/1");
        for other in [
            "http://contacts:3001/x",
            "https://contacts:3000/x",
            "http://169.254.169.254/latest",
            "http://notifications:3003/metrics",
        ] {
            assert!(origins.resolve(&url(other)).is_err(), "{other}");
            assert!(!origins.keeps(other), "{other}");
        }
        assert!(origins.keeps("https://contacts.example.com/contacts/1"));
        assert!(!origins.keeps("javascript:alert(1)"));
    }
}
