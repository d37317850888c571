use axum::Router;
use url::Url;

pub fn router(_public_url: Url) -> Router {
    Router::new()
}

pub fn openapi() -> utoipa::openapi::OpenApi {
    utoipa::openapi::OpenApiBuilder::new().build()
}
