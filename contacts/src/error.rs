//! contacts' errors and how they answer (the shared JSON error shape).

use axum::response::{IntoResponse, Response};
use service_kit::ApiError;

use crate::domain::FieldError;
use crate::store::WriteError;

#[derive(Debug, thiserror::Error)]
pub enum ContactsError {
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
    /// `500`, logged with detail.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl From<WriteError> for ContactsError {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::NotFound => Self::NotFound,
            WriteError::EmailTaken => Self::EmailTaken,
            WriteError::Database(e) => Self::Database(e),
        }
    }
}

impl From<Vec<FieldError>> for ContactsError {
    fn from(errors: Vec<FieldError>) -> Self {
        let first = errors.into_iter().next();
        Self::Invalid(first.unwrap_or(FieldError { field: "body", message: "is invalid".into() }))
    }
}

impl From<ContactsError> for ApiError {
    fn from(e: ContactsError) -> Self {
        match e {
            ContactsError::NotFound => ApiError::not_found("no such contact"),
            ContactsError::InvalidId(raw) => {
                ApiError::not_found(format!("no such contact: {raw:?} is not a contact id (a UUID)"))
            }
            ContactsError::Invalid(FieldError { field, message }) => {
                ApiError::invalid_field(field, format!("{field} {message}"))
            }
            ContactsError::UnknownCursor => {
                ApiError::not_found("no such page: the cursor was not made by this service")
                    .with_field("cursor")
            }
            ContactsError::EmailTaken => {
                ApiError::conflict("another contact has this email address").with_field("email")
            }
            ContactsError::Database(e) => ApiError::internal(format_args!("database: {e}")),
        }
    }
}

impl IntoResponse for ContactsError {
    fn into_response(self) -> Response {
        ApiError::from(self).into_response()
    }
}
