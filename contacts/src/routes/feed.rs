//! `GET /feed` and `GET /feed/archive/{n}`: ETags, `304`, and long polling with `Prefer: wait`;
//! a browser asking for HTML gets the same events as a page.

use std::time::Duration;

use axum::extract::State;
use axum::http::header::{self, HeaderName, HeaderValue};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use service_kit::error::{ErrorBody, Path};
use service_kit::negotiate;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::state::AppState;
use crate::error::Error;
use crate::feed::{Document, if_none_match_matches};
use crate::metrics::FeedOutcome;
use crate::templates::{self, FeedNav};

const ATOM: HeaderValue = HeaderValue::from_static("application/atom+xml; charset=utf-8");
const IMMUTABLE: HeaderValue = HeaderValue::from_static("public, max-age=31536000, immutable");
/// Caches may keep the document but must revalidate it (cheap: the ETag answers `304`).
const REVALIDATE: HeaderValue = HeaderValue::from_static("public, no-cache");
/// The same URL answers Atom or a page (see [`wants_page`]).
const VARY_ACCEPT: HeaderValue = HeaderValue::from_static("accept");
const PREFERENCE_APPLIED: HeaderName = HeaderName::from_static("preference-applied");

/// The feed's routes, documented in OpenAPI.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(current_feed)).routes(routes!(archive_page))
}

/// The subscription document: the newest `FEED_PAGE_SIZE` events, newest first (it overlaps
/// the newest archive page until the next page starts, and is never empty while events exist).
///
/// With `If-None-Match` naming the current ETag and `Prefer: wait=N` (at most 30), the request
/// is held until an event is committed (`200`) or N seconds pass (`304`); either answer then
/// carries `Preference-Applied: wait=N`.
#[utoipa::path(get, path = "/feed", tag = "feed",
    params(
        ("If-None-Match" = Option<String>, Header, description = "ETag of the document the client has"),
        ("Prefer" = Option<String>, Header, description = "`wait=N`: hold the request up to N seconds (at most 30) until there is news"),
    ),
    responses(
        (status = 200, description = "Atom feed document", content_type = "application/atom+xml", body = String,
            headers(("ETag" = String), ("Cache-Control" = String), ("Preference-Applied" = String, description = "Present when the request was held"))),
        (status = 304, description = "The client's copy is current",
            headers(("ETag" = String), ("Preference-Applied" = String, description = "Present when the request was held"))),
        (status = 500, description = "Database unavailable", body = ErrorBody),
    ))]
pub async fn current_feed(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, Error> {
    if wants_page(&headers) {
        return feed_page(&state, None).await;
    }
    let if_none_match = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok());
    if let Some(tags) = if_none_match {
        state.feed.catch_up(tags).await?;
    }
    let mut head = state.feed.head().subscribe();
    let sequence = head.borrow_and_update().sequence;
    let etag = state.feed.current_etag(sequence);
    let current = if_none_match.is_some_and(|tags| if_none_match_matches(tags, &etag));
    if !current {
        FeedOutcome::Ok.record();
        return Ok(document(&*state.feed.current(sequence).await?, REVALIDATE, None));
    }
    let wait = prefer_wait(&headers).map(|w| w.min(state.max_wait)).filter(|w| !w.is_zero());
    let Some(wait) = wait else {
        FeedOutcome::NotModified.record();
        return Ok(not_modified(&etag, REVALIDATE, None));
    };
    let applied = format!("wait={}", wait.as_secs());
    let newer = tokio::select! {
        changed = head.wait_for(|h| h.sequence > sequence) => changed.ok().map(|h| h.sequence),
        () = tokio::time::sleep(wait) => None,
        () = state.shutdown.cancelled() => None,
    };
    match newer {
        Some(newer) => {
            FeedOutcome::LongPollWoken.record();
            Ok(document(&*state.feed.current(newer).await?, REVALIDATE, Some(&applied)))
        }
        None => {
            FeedOutcome::LongPollTimedOut.record();
            Ok(not_modified(&etag, REVALIDATE, Some(&applied)))
        }
    }
}

/// An archive page: exactly `FEED_PAGE_SIZE` events, newest first; `404` until it is full.
#[utoipa::path(get, path = "/feed/archive/{page}", tag = "feed",
    params(
        ("page" = u64, Path, description = "Page number, 1 = oldest", minimum = 1),
        ("If-None-Match" = Option<String>, Header, description = "ETag of the page the client has"),
    ),
    responses(
        (status = 200, description = "Atom archive document (RFC 5005)", content_type = "application/atom+xml", body = String,
            headers(("ETag" = String), ("Cache-Control" = String))),
        (status = 304, description = "The client's copy is current", headers(("ETag" = String))),
        (status = 404, description = "No such page yet (or not a page number)", body = ErrorBody),
        (status = 500, description = "Database unavailable", body = ErrorBody),
    ))]
