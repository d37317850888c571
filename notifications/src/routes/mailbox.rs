//! `GET /mailbox`: the messages stored in mailbox mode, newest first, for the operator (HTTP
//! Basic, see [`crate::auth`]). HTML only: the JSON API has the jobs.

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use service_kit::error::Query;

use super::listing::ListParams;
use super::private::private;
use super::state::AppState;
use crate::auth::Auth;
use crate::error::Error;
use crate::templates;

pub fn router() -> Router<AppState> {
    Router::new().route("/mailbox", get(mailbox))
}

async fn mailbox(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<ListParams>,
) -> Result<Response, Error> {
    if !app.auth.is_operator(&headers) {
        return Ok(Auth::page_challenge());
    }
    let limit = params.limit()?;
    let page = app.store.list_mailbox(params.cursor()?, limit).await?;
    Ok(private(templates::mailbox(&app.pages, &page, limit)))
}
