//! The query of every listing (`GET /notifications`, `GET /mailbox`): which page, how long.

use serde::Deserialize;
use utoipa::IntoParams;

use crate::domain::JobStatus;
use crate::error::Error;

/// Default and largest page size.
const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 200;

/// Query of `GET /notifications`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only jobs with this status.
    pub status: Option<JobStatus>,
    /// Jobs per page (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// Where the page starts: copy it from the `next` link; its format may change.
    #[param(pattern = r"^[1-9][0-9]{0,17}$")]
    pub cursor: Option<String>,
}

impl ListParams {
    pub fn limit(&self) -> Result<u32, Error> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(_) => Err(Error::InvalidLimit { max: MAX_LIMIT }),
        }
    }

    /// The `seq` the page starts below, if the query names one.
    pub fn cursor(&self) -> Result<Option<i64>, Error> {
        match self.cursor.as_deref() {
            None => Ok(None),
            Some(raw) => raw.parse::<i64>().ok().filter(|n| *n > 0).map(Some).ok_or(Error::UnknownCursor),
        }
    }
}
