//! What a JSON endpoint and a page's form both do: find the user or event a path names, invite
//! participants, remove one. Handlers call these; these call no handler.

use service_kit::http::RequestId;
use uuid::Uuid;

use super::owners::may_remove_participant;
use super::params::parse_id;
use super::state::AppState;
use crate::domain::{EmailAddress, EventDraft, Invalid};
use crate::error::{Error, Result};
use crate::metrics::{EVENT_PARTICIPANTS, QUOTA_REFUSALS};
use crate::store::{AddOutcome, StoredEvent, User};
use crate::templates::invitation::{cancellation, invitation, removal, update};
use service_kit::auth::Caller;

/// Most e-mails accepted in one invitation request.
const MAX_INVITES: usize = 100;

/// The user a path names, or `404`.
pub async fn load_user(state: &AppState, raw_id: &str) -> Result<User> {
    let id = parse_id(raw_id, "user")?;
    state.store.user(id).await?.ok_or(Error::NotFound("user"))
}

/// The event a path names, or `404`.
pub async fn load_event(state: &AppState, raw_id: &str) -> Result<StoredEvent> {
    let id = parse_id(raw_id, "event")?;
    state.store.event(id).await?.ok_or(Error::NotFound("event"))
}

/// Validates the addresses, adds the participants with their outbox jobs (all or nothing),
/// wakes the dispatcher, records the participant count. Returns all participants now.
pub async fn invite(
    state: &AppState,
    event: &StoredEvent,
    raw: &[String],
    request_id: &RequestId,
) -> Result<Vec<User>> {
    if raw.len() > MAX_INVITES {
        return Err(Invalid::new("emails", format!("at most {MAX_INVITES} e-mails at once")).into());
    }
    let emails = raw.iter().map(|e| EmailAddress::parse(e)).collect::<Result<Vec<_>, _>>()?;
    // Every valid address asked for counts, already a participant, unknown or new: the limit is
    // on what an organizer tries (probing for users included). A request the quota refuses
    // counts nothing.
    let asked = u32::try_from(emails.len()).unwrap_or(u32::MAX);
    let organizer = event.owner_id.to_string();
    if let Err(refused) = state.invitation_quota.admit(&organizer, asked, std::time::Instant::now()) {
        metrics::counter!(QUOTA_REFUSALS, "quota" => "invitations").increment(1);
        tracing::warn!(organizer = %organizer, event = %event.id, "invitation quota reached, nobody invited");
        return Err(Error::QuotaExceeded(refused));
    }
    let owner = state.store.user(event.owner_id).await?;
    let event_url = state.links.event(event.id);
    let job = |user: &User| invitation(user, event, owner.as_ref(), &event_url);
    match state.store.add_participants(event.id, &emails, request_id.as_str(), job).await? {
        AddOutcome::NoEvent => Err(Error::NotFound("event")),
        AddOutcome::Unknown(unknown) => Err(Error::UnknownParticipants(unknown)),
        AddOutcome::Added { added } => {
            let participants = state.store.participants(event.id).await?;
            metrics::histogram!(EVENT_PARTICIPANTS).record(participants.len() as f64);
            if !added.is_empty() {
                tracing::info!(event = %event.id, added = added.len(), "participants added; invitations queued");
                state.dispatcher_wake.notify_one();
            }
            Ok(participants)
        }
    }
}

/// Replaces the event's content. A change participants must hear of (its title, time or place;
/// not its description) sends each of them an updated invitation, superseding one not yet
/// delivered. Returns the event as changed.
pub async fn change_event(
    state: &AppState,
    event: &StoredEvent,
    draft: &EventDraft,
    request_id: &RequestId,
) -> Result<StoredEvent> {
    let announce =
        draft.title.as_str() != event.title || draft.when != event.when || draft.location != event.location;
    let owner = state.store.user(event.owner_id).await?;
    let event_url = state.links.event(event.id);
    let job = |changed: &StoredEvent, guest: &User| update(guest, changed, owner.as_ref(), &event_url);
    let changed = state
        .store
        .update_event(event.id, draft, request_id.as_str(), announce.then_some(&job as _))
        .await?
        .ok_or(Error::NotFound("event"))?;
    if announce {
        state.dispatcher_wake.notify_one();
    }
    Ok(changed)
}

/// Deletes the event; participants whose invitation went out get a cancellation. Returns the
/// owner of the deleted event.
pub async fn delete_event(state: &AppState, event: &StoredEvent, request_id: &RequestId) -> Result<Uuid> {
    let owner = state.store.user(event.owner_id).await?;
    let event_url = state.links.event(event.id);
    let job = |deleted: &StoredEvent, guest: &User| cancellation(guest, deleted, owner.as_ref(), &event_url);
    let owner = state
        .store
        .delete_event(event.id, request_id.as_str(), &job)
        .await?
        .ok_or(Error::NotFound("event"))?;
    state.dispatcher_wake.notify_one();
    Ok(owner)
}

/// Removes the participant `raw_user` from the event `raw_event` (when `caller` may); if their
/// invitation went out, they get a cancellation. Returns the event's id.
pub async fn remove_participant(
    state: &AppState,
    caller: &Caller,
    raw_event: &str,
    raw_user: &str,
    request_id: &RequestId,
) -> Result<Uuid> {
    let event = load_event(state, raw_event).await?;
    let user = parse_id(raw_user, "participant")?;
    may_remove_participant(state, caller, &event, user).await?;
    let owner = state.store.user(event.owner_id).await?;
    let event_url = state.links.event(event.id);
    let job = |from: &StoredEvent, guest: &User| removal(guest, from, owner.as_ref(), &event_url);
    if !state.store.remove_participant(event.id, user, request_id.as_str(), &job).await? {
        return Err(Error::NotFound("participant"));
    }
    state.dispatcher_wake.notify_one();
    let count = state.store.participants(event.id).await?.len();
    metrics::histogram!(EVENT_PARTICIPANTS).record(count as f64);
    Ok(event.id)
}
