//! Fetching a contact's current state from its contact URL (allowed origins only, at most
//! `CONTACT_MAX_BYTES`), for the follower and for the operator's retry of a parked entry.

use tokio_util::sync::CancellationToken;
use url::Url;
use uuid::Uuid;

use super::apply::{self, Contact, Refusal};
use super::fetch::{Conditions, FetchError, Fetched, Fetcher};
use crate::store::{ParkedEntry, Store};

/// Fetches the contact at `url`: `Ok(Ok(None))` when it no longer exists (`404`/`410`), a
/// [`Refusal`] when it cannot be had; `Err` only when shutting down.
pub async fn fetch_contact(
    fetcher: &Fetcher,
    max_bytes: usize,
    url: &Url,
    shutdown: &CancellationToken,
) -> Result<Result<Option<Contact>, Refusal>, FetchError> {
    let refusal =
        |kind, reason: String| Refusal { reason, kind, contact_id: None, contact_url: Some(url.to_string()) };
    let local = match fetcher.origins().resolve(url) {
        Ok(local) => local,
        Err(forbidden) => {
            return Ok(Err(refusal("forbidden_origin", format!("contact URL refused: {forbidden}"))));
        }
    };
    let conditions = Conditions {
        accept: "application/json",
        gone_is_ok: true,
        max_bytes: Some(max_bytes),
        ..Conditions::default()
    };
    Ok(match fetcher.get(&local, conditions, shutdown).await {
        Ok(Fetched::Document(doc)) => serde_json::from_slice::<Contact>(&doc.body)
            .map(Some)
            .map_err(|e| refusal("contact_fetch", format!("the contact at {local} is no contact JSON: {e}"))),
        Ok(Fetched::Gone) => Ok(None),
        Ok(Fetched::NotModified { .. }) => Err(refusal("contact_fetch", format!("{local} answered 304"))),
        Err(FetchError::Cancelled) => return Err(FetchError::Cancelled),
        Err(FetchError::Forbidden(forbidden)) => {
            Err(refusal("forbidden_origin", format!("fetching the contact: {forbidden}")))
        }
        Err(e) => Err(refusal("contact_fetch", format!("fetching the contact at {local}: {e}"))),
    })
}

/// Retries parked entries on an operator's request. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Recovery {
    store: Store,
    fetcher: Fetcher,
    contact_max_bytes: usize,
}

/// What a retry did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retried {
    /// The contact's current state is in the replica now.
    Applied,
    /// The contact no longer exists: it is gone from the replica too.
    Deleted,
}

/// Why a retry changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum RetryError {
    #[error("no parked entry {0}")]
    NotFound(Uuid),
    #[error("the parked entry was already resolved")]
    AlreadyResolved,
    #[error("{0}")]
    Unretryable(String),
    /// The upstream still answers with something calendar cannot apply.
    #[error("{0}")]
    Upstream(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl Recovery {
    pub fn new(store: Store, fetcher: Fetcher, contact_max_bytes: usize) -> Self {
        Self { store, fetcher, contact_max_bytes }
    }

    /// Fetches the contact of parked entry `id` from its contact URL and applies its current
    /// state (a `404`/`410` deletes it from the replica), marking the entry, and any other open
    /// one of the same contact, resolved. Nothing changes when the upstream is still bad.
    pub async fn retry(&self, id: Uuid) -> Result<(ParkedEntry, Retried), RetryError> {
        let entry = self.store.parked_entry(id).await?.ok_or(RetryError::NotFound(id))?;
        if entry.resolved_at.is_some() {
            return Err(RetryError::AlreadyResolved);
        }
        let raw = entry
            .contact_url
            .as_deref()
            .ok_or_else(|| RetryError::Unretryable("the entry names no contact URL to fetch".into()))?;
        let url =
            Url::parse(raw).ok().filter(|u| matches!(u.scheme(), "http" | "https")).ok_or_else(|| {
                RetryError::Unretryable(format!("the entry's contact URL {raw:?} is no http(s) URL"))
            })?;
        let fetched = fetch_contact(&self.fetcher, self.contact_max_bytes, &url, &CancellationToken::new())
            .await
            .map_err(|e| RetryError::Upstream(e.to_string()))?;
        let contact = match fetched {
            Ok(contact) => contact,
            Err(refusal) if refusal.kind == "forbidden_origin" => {
                return Err(RetryError::Unretryable(refusal.reason));
            }
            Err(refusal) => return Err(RetryError::Upstream(refusal.reason)),
        };
        let mut tx = self.store.begin().await?;
        let retried = match contact {
            Some(contact) => {
                if entry.contact_id.is_some_and(|expected| expected != contact.id) {
                    return Err(RetryError::Upstream(format!(
                        "the contact URL answered for another contact {}",
                        contact.id
                    )));
                }
                let contact_id = contact.id;
                let user =
                    apply::fetched_user(contact, service_kit::db::now_millis(), self.fetcher.origins())
                        .map_err(|refusal| {
                            RetryError::Upstream(format!("the contact is still refused: {refusal}"))
                        })?;
                tx.upsert_user(&user).await?;
                tx.resolve_parked_of(contact_id, "retried by an operator").await?;
                Retried::Applied
            }
            None => {
                if let Some(contact) = entry.contact_id {
                    tx.delete_user(contact).await?;
                    tx.resolve_parked_of(contact, "retried by an operator: the contact no longer exists")
                        .await?;
                }
                Retried::Deleted
            }
        };
        tx.resolve_parked(id, "retried by an operator").await?;
        tx.commit().await?;
        let entry = self.store.parked_entry(id).await?.ok_or(RetryError::NotFound(id))?;
        tracing::info!(parked = %id, outcome = ?retried, "a parked feed entry was retried");
        Ok((entry, retried))
    }
}
