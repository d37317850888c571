//! `GET /users` and `GET /users/{id}`: the users replica, as JSON or HTML.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use service_kit::error::{Path, Query};
use service_kit::negotiate::wants_html;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::actions::load_user;
use super::params::Paging;
use super::state::AppState;
use super::views::{UserList, UserView};
use crate::error::{Error, Result};
use crate::templates;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_users)).routes(routes!(get_user))
}

/// The users calendar knows (from the contacts feed), ordered by id.
#[utoipa::path(
    get,
    path = "/users",
    tag = "users",
    params(Paging),
    responses(
        (status = 200, description = "A page of users (HTML for browsers)", body = UserList),
        (status = 400, description = "Bad limit or cursor", body = service_kit::error::ErrorBody),
    )
)]
#[tracing::instrument(skip_all)]
pub async fn list_users(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(paging): Query<Paging>,
) -> Result<Response> {
    let limit = paging.limit()?;
    let after = match paging.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(raw) => Some(Uuid::parse_str(raw).map_err(|_| Error::BadRequest("cursor is not valid".into()))?),
    };
    let mut page = state.store.users(after, limit + 1).await?;
    let more = page.len() > limit as usize;
    page.truncate(limit as usize);
    let next = match (more, page.last()) {
        (true, Some(last)) => Some(format!("{}?limit={limit}&cursor={}", state.links.users(), last.id)),
        _ => None,
    };
    if wants_html(&headers) {
        return Ok(templates::users::list(&state.site, &page, next.as_deref()).into_response());
    }
    let items = page.iter().map(|u| UserView::new(&state.links, u)).collect();
    Ok(axum::Json(UserList { items, next }).into_response())
}

/// One user of the replica.
#[utoipa::path(
    get,
    path = "/users/{id}",
    tag = "users",
    params(("id" = String, Path, description = "The contact's UUID")),
    responses(
        (status = 200, description = "The user (HTML for browsers)", body = UserView),
        (status = 404, description = "Unknown user", body = service_kit::error::ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(user = %id))]
pub async fn get_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response> {
    let user = load_user(&state, &id).await?;
    if wants_html(&headers) {
        return Ok(templates::users::one(&state.site, &state.links, &user).into_response());
    }
    Ok(axum::Json(UserView::new(&state.links, &user)).into_response())
}
