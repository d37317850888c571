//! Every way a request to notifications fails, and how each answers: a status and the shared
//! JSON error shape ([`service_kit::ApiError`]). Database errors answer an opaque `500` whose
//! detail is logged, never sent. (Malformed JSON, queries and path values are refused by
//! service-kit's extractors, in the same shape, before a handler runs.)
//!
//! Requests without credentials never reach a handler: service-kit's auth layer answers them.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use service_kit::ApiError;

use crate::domain::InvalidField;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `404`: no job with this id.
    #[error("no such job")]
    NotFound,
    /// `422`: a field of the notification cannot become part of an e-mail (named in `field`).
    #[error("{0}")]
    Invalid(InvalidField),
    /// `400`: the `Idempotency-Key` header is not 1 to 255 visible ASCII characters.
    #[error("invalid Idempotency-Key: {}", .0.message)]
    InvalidIdempotencyKey(InvalidField),
    /// `400`: more than one `Idempotency-Key` header.
    #[error("several Idempotency-Key headers")]
    SeveralIdempotencyKeys,
    /// `409`: the `Idempotency-Key` was used before for a different notification.
    #[error("Idempotency-Key used for a different notification")]
    IdempotencyConflict,
    /// `400`: a listing's `limit` is not from 1 to `max`.
    #[error("limit out of range")]
    InvalidLimit { max: u32 },
    /// `400`: a listing's `cursor` was not made by this service.
    #[error("unknown cursor")]
    UnknownCursor,
    /// `429` with `Retry-After`: the caller's jobs or recipients in the last hour reached
    /// `QUOTA_JOBS_PER_HOUR` or `QUOTA_RECIPIENTS_PER_HOUR`.
    #[error("quota of {} reached", crate::metrics::quota_label(.0.limit))]
    QuotaExceeded(service_kit::quota::Refused),
    /// `500`, logged with detail.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::NotFound => ApiError::not_found("no notification job with this id"),
            Error::Invalid(InvalidField { field, message }) => ApiError::invalid_field(field, message),
            Error::InvalidIdempotencyKey(InvalidField { message, .. }) => {
                ApiError::bad_request(message).with_field("Idempotency-Key")
            }
            Error::SeveralIdempotencyKeys => {
                ApiError::bad_request("send one Idempotency-Key header, not several")
            }
            Error::IdempotencyConflict => {
                ApiError::conflict("this Idempotency-Key was already used for a different notification")
                    .with_field("Idempotency-Key")
            }
            Error::InvalidLimit { max } => ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                format!("limit must be from 1 to {max}"),
            ),
            Error::UnknownCursor => ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                "cursor is not one this service gave out",
            ),
            Error::QuotaExceeded(refused) => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, "quota_exceeded", quota_message(&refused))
            }
            Error::Database(e) => ApiError::internal(format_args!("database: {e}")),
        }
    }
}

fn quota_message(refused: &service_kit::quota::Refused) -> String {
    format!(
        "this caller's {} in the last hour reached the limit; retry after {} s",
        crate::metrics::quota_label(refused.limit),
        refused.retry_after_secs()
    )
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match self {
            Self::QuotaExceeded(refused) => refused.response(quota_message(&refused)),
            other => ApiError::from(other).into_response(),
        }
    }
}
