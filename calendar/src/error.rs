//! calendar's errors and how each answers over HTTP (the shared `{"error","message"}` shape).
//! Malformed bodies, paths and queries never reach a handler: service-kit's extractors answer
//! them in the same shape.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use service_kit::ApiError;

use crate::domain::Invalid;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `404`: the named thing does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// `422` naming the field.
    #[error("{}: {}", .0.field, .0.message)]
    Invalid(Invalid),
    /// `422 unknown_participants`: some e-mails belong to no known user; nothing was added.
    #[error("unknown participants: {}", .0.join(", "))]
    UnknownParticipants(Vec<String>),
    /// `400`: a malformed query or path value.
    #[error("{0}")]
    BadRequest(String),
    /// `403`: the caller may not do this (not the owner).
    #[error("{0}")]
    Forbidden(String),
    /// `409`: the request conflicts with the resource's state.
    #[error("{0}")]
    Conflict(String),
    /// `422 not_retryable`: a parked feed entry calendar cannot retry (no contact URL to fetch,
    /// or one on an origin it does not fetch from).
    #[error("{0}")]
    NotRetryable(String),
    /// `502 bad_upstream`: contacts still answers with something calendar cannot apply.
    #[error("{0}")]
    BadUpstream(String),
    /// `429` with `Retry-After`: the event's organizer sent `QUOTA_INVITATIONS_PER_HOUR`
    /// invitations in the last hour.
    #[error("the organizer's invitations in the last hour reached the limit; retry after {} s", .0.retry_after_secs())]
    QuotaExceeded(service_kit::quota::Refused),
    /// `500`, logged with detail.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Invalid> for Error {
    fn from(e: Invalid) -> Self {
        Self::Invalid(e)
    }
}

/// The `422` body of `POST /event/{id}/participants`: the usual shape, plus the list when some
/// addresses belong to no known user.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UnknownParticipantsBody {
    /// `unknown_participants` (some addresses are not known users) or `invalid_field` (one is
    /// not an e-mail address).
    pub error: &'static str,
    pub message: String,
    /// `emails`.
    pub field: &'static str,
    /// The e-mails that belong to no known user (with `unknown_participants` only).
    #[schema(required = false)]
    pub unknown: Vec<String>,
}

impl Error {
    /// The message a page shows for this error (internal detail stays in the log).
    pub fn user_message(&self) -> String {
        match self {
            Self::Database(_) => "something went wrong; please try again".into(),
            other => other.to_string(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Invalid(_) | Self::UnknownParticipants(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::NotRetryable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::BadUpstream(_) => StatusCode::BAD_GATEWAY,
            Self::QuotaExceeded(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Database(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match self {
            Self::NotFound(what) => ApiError::not_found(format!("{what} not found")).into_response(),
            Self::Invalid(e) => ApiError::invalid_field(e.field, e.message).into_response(),
            Self::UnknownParticipants(unknown) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                axum::Json(UnknownParticipantsBody {
                    error: "unknown_participants",
                    message: format!("not known users, nobody was added: {}", unknown.join(", ")),
                    field: "emails",
                    unknown,
                }),
            )
                .into_response(),
            Self::BadRequest(message) => ApiError::bad_request(message).into_response(),
            Self::Forbidden(message) => ApiError::forbidden(message).into_response(),
            Self::Conflict(message) => ApiError::conflict(message).into_response(),
            Self::NotRetryable(message) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "not_retryable", message).into_response()
            }
            Self::BadUpstream(message) => {
                ApiError::new(StatusCode::BAD_GATEWAY, "bad_upstream", message).into_response()
            }
            Self::QuotaExceeded(refused) => refused.response(self.to_string()),
            Self::Database(e) => ApiError::from(e).into_response(),
        }
    }
}
