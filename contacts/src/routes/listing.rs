//! The listing's query string (`?q=&limit=&cursor=`), shared by the JSON list and the list page:
//! parsed once into the store's [`ListQuery`], and carried over into the next page's link.

use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::Error;
use crate::links::Links;
use crate::store::{Cursor, ListQuery, Page, Store};

/// Default and largest page of a listing.
pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 200;

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
    pub fn to_query(&self) -> Result<ListQuery, Error> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(Error::invalid("limit", format!("must be from 1 to {MAX_LIMIT}")));
        }
        let after = match self.cursor.as_deref() {
            None | Some("") => None,
            Some(raw) => Some(Cursor::decode(raw).ok_or(Error::UnknownCursor)?),
        };
        // No stored field holds a control character, and PostgreSQL refuses NUL in any text.
        if self.q.as_deref().is_some_and(|q| q.chars().any(char::is_control)) {
            return Err(Error::invalid("q", "must not contain control characters"));
        }
        let search = self.q.as_deref().map(str::trim).filter(|q| !q.is_empty()).map(str::to_owned);
        Ok(ListQuery { search, after, limit })
    }

    /// The search as typed, trimmed (empty for none).
    pub fn search(&self) -> &str {
        self.q.as_deref().unwrap_or("").trim()
    }

    /// The query string of the page after `next`, keeping the search and the limit.
    fn next_params(&self, next: &Cursor) -> Vec<(&'static str, String)> {
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

    /// The list page's link to the page after `next` (`/?...`).
    pub fn next_href(&self, next: &Cursor) -> String {
        let pairs = self.next_params(next);
        let query: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
        format!("/?{query}")
    }

    /// The JSON list's absolute URL of the page after `next`.
    pub fn next_url(&self, links: &Links, next: &Cursor) -> String {
        let params = self.next_params(next);
        let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        links.contacts_with(&pairs)
    }
}

/// The page of contacts `params` asks for; a search is counted in the search-results metric.
pub async fn fetch(store: &Store, params: &ListParams) -> Result<Page, Error> {
    let query = params.to_query()?;
    let page = store.list(&query).await?;
    if query.is_search() {
        metrics::histogram!(crate::metrics::SEARCH_RESULTS).record(page.items.len() as f64);
    }
    Ok(page)
}
