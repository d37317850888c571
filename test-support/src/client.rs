//! The black-box tests' HTTP client for one running instance: paths are joined to its address,
//! every call is real HTTP over loopback, redirects are not followed (a test sees the `303`).

use reqwest::Response;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

/// Calls against the instance at `address` (`http://127.0.0.1:<port>`). A service's `TestApp`
/// holds one and dereferences to it, so tests write `app.get("/contacts")`.
#[derive(Debug, Clone)]
pub struct TestClient {
    /// `http://127.0.0.1:<port>`, where requests go.
    pub address: String,
    pub http: reqwest::Client,
}

impl TestClient {
    pub fn new(address: impl Into<String>) -> Self {
        Self { address: address.into(), http: crate::http_client() }
    }

    /// For a service on `port` of 127.0.0.1.
    pub fn on_port(port: u16) -> Self {
        Self::new(format!("http://127.0.0.1:{port}"))
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/{}", self.address, path.trim_start_matches('/'))
    }

    pub async fn get(&self, path: &str) -> Response {
        self.http.get(self.url(path)).send().await.unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// `GET` with extra headers (`("accept", "text/html")`, ...).
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        self.http
            .get(self.url(path))
            .headers(header_map(headers))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// `GET` with `Accept: <accept>`.
    pub async fn get_accept(&self, path: &str, accept: &str) -> Response {
        self.get_with(path, &[("accept", accept)]).await
    }

    /// `GET` asking for JSON; the status and the parsed body.
    pub async fn get_json(&self, path: &str) -> (reqwest::StatusCode, Value) {
        let response = self.get_accept(path, "application/json").await;
        (response.status(), crate::json_body(response).await)
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.http.post(self.url(path)).json(body).send().await.unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    pub async fn put_json(&self, path: &str, body: &Value) -> Response {
        self.http.put(self.url(path)).json(body).send().await.unwrap_or_else(|e| panic!("PUT {path}: {e}"))
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.http.delete(self.url(path)).send().await.unwrap_or_else(|e| panic!("DELETE {path}: {e}"))
    }

    /// `POST` of an HTML form (`application/x-www-form-urlencoded`), as a browser sends it.
    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Response {
        self.http
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_body(form))
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST form {path}: {e}"))
    }
}

/// A URL-encoded form body.
pub fn form_body(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}

fn header_map(headers: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes()).unwrap_or_else(|e| panic!("header {name}: {e}"));
        let value = HeaderValue::from_str(value).unwrap_or_else(|e| panic!("header value {value:?}: {e}"));
        map.append(name, value);
    }
    map
}
