//! The notification job and the validated request that creates it.

mod job;
mod request;

pub use job::{Job, JobStatus};
pub use request::{
    DEFAULT_SUBJECT, IdempotencyKey, MAX_MESSAGE_CHARS, MAX_RECIPIENTS, MAX_SUBJECT_CHARS, NewNotification,
    NotificationRequest, NotificationRequestSchema,
};
