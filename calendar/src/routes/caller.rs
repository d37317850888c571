//! Stand-in for `service_kit::auth::Caller` until the auth core is merged: the same shape, read
//! from the request's extensions; without one, the open-on-loopback operator.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub id: String,
    pub email: Option<String>,
    pub operator: bool,
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<Caller>().cloned().unwrap_or(Caller {
            id: "anonymous".into(),
            email: None,
            operator: true,
        }))
    }
}