pub async fn archive_page(
    State(state): State<AppState>,
    Path(page): Path<u64>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    if wants_page(&headers) {
        return feed_page(&state, Some(page)).await;
    }
    let mut sequence = state.feed.head().get().sequence;
    if state.feed.archive_state(page, sequence).is_none() && page >= 1 {
        // Another replica may have filled the page before its notification reached us.
        let stored = state.store.read_head().await?;
        state.feed.head().advance(stored);
        sequence = state.feed.head().get().sequence;
    }
    let Some(has_next) = state.feed.archive_state(page, sequence) else {
        FeedOutcome::NotFound.record();
        return Err(Error::NoArchivePage(page));
    };
    // The newest archive gains its next-archive link when the following page fills, so only
    // pages with a full successor are immutable.
    let cache = if has_next { IMMUTABLE } else { REVALIDATE };
    let etag = state.feed.archive_etag(page, has_next);
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| if_none_match_matches(tags, &etag))
    {
        FeedOutcome::NotModified.record();
        return Ok(not_modified(&etag, cache, None));
    }
    match state.feed.archive(page, sequence).await? {
        Some(doc) => {
            FeedOutcome::Ok.record();
            Ok(document(&doc, cache, None))
        }
        None => {
            FeedOutcome::NotFound.record();
            Err(Error::NoArchivePage(page))
        }
    }
}

/// Whether the client prefers a page to Atom (a browser following the "Event feed" link does;
/// feed readers and calendar ask for Atom, and `*/*` gets Atom).
fn wants_page(headers: &HeaderMap) -> bool {
    negotiate::preferred(headers, &["application/atom+xml", "text/html"]) == 1
}

/// The subscription document (`None`) or an archive page as HTML, with the same navigation as
/// the Atom links.
async fn feed_page(state: &AppState, page: Option<u64>) -> Result<Response, Error> {
    let sequence = state.feed.head().get().sequence;
    let Some(events) = state.feed.events(page, sequence).await? else {
        return Err(Error::NoArchivePage(page.unwrap_or(0)));
    };
    let full = state.feed.full_pages(sequence);
    let archive = |n: u64| format!("/feed/archive/{n}");
    let (heading, nav) = match page {
        None => {
            ("Contact events".to_owned(), FeedNav { older: (full >= 1).then(|| archive(full)), newer: None })
        }
        Some(n) => (
            format!("Contact events, archive page {n}"),
            FeedNav {
                older: (n > 1).then(|| archive(n - 1)),
                newer: Some(if n < full { archive(n + 1) } else { "/feed".to_owned() }),
            },
        ),
    };
    let feed_url = state.links.feed();
    let markup = templates::feed(&state.site, &heading, &feed_url, &events, &nav);
    Ok(([(header::VARY, VARY_ACCEPT), (header::CACHE_CONTROL, REVALIDATE)], markup).into_response())
}

fn document(doc: &Document, cache: HeaderValue, applied: Option<&str>) -> Response {
    let mut response = (
        [
            (header::CONTENT_TYPE, ATOM),
            (header::ETAG, doc.etag.clone()),
            (header::CACHE_CONTROL, cache),
            (header::VARY, VARY_ACCEPT),
        ],
        doc.body.clone(),
    )
        .into_response();
    preference_applied(&mut response, applied);
    response
}

fn not_modified(etag: &str, cache: HeaderValue, applied: Option<&str>) -> Response {
    let mut response = StatusCode::NOT_MODIFIED.into_response();
    let headers = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, etag);
    }
    headers.insert(header::CACHE_CONTROL, cache);
    headers.insert(header::VARY, VARY_ACCEPT);
    preference_applied(&mut response, applied);
    response
}

fn preference_applied(response: &mut Response, applied: Option<&str>) {
    if let Some(value) = applied.and_then(|a| HeaderValue::from_str(a).ok()) {
        response.headers_mut().insert(PREFERENCE_APPLIED, value);
    }
}

/// `wait=N` from the `Prefer` headers (RFC 7240), in whole seconds.
fn prefer_wait(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|pref| {
            let token = pref.split(';').next()?.trim();
            let (name, value) = token.split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("wait")
                .then(|| value.trim().trim_matches('"').parse::<u64>().ok())?
        })
        .next()
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefer(values: &[&'static str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append("prefer", HeaderValue::from_static(v));
        }
        headers
    }

    #[test]
    fn wait_is_found_among_other_preferences() {
        assert_eq!(prefer_wait(&prefer(&["wait=5"])), Some(Duration::from_secs(5)));
        assert_eq!(prefer_wait(&prefer(&["respond-async, Wait = 7"])), Some(Duration::from_secs(7)));
        assert_eq!(prefer_wait(&prefer(&["return=minimal", "wait=\"3\""])), Some(Duration::from_secs(3)));
        assert_eq!(prefer_wait(&prefer(&["wait=soon"])), None);
        assert_eq!(prefer_wait(&HeaderMap::new()), None);
    }
}
