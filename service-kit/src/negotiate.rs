//! `Accept` header negotiation between the representations a resource offers.

use axum::http::HeaderMap;
use axum::http::header::ACCEPT;

/// Index into `offered` (media types such as `"application/json"`) of the representation the
/// client prefers. Higher `q` wins; a tie goes to the earlier entry in `offered`, so list the
/// default first (`*/*` or no `Accept` at all picks it).
pub fn preferred(headers: &HeaderMap, offered: &[&str]) -> usize {
    let Some(accept) = headers.get(ACCEPT).and_then(|v| v.to_str().ok()) else { return 0 };
    let mut best = (0usize, -1.0f32, 0u8);
    for (index, offer) in offered.iter().enumerate() {
        let (q, specificity) = quality(accept, offer);
        if q > 0.0 && (q > best.1 || (q == best.1 && specificity > best.2)) {
            best = (index, q, specificity);
        }
    }
    best.0
}

/// Whether a browser-like client prefers HTML over JSON.
pub fn wants_html(headers: &HeaderMap) -> bool {
    preferred(headers, &["application/json", "text/html"]) == 1
}

/// Quality the `accept` header gives `offer`, from its most specific matching range, and how
/// specific that range was (2 exact, 1 `type/*`, 0 `*/*`).
fn quality(accept: &str, offer: &str) -> (f32, u8) {
    let (offer_type, _) = offer.split_once('/').unwrap_or((offer, ""));
    let mut found: Option<(f32, u8)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q=").and_then(|v| v.trim().parse::<f32>().ok()))
            .next()
            .unwrap_or(1.0)
            .clamp(0.0, 1.0);
        let specificity = if media == offer {
            2
        } else if media.strip_suffix("/*") == Some(offer_type) {
            1
        } else if media == "*/*" {
            0
        } else {
            continue;
        };
        if found.is_none_or(|(_, s)| specificity > s) {
            found = Some((q, specificity));
        }
    }
    found.unwrap_or((0.0, 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn accept(v: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(ACCEPT, HeaderValue::from_static(v));
        h
    }

    #[test]
    fn browsers_get_html_and_curl_gets_json() {
        let chrome = accept("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8");
        assert!(wants_html(&chrome));
        assert!(!wants_html(&accept("*/*")));
        assert!(!wants_html(&HeaderMap::new()));
        assert!(!wants_html(&accept("application/json")));
    }

    #[test]
    fn q_values_and_defaults_decide() {
        let offered = ["text/calendar", "application/json", "text/html"];
        assert_eq!(preferred(&accept("*/*"), &offered), 0);
        assert_eq!(preferred(&accept("application/json"), &offered), 1);
        assert_eq!(preferred(&accept("text/html;q=0.5, application/json;q=0.9"), &offered), 1);
        assert_eq!(preferred(&accept("text/*"), &offered), 0);
        assert_eq!(preferred(&accept("text/html, text/*;q=0.1"), &offered), 2);
    }
}
