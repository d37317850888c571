//! The JSON API for contacts. `GET` on `/contacts` and `/contacts/{id}` also answer browsers
//! with the HTML page (content negotiation on `Accept`).

use axum::extract::State;
use axum::http::header::{self, HeaderValue};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Deserializer, Serialize};
use service_kit::error::{ErrorBody, Json, Path, Query};
use service_kit::negotiate::wants_html;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{AppState, pages};
use crate::domain::{Contact, ContactChanges, ContactId, NewContact};
use crate::error::ContactsError;
use crate::links::Links;
use crate::store::{Cursor, ListQuery};

/// Default and largest page of a listing.
pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 200;

/// A contact.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactBody {
    pub id: Uuid,
    pub firstname: String,
    pub lastname: String,
    pub email: String,
    /// This contact's absolute URL.
    #[serde(rename = "self")]
    #[schema(format = "uri")]
    pub self_url: String,
}

impl ContactBody {
    pub fn new(contact: &Contact, links: &Links) -> Self {
        Self {
            id: contact.id.as_uuid(),
            firstname: contact.firstname.clone(),
            lastname: contact.lastname.clone(),
            email: contact.email.clone(),
            self_url: links.contact(contact.id),
        }
    }
}

/// A page of contacts.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactList {
    pub items: Vec<ContactBody>,
    /// Absolute URL of the next page, `null` on the last one.
    #[schema(format = "uri")]
    pub next: Option<String>,
}

/// A new contact. Names are trimmed and must not be blank; any script is fine.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewContactBody {
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$",
        example = "Jane"
    )]
    pub firstname: String,
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$",
        example = "Doe"
    )]
    pub lastname: String,
    /// Unique among contacts, ignoring case.
    #[schema(format = Email, max_length = 254, example = "jane@example.org")]
    pub email: String,
}

/// A partial update: only the fields given change (none is fine). `null` is not a value.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactPatch {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, required = false, min_length = 1, max_length = 100, pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$")]
    pub firstname: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, required = false, min_length = 1, max_length = 100, pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$")]
    pub lastname: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, required = false, format = Email, max_length = 254)]
    pub email: Option<String>,
}

/// A given field must be a string; absent is fine, `null` is refused.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    String::deserialize(deserializer).map(Some)
}

/// Listing parameters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Words to find in first name, last name or email (every word must match, any case).
    pub q: Option<String>,
    /// Contacts per page (1 to 200, default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// Where to continue: copied from a previous page's `next`.
    pub cursor: Option<String>,
}

impl ListParams {
    pub fn to_query(&self) -> Result<ListQuery, ContactsError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(invalid("limit", format!("must be from 1 to {MAX_LIMIT}")));
        }
        let after = match self.cursor.as_deref() {
            None | Some("") => None,
            Some(raw) => Some(Cursor::decode(raw).ok_or(ContactsError::UnknownCursor)?),
        };
        // No stored field holds a control character, and PostgreSQL refuses NUL in any text.
        if self.q.as_deref().is_some_and(|q| q.chars().any(char::is_control)) {
            return Err(invalid("q", "must not contain control characters"));
        }
        let search = self.q.as_deref().map(str::trim).filter(|q| !q.is_empty()).map(str::to_owned);
        Ok(ListQuery { search, after, limit })
    }

    /// The query string of the page after `next`, keeping the search and the limit.
    pub fn next_params(&self, next: &Cursor) -> Vec<(&'static str, String)> {
        let mut params = Vec::new();
        if let Some(q) = self.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            params.push(("q", q.to_owned()));
        }
        if let Some(limit) = self.limit {
            params.push(("limit", limit.to_string()));
        }
        params.push(("cursor", next.encode()));
        params
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> ContactsError {
    ContactsError::Invalid(crate::domain::FieldError { field, message: message.into() })
}

pub fn parse_id(raw: &str) -> Result<ContactId, ContactsError> {
    ContactId::parse(raw).ok_or_else(|| ContactsError::InvalidId(raw.chars().take(64).collect()))
}

fn vary_accept(mut response: Response) -> Response {
    response.headers_mut().insert(header::VARY, HeaderValue::from_static("accept"));
    response
}

