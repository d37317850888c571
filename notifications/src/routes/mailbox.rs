//! `GET /mailbox`: the messages stored in mailbox mode, newest first, for the operator (logged in,
//! see `service_kit::auth`). HTML only: the JSON API has the jobs.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use service_kit::auth::Caller;
use service_kit::error::Query;

use super::listing::ListParams;
use super::private::private;
use super::state::AppState;
use crate::error::Error;
use crate::templates;

pub fn router() -> Router<AppState> {
    Router::new().route("/mailbox", get(mailbox))
}

async fn mailbox(
    State(app): State<AppState>,
    _caller: Caller,
    Query(params): Query<ListParams>,
) -> Result<Response, Error> {
    let limit = params.limit()?;
    let page = app.store.list_mailbox(params.cursor()?, limit).await?;
    Ok(private(templates::mailbox(&app.pages, &page, limit)))
}
