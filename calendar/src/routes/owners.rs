//! Who may change what. With JWT authentication a caller is a user of the replica when the
//! token's `email` claim is that user's address (compared as the replica stores it for lookups,
//! case-folded); operators (API tokens without JWT, the admin session, operator tokens) may do
//! anything.
//! - A user's calendar takes new events only from that user.
//! - An event is edited, deleted and invited to only by its owner.
//! - A participant may leave an event (answer an invitation with no) themselves.
//! - Parked feed entries are for operators.

use uuid::Uuid;

use super::state::AppState;
use crate::error::{Error, Result};
use crate::store::{StoredEvent, User};
use service_kit::auth::Caller;

/// Whether `caller` acts for `user`.
pub fn acts_for(caller: &Caller, user: &User) -> bool {
    caller.operator
        || caller.email.as_deref().is_some_and(|email| email.to_lowercase() == user.email.to_lowercase())
}

/// `Ok` when `caller` may add events to `user`'s calendar, else `403`.
pub fn may_write_calendar(caller: &Caller, user: &User) -> Result<()> {
    if acts_for(caller, user) {
        Ok(())
    } else {
        Err(Error::Forbidden("only the calendar's owner may add events to it".into()))
    }
}

/// `Ok` when `caller` may change `event` (edit, delete, invite), else `403`.
pub async fn may_change_event(state: &AppState, caller: &Caller, event: &StoredEvent) -> Result<()> {
    if caller.operator || owns(state, caller, event).await? {
        Ok(())
    } else {
        Err(Error::Forbidden("only the event's owner may change it".into()))
    }
}

/// `Ok` when `caller` may remove `participant` from `event`: the owner, or the participant.
pub async fn may_remove_participant(
    state: &AppState,
    caller: &Caller,
    event: &StoredEvent,
    participant: Uuid,
) -> Result<()> {
    if caller.operator || owns(state, caller, event).await? {
        return Ok(());
    }
    if let Some(user) = state.store.user(participant).await?
        && acts_for(caller, &user)
    {
        return Ok(());
    }
    Err(Error::Forbidden("only the event's owner or the participant may remove a participant".into()))
}

/// `Ok` for operators, else `403`.
pub fn operator_only(caller: &Caller) -> Result<()> {
    if caller.operator { Ok(()) } else { Err(Error::Forbidden("for operators only".into())) }
}

async fn owns(state: &AppState, caller: &Caller, event: &StoredEvent) -> Result<bool> {
    if caller.email.is_none() {
        return Ok(false);
    }
    let owner = state.store.user(event.owner_id).await?;
    Ok(owner.is_some_and(|owner| acts_for(caller, &owner)))
}
