//! Path and query values shared by several endpoints.

use serde::Deserialize;
use uuid::Uuid;

use crate::error::Error;

/// `?limit=&cursor=` of list endpoints.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    /// Page size, 1 to 200 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// Position from a previous page's `next` (a user id).
    #[param(value_type = Option<String>, format = Uuid)]
    pub cursor: Option<String>,
}

impl Paging {
    pub fn limit(&self) -> Result<u32, Error> {
        page_limit(self.limit.as_deref())
    }
}

/// A page size, 1 to 200 (default 50).
pub fn page_limit(raw: Option<&str>) -> Result<u32, Error> {
    match raw {
        None | Some("") => Ok(50),
        Some(raw) => match raw.parse::<u32>() {
            Ok(n) if (1..=200).contains(&n) => Ok(n),
            _ => Err(Error::BadRequest(format!("limit must be a number from 1 to 200, got {raw:?}"))),
        },
    }
}

/// Parses an id from the path in its one canonical spelling (lower case, hyphenated); anything
/// else is a `404` (no such resource can exist at that URL).
pub fn parse_id(raw: &str, what: &'static str) -> Result<Uuid, Error> {
    service_kit::id::parse_canonical(raw).ok_or(Error::NotFound(what))
}
