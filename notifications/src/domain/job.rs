//! A notification job as stored: what to send, and where its delivery stands.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::request::NewNotification;

/// Where a job stands. `queued` → `sending` → `sent`, or back to `queued` for a retry after a
/// temporary failure, or `failed` (permanent failure, or the last attempt failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Queued,
    Sending,
    Sent,
    Failed,
}

impl JobStatus {
    pub const ALL: [JobStatus; 4] = [Self::Queued, Self::Sending, Self::Sent, Self::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == s)
    }
}

/// One row of the `jobs` table. Timestamps are epoch milliseconds.
#[derive(Debug, Clone)]
pub struct Job {
    /// Position in insertion order (the list cursor).
    pub seq: i64,
    pub id: Uuid,
    pub notification: NewNotification,
    pub message_id: String,
    pub status: JobStatus,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub next_attempt_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub sent_at: Option<i64>,
}
