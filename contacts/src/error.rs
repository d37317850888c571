//! Every way a request to contacts fails, and how each answers: its status and the shared JSON
//! error shape ([`service_kit::ApiError`]). Malformed input the extractors refuse (JSON, forms,
//! query strings, path values) gets the same shape from `service_kit::error`.

use axum::response::{IntoResponse, Response};
use service_kit::ApiError;

use crate::domain::FieldError;
use crate::store::WriteError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `404`: no contact with that id.
    #[error("no such contact")]
    NotFound,
    /// `404`: the id in the path is not a UUID, so no contact can have it.
    #[error("not a contact id: {0:?}")]
    InvalidId(String),
    /// `422`: a field was refused (the first one; forms show all of them).
    #[error("{}: {}", .0.field, .0.message)]
    Invalid(FieldError),
    /// `404`: a listing cursor this service did not make (it names no page).
    #[error("unknown cursor")]
    UnknownCursor,
    /// `409`: another contact has that email address.
    #[error("email address already in use")]
    EmailTaken,
    /// `404`: an archive page that is not full yet (or page 0).
    #[error("no archive page {0} (yet)")]
    NoArchivePage(u64),
    /// `500`, logged with detail: a redirect to a URL that is no header value (our URLs are
    /// ASCII, so a bug).
    #[error("unusable redirect target {0:?}")]
    Redirect(String),
    /// `500`, logged with detail.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl Error {
    /// `422` for `field`.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid(FieldError::new(field, message))
    }
}

impl From<WriteError> for Error {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::NotFound => Self::NotFound,
            WriteError::EmailTaken => Self::EmailTaken,
            WriteError::Database(e) => Self::Database(e),
        }
    }
}

impl From<Vec<FieldError>> for Error {
    fn from(errors: Vec<FieldError>) -> Self {
        let first = errors.into_iter().next();
        Self::Invalid(first.unwrap_or(FieldError { field: "body", message: "is invalid".into() }))
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let answer = match self {
            Self::NotFound => ApiError::not_found("no such contact"),
            Self::InvalidId(raw) => {
                ApiError::not_found(format!("no such contact: {raw:?} is not a contact id (a UUID)"))
            }
            Self::Invalid(FieldError { field, message }) => {
                ApiError::invalid_field(field, format!("{field} {message}"))
            }
            Self::UnknownCursor => {
                ApiError::not_found("no such page: the cursor was not made by this service")
                    .with_field("cursor")
            }
            Self::EmailTaken => {
                ApiError::conflict("another contact has this email address").with_field("email")
            }
            Self::NoArchivePage(page) => ApiError::not_found(format!("no archive page {page} (yet)")),
            Self::Redirect(location) => {
                ApiError::internal(format_args!("unusable redirect target {location:?}"))
            }
            Self::Database(e) => ApiError::internal(format_args!("database: {e}")),
        };
        answer.into_response()
    }
}
