//! Answers that hold personal data (addresses, messages).

use axum::http::header::{self, HeaderValue};
use axum::response::{IntoResponse, Response};

/// Marks a response as depending on `Accept` and `Authorization` and as not to be stored by
/// caches.
pub fn private(response: impl IntoResponse) -> Response {
    let mut response = response.into_response();
    let headers = response.headers_mut();
    headers.insert(header::VARY, HeaderValue::from_static("Accept, Authorization"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
