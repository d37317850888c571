//! The shared look of the services' HTML pages: one layout and one stylesheet.
//!
//! Pages are rendered with `maud`, which escapes every interpolated value, so user data can only
//! ever appear as text. The stylesheet is served from the service itself (`/assets/style.css`)
//! because the Content-Security-Policy allows no inline styles or third-party resources.

use axum::Router;
use axum::http::header::{self, HeaderValue};
use axum::response::IntoResponse;
use axum::routing::get;
use maud::{DOCTYPE, Markup, html};

use crate::config::AppUrls;

/// Path of the shared stylesheet.
pub const STYLESHEET_PATH: &str = "/assets/style.css";
const STYLESHEET: &str = include_str!("../assets/style.css");

/// `GET /assets/style.css`.
pub fn assets_router() -> Router {
    Router::new().route(
        STYLESHEET_PATH,
        get(|| async {
            (
                [
                    (header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8")),
                    (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600")),
                ],
                STYLESHEET,
            )
                .into_response()
        }),
    )
}

/// A link in the page header.
#[derive(Debug, Clone)]
pub struct NavLink {
    pub href: String,
    pub label: String,
}

impl NavLink {
    pub fn new(href: impl Into<String>, label: impl Into<String>) -> Self {
        Self { href: href.into(), label: label.into() }
    }
}

/// What every page of one service shares: its name, home link and navigation, and where the
/// other two services are (the header links all three; pages link into the others).
#[derive(Debug, Clone)]
pub struct Site {
    pub name: &'static str,
    pub home: String,
    pub nav: Vec<NavLink>,
    pub apps: AppUrls,
}

impl Site {
    /// A full HTML document around `body`. `current` is the nav href to mark as the current page.
    pub fn page(&self, title: &str, current: Option<&str>, body: Markup) -> Markup {
        html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (title) " · " (self.name) }
                    link rel="stylesheet" href=(STYLESHEET_PATH);
                }
                body {
                    header.site {
                        nav.apps aria-label="Services" {
                            @for (name, url) in [("contacts", &self.apps.contacts), ("calendar", &self.apps.calendar), ("notifications", &self.apps.notifications)] {
                                @if name == self.name {
                                    a href=(url) aria-current="true" { (name) }
                                } @else {
                                    a href=(url) { (name) }
                                }
                            }
                        }
                        div.bar {
                            a.brand href=(self.home) { (self.name) }
                            nav {
                                @for link in &self.nav {
                                    @if current == Some(link.href.as_str()) {
                                        a href=(link.href) aria-current="page" { (link.label) }
                                    } @else {
                                        a href=(link.href) { (link.label) }
                                    }
                                }
                            }
                        }
                    }
                    main { (body) }
                    footer.site { (self.name) " service" }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolated_text_is_escaped() {
        let site = Site { name: "contacts", home: "/".into(), nav: vec![], apps: AppUrls::default() };
        let page =
            site.page("<script>alert(1)</script>", None, html! { p { "<img src=x onerror=alert(1)>" } });
        let s = page.into_string();
        assert!(!s.contains("<script>alert(1)</script>"));
        assert!(s.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(s.contains("&lt;img src=x onerror=alert(1)&gt;"));
    }
}
