//! The HTML forms that create, edit and delete contacts, each on a route of its own. Everything
//! works without JavaScript: forms post, the service answers with a redirect (`303`) or the form
//! again with its errors (`422`). A contact's page and the list are in `contacts.rs`.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::{self, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::Markup;
use serde::Deserialize;
use service_kit::error::{Form, Path};

use super::state::AppState;
use crate::domain::{ContactChanges, ContactId, FieldError, NewContact};
use crate::error::Error;
use crate::store::WriteError;
use crate::templates::{self, FormState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/contacts/new", get(new_form).post(create))
        .route("/contacts/{id}/edit", get(edit_form).post(update))
        .route("/contacts/{id}/delete", get(confirm_delete).post(delete))
}

/// The fields of the contact forms; a missing field counts as empty.
#[derive(Debug, Default, Deserialize)]
struct ContactForm {
    #[serde(default)]
    firstname: String,
    #[serde(default)]
    lastname: String,
    #[serde(default)]
    email: String,
}

impl ContactForm {
    fn into_state(self, errors: Vec<FieldError>) -> FormState {
        FormState { firstname: self.firstname, lastname: self.lastname, email: self.email, errors }
    }
}

fn see_other(location: String) -> Response {
    match HeaderValue::from_str(&location) {
        Ok(location) => (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response(),
        Err(_) => Error::Redirect(location).into_response(),
    }
}

fn not_found(state: &AppState) -> Response {
    (StatusCode::NOT_FOUND, templates::not_found(&state.site)).into_response()
}

fn email_taken() -> Vec<FieldError> {
    vec![FieldError { field: "email", message: "is already used by another contact".into() }]
}

async fn new_form(State(state): State<AppState>) -> Markup {
    templates::contact_form(&state.site, "New contact", "/contacts/new", "Create", "/", &FormState::default())
}

async fn create(State(state): State<AppState>, Form(form): Form<ContactForm>) -> Response {
    let rerender = |form: ContactForm, errors, status| {
        let page = templates::contact_form(
            &state.site,
            "New contact",
            "/contacts/new",
            "Create",
            "/",
            &form.into_state(errors),
        );
        (status, page).into_response()
    };
    let new = match NewContact::parse(&form.firstname, &form.lastname, &form.email) {
        Ok(new) => new,
        Err(errors) => return rerender(form, errors, StatusCode::UNPROCESSABLE_ENTITY),
    };
    match state.store.create(new).await {
        Ok(contact) => see_other(state.links.contact(contact.id)),
        Err(WriteError::EmailTaken) => rerender(form, email_taken(), StatusCode::CONFLICT),
        Err(e) => Error::from(e).into_response(),
    }
}

async fn edit_form(State(state): State<AppState>, Path(raw_id): Path<String>) -> Result<Response, Error> {
    let Some(id) = ContactId::parse(&raw_id) else { return Ok(not_found(&state)) };
    let Some(contact) = state.store.get(id).await? else { return Ok(not_found(&state)) };
    let action = format!("/contacts/{id}/edit");
    let cancel = format!("/contacts/{id}");
    let title = format!("Edit {} {}", contact.firstname, contact.lastname);
    let page = templates::contact_form(
        &state.site,
        &title,
        &action,
        "Save",
        &cancel,
        &FormState::from_contact(&contact),
    );
    Ok(page.into_response())
}

async fn update(
    State(state): State<AppState>,
    Path(raw_id): Path<String>,
    Form(form): Form<ContactForm>,
) -> Response {
    let Some(id) = ContactId::parse(&raw_id) else { return not_found(&state) };
    let rerender = |form: ContactForm, errors, status| {
        let (action, cancel) = (format!("/contacts/{id}/edit"), format!("/contacts/{id}"));
        let page = templates::contact_form(
            &state.site,
            "Edit contact",
            &action,
            "Save",
            &cancel,
            &form.into_state(errors),
        );
        (status, page).into_response()
    };
    let changes = match ContactChanges::parse(Some(&form.firstname), Some(&form.lastname), Some(&form.email))
    {
        Ok(changes) => changes,
        Err(errors) => return rerender(form, errors, StatusCode::UNPROCESSABLE_ENTITY),
    };
    match state.store.update(id, &changes).await {
        Ok(_) => see_other(state.links.contact(id)),
        Err(WriteError::NotFound) => not_found(&state),
        Err(WriteError::EmailTaken) => rerender(form, email_taken(), StatusCode::CONFLICT),
        Err(e) => Error::from(e).into_response(),
    }
}

async fn confirm_delete(
    State(state): State<AppState>,
    Path(raw_id): Path<String>,
) -> Result<Response, Error> {
    let Some(id) = ContactId::parse(&raw_id) else { return Ok(not_found(&state)) };
    let Some(contact) = state.store.get(id).await? else { return Ok(not_found(&state)) };
    Ok(templates::confirm_delete(&state.site, &contact).into_response())
}

async fn delete(State(state): State<AppState>, Path(raw_id): Path<String>) -> Response {
    let Some(id) = ContactId::parse(&raw_id) else { return not_found(&state) };
    match state.store.delete(id).await {
        Ok(()) => see_other(state.links.base().to_owned()),
        Err(WriteError::NotFound) => not_found(&state),
        Err(e) => Error::from(e).into_response(),
    }
}
