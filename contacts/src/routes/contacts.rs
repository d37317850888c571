//! The contacts resource: its JSON API (`/contacts`, `/contacts/{id}`) and the one function that
//! answers a `GET` of it as JSON or, for browsers, as the page ([`negotiate`]); `/` is the list
//! page whatever the client accepts. The forms that change contacts are in `pages.rs`.

use axum::extract::State;
use axum::http::header::{self, HeaderValue};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Deserializer, Serialize};
use service_kit::error::{ErrorBody, Json, Path, Query};
use service_kit::negotiate::wants_html;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::listing::{self, ListParams};
use super::state::AppState;
use crate::domain::{Contact, ContactChanges, ContactId, NewContact};
use crate::error::Error;
use crate::links::Links;
use crate::store::Page;
use crate::templates;

/// The resource's routes; the JSON ones are documented in OpenAPI.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_contacts, create_contact))
        .routes(routes!(get_contact, update_contact, delete_contact))
        .route("/", get(home))
}

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

impl ContactList {
    fn new(page: &Page, params: &ListParams, links: &Links) -> Self {
        Self {
            items: page.items.iter().map(|c| ContactBody::new(c, links)).collect(),
            next: page.next.as_ref().map(|cursor| params.next_url(links, cursor)),
        }
    }
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

/// What a `GET` of the resource found, before it is shown as JSON or as a page.
enum Found<'a> {
    /// A page of the listing `params` asked for.
    List(&'a ListParams, Page),
    /// The lookup of the contact named `raw_id` in the path (`Ok(None)`: there is none, or
    /// `raw_id` is no contact id).
    Contact { raw_id: &'a str, lookup: Result<Option<Contact>, Error> },
}

/// The one place that answers a `GET` of the resource as JSON or, for a browser asking for
/// `text/html`, as the page; either answer varies by `Accept`.
fn negotiate(state: &AppState, headers: &HeaderMap, found: Found<'_>) -> Result<Response, Error> {
    let response = if wants_html(headers) { html(state, found) } else { json(state, found)? };
    Ok(vary_accept(response))
}

fn json(state: &AppState, found: Found<'_>) -> Result<Response, Error> {
    Ok(match found {
        Found::List(params, page) => Json(ContactList::new(&page, params, &state.links)).into_response(),
        Found::Contact { raw_id, lookup } => {
            let Some(contact) = lookup? else {
                parse_id(raw_id)?;
                return Err(Error::NotFound);
            };
            Json(ContactBody::new(&contact, &state.links)).into_response()
        }
    })
}

/// The HTML page; a failed lookup shows as its JSON error, as it would to a JSON client.
fn html(state: &AppState, found: Found<'_>) -> Response {
    match found {
        Found::List(params, page) => {
            let next = page.next.as_ref().map(|cursor| params.next_href(cursor));
            templates::list(&state.site, params.search(), &page.items, next.as_deref()).into_response()
        }
        Found::Contact { lookup: Ok(Some(contact)), .. } => {
            templates::contact(&state.site, &contact).into_response()
        }
        Found::Contact { lookup: Ok(None), .. } => {
            (StatusCode::NOT_FOUND, templates::not_found(&state.site)).into_response()
        }
        Found::Contact { lookup: Err(e), .. } => e.into_response(),
    }
}

fn vary_accept(mut response: Response) -> Response {
    response.headers_mut().insert(header::VARY, HeaderValue::from_static("accept"));
    response
}

/// The contact named by a path value; a value that is no contact id names none.
async fn lookup(state: &AppState, raw_id: &str) -> Result<Option<Contact>, Error> {
    match ContactId::parse(raw_id) {
        Some(id) => Ok(state.store.get(id).await?),
        None => Ok(None),
    }
}

fn parse_id(raw: &str) -> Result<ContactId, Error> {
    ContactId::parse(raw).ok_or_else(|| Error::InvalidId(raw.chars().take(64).collect()))
}

/// `/`: the list page, whatever the client accepts.
async fn home(State(state): State<AppState>, Query(params): Query<ListParams>) -> Result<Response, Error> {
    let page = listing::fetch(&state.store, &params).await?;
    Ok(html(&state, Found::List(&params, page)))
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
) -> Result<Response, Error> {
    let page = listing::fetch(&state.store, &params).await?;
    negotiate(&state, &headers, Found::List(&params, page))
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
) -> Result<Response, Error> {
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
    Path(raw_id): Path<String>,
) -> Result<Response, Error> {
    let lookup = lookup(&state, &raw_id).await;
    negotiate(&state, &headers, Found::Contact { raw_id: &raw_id, lookup })
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
) -> Result<Json<ContactBody>, Error> {
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
) -> Result<StatusCode, Error> {
    state.store.delete(parse_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