/// List or search contacts, in name order.
#[utoipa::path(get, path = "/contacts", tag = "contacts", params(ListParams),
    responses(
        (status = 200, description = "A page of contacts (browsers asking for text/html get the page)", body = ContactList),
        (status = 400, description = "Malformed query string", body = ErrorBody),
        (status = 404, description = "The cursor names no page (it was not made by this service)", body = ErrorBody),
        (status = 422, description = "Limit out of range, or control characters in the search", body = ErrorBody),
    ))]
pub async fn list_contacts(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<ListParams>,
) -> Result<Response, ContactsError> {
    let query = params.to_query()?;
    let page = state.store.list(&query).await?;
    if query.is_search() {
        metrics::histogram!(crate::metrics::SEARCH_RESULTS).record(page.items.len() as f64);
    }
    if wants_html(&headers) {
        return Ok(vary_accept(pages::list_page(&state, &params, &page).into_response()));
    }
    let next = page.next.as_ref().map(|cursor| {
        let params = params.next_params(cursor);
        let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        state.links.contacts_with(&pairs)
    });
    let items = page.items.iter().map(|c| ContactBody::new(c, &state.links)).collect();
    Ok(vary_accept(Json(ContactList { items, next }).into_response()))
}

/// Create a contact.
#[utoipa::path(post, path = "/contacts", tag = "contacts", request_body = NewContactBody,
    responses(
        (status = 201, description = "Created", body = ContactBody,
            headers(("Location" = String, description = "Absolute URL of the new contact"))),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 409, description = "Another contact has this email address", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
        (status = 422, description = "A field is missing, unknown, of the wrong type or invalid", body = ErrorBody),
    ))]
pub async fn create_contact(
    State(state): State<AppState>,
    Json(body): Json<NewContactBody>,
) -> Result<Response, ContactsError> {
    let new = NewContact::parse(&body.firstname, &body.lastname, &body.email)?;
    let contact = state.store.create(new).await?;
    let location = state.links.contact(contact.id);
    let body = ContactBody::new(&contact, &state.links);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(body)).into_response())
}

/// A contact (browsers asking for text/html get its page).
#[utoipa::path(get, path = "/contacts/{id}", tag = "contacts",
    params(("id" = Uuid, Path, description = "Contact id")),
    responses(
        (status = 200, description = "The contact", body = ContactBody),
        (status = 404, description = "No such contact (or not a contact id)", body = ErrorBody),
    ))]
pub async fn get_contact(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ContactsError> {
    if wants_html(&headers) {
        return Ok(vary_accept(pages::contact_page(&state, &id).await));
    }
    let id = parse_id(&id)?;
    let contact = state.store.get(id).await?.ok_or(ContactsError::NotFound)?;
    Ok(vary_accept(Json(ContactBody::new(&contact, &state.links)).into_response()))
}

/// Change some fields of a contact; the others keep their values.
#[utoipa::path(put, path = "/contacts/{id}", tag = "contacts", request_body = ContactPatch,
    params(("id" = Uuid, Path, description = "Contact id")),
    responses(
        (status = 200, description = "The contact as it is now", body = ContactBody),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 404, description = "No such contact (or not a contact id)", body = ErrorBody),
        (status = 409, description = "Another contact has this email address", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
        (status = 422, description = "A field is unknown, of the wrong type or invalid", body = ErrorBody),
    ))]
pub async fn update_contact(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<ContactPatch>,
) -> Result<Json<ContactBody>, ContactsError> {
    let id = parse_id(&id)?;
    let changes =
        ContactChanges::parse(body.firstname.as_deref(), body.lastname.as_deref(), body.email.as_deref())?;
    let contact = state.store.update(id, &changes).await?;
    Ok(Json(ContactBody::new(&contact, &state.links)))
}

/// Delete a contact.
#[utoipa::path(delete, path = "/contacts/{id}", tag = "contacts",
    params(("id" = Uuid, Path, description = "Contact id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such contact (or not a contact id)", body = ErrorBody),
    ))]
pub async fn delete_contact(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ContactsError> {
    state.store.delete(parse_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
