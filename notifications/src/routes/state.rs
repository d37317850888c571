//! What the handlers share.

use std::sync::Arc;

use lettre::message::Mailbox;
use tokio::sync::Notify;

use crate::links::Links;
use crate::store::Store;
use crate::templates::Pages;

#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    pub links: Links,
    pub pages: Pages,
    pub mail_from: Mailbox,
    /// Wakes the delivery worker when a job is stored.
    pub wake: Arc<Notify>,
    pub max_attempts: u32,
    /// Jobs and recipients per API caller over the last hour.
    pub quotas: Arc<service_kit::quota::Quotas>,
    /// `SMTP_UTF8` and `RECIPIENT_DOMAINS`: which recipients a job may name.
    pub addresses: Arc<crate::domain::AddressRules>,
}
