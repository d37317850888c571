//! The error shape every JSON API answers with, and extractors whose rejections use it.
//!
//! `{"error": "<code>", "message": "<human text>"}` (plus `"field"` for a `422` about one field).
//! Each service keeps its own error enum and converts it into [`ApiError`]; the extractors here
//! ([`Json`], [`Path`], [`Query`], [`Form`]) reject malformed input with the same shape instead of
//! axum's plain-text rejections.
//!
//! Internal errors answer an opaque `500`; their detail travels in a response extension
//! ([`ErrorDetail`]) to the request-logging middleware, which logs it with the request line.

use std::borrow::Cow;

use axum::extract::rejection::{FormRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The JSON body of every error response.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `not_found`, `invalid_field`, `conflict`.
    pub error: Cow<'static, str>,
    /// Human-readable explanation.
    pub message: String,
    /// The offending input field, when one field is at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// Detail of an internal error, kept out of the response body and logged by the middleware.
#[derive(Debug, Clone)]
pub struct ErrorDetail(pub String);

/// An error response: status plus [`ErrorBody`].
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
    detail: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self {
            status,
            body: ErrorBody { error: code.into(), message: message.into(), field: None },
            detail: None,
        }
    }

    /// `400 bad_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// `401 unauthorized`.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// `403 forbidden`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// `404 not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// `409 conflict`.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// `422 invalid_field` naming the field.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", message);
        e.body.field = Some(field.into());
        e
    }

    /// `500 internal_error` with an opaque message; `detail` is logged, never sent.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        let mut e = Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "internal server error");
        e.detail = Some(detail.to_string());
        e
    }

    /// `503 unavailable`.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// Sets the `field` of the body.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.body.field = Some(field.into());
        self
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.body.error, self.body.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body)).into_response();
        if let Some(detail) = self.detail {
            response.extensions_mut().insert(ErrorDetail(detail));
        }
        response
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        Self::internal(format_args!("database: {e}"))
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::JsonDataError(e) => {
                // serde_path_to_error gives "path: problem"; keep the part after axum's preamble.
                let text = e.body_text();
                let detail = text.split_once(": ").map_or(text.as_str(), |(_, rest)| rest).to_string();
                let field =
                    detail.split_once(": ").map(|(path, _)| path.to_string()).filter(|p| !p.contains(' '));
                let mut err = Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", detail);
                err.body.field = field.or_else(|| field_from_serde_message(&text));
                err
            }
            JsonRejection::JsonSyntaxError(e) => Self::new(
                StatusCode::BAD_REQUEST,
                "malformed_json",
                format!("malformed JSON: {}", inner_message(&e.body_text())),
            ),
            JsonRejection::MissingJsonContentType(_) => Self::unsupported_media_type("application/json"),
            JsonRejection::BytesRejection(e) => body_error(e.status(), e.body_text()),
            other => Self::bad_request(other.body_text()),
        }
    }
}

impl From<FormRejection> for ApiError {
    fn from(r: FormRejection) -> Self {
        match r {
            FormRejection::InvalidFormContentType(_) => {
                Self::unsupported_media_type("application/x-www-form-urlencoded")
            }
            FormRejection::FailedToDeserializeForm(e) => Self::new(
                StatusCode::BAD_REQUEST,
                "malformed_form",
                inner_message(&e.body_text()).to_string(),
            ),
            FormRejection::FailedToDeserializeFormBody(e) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                inner_message(&e.body_text()).to_string(),
            ),
            FormRejection::BytesRejection(e) => body_error(e.status(), e.body_text()),
            other => Self::bad_request(other.body_text()),
        }
    }
}

impl From<PathRejection> for ApiError {
    /// A path value that does not parse (a malformed id, a page number that is not a number)
    /// names a resource that cannot exist: `404`, as for an id that does not exist.
    fn from(r: PathRejection) -> Self {
        match r {
            PathRejection::FailedToDeserializePathParams(_) => Self::not_found("no such resource"),
            other => Self::internal(format_args!("path extraction: {}", other.body_text())),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_query", inner_message(&r.body_text()).to_string())
    }
}

impl ApiError {
    /// `415 unsupported_media_type` naming the expected type.
    pub fn unsupported_media_type(expected: &str) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("expected a request with Content-Type: {expected}"),
        )
    }

    /// `413 payload_too_large`.
    pub fn payload_too_large() -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "request body is too large")
    }
}

fn body_error(status: StatusCode, text: String) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::payload_too_large()
    } else {
        ApiError::new(status, "bad_request", text)
    }
}

/// Strips axum's "Failed to ...: " preamble from a rejection text.
fn inner_message(text: &str) -> &str {
    text.split_once(": ").map_or(text, |(_, rest)| rest)
}

/// Picks the field out of serde messages like "missing field `email`" or "unknown field `x`".
fn field_from_serde_message(text: &str) -> Option<String> {
    let start = text.find('`')? + 1;
    let end = start + text[start..].find('`')?;
    Some(text[start..end].to_string())
}

/// Defines an extractor wrapping axum's, with [`ApiError`] as its rejection.
macro_rules! wrapped_extractor {
    ($(#[$doc:meta])* $name:ident, $inner:path, $trait:ident, $arg:ident : $argty:ty) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $name<T>(pub T);

        impl<T, S> $trait<S> for $name<T>
        where
            T: DeserializeOwned + Send,
            S: Send + Sync,
        {
            type Rejection = ApiError;

            async fn $arg(req: $argty, state: &S) -> Result<Self, Self::Rejection> {
                match <$inner>::$arg(req, state).await {
                    Ok(value) => Ok(Self(value.0)),
                    Err(rejection) => Err(rejection.into()),
                }
            }
        }
    };
}

wrapped_extractor!(
    /// JSON body extractor: `415` without `Content-Type: application/json`, `400` for malformed
    /// JSON, `422` for a body of the wrong shape (naming the field), `413` over the body limit.
    Json, axum::Json<T>, FromRequest, from_request: Request
);
wrapped_extractor!(
    /// URL-encoded form extractor with the same rejections as [`Json`].
    Form, axum::Form<T>, FromRequest, from_request: Request
);
wrapped_extractor!(
    /// Path parameters; a value that does not parse (a malformed id) is `404 not_found`.
    Path, axum::extract::Path<T>, FromRequestParts, from_request_parts: &mut Parts
);
wrapped_extractor!(
    /// Query string; anything that does not parse is `400 invalid_query`.
    Query, axum::extract::Query<T>, FromRequestParts, from_request_parts: &mut Parts
);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Fallback for unknown routes: `404` in the error shape.
pub async fn not_found_fallback() -> ApiError {
    ApiError::not_found("no such resource")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_field_names_are_found_in_messages() {
        assert_eq!(field_from_serde_message("missing field `email` at line 1").as_deref(), Some("email"));
        assert_eq!(field_from_serde_message("no backticks"), None);
    }

    #[test]
    fn internal_errors_keep_their_detail_out_of_the_body() {
        let response = ApiError::internal("secret table name").into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let detail = response.extensions().get::<ErrorDetail>().expect("detail kept for the log");
        assert_eq!(detail.0, "secret table name");
    }
}
