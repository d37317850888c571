//! Calendar owners behind an OpenID Connect provider: a JWT's `email` names the user it acts
//! for; only the owner changes a calendar or an event, participants may leave, operator tokens
//! may do anything, and every bad token is `401`. Tokens are minted here and the provider's keys
//! are served on loopback.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use service_kit::auth::AuthSettings;
use service_kit::jwt::{CLOCK_SKEW, JwtSettings};
use test_support::jwt::{self, JwksServer, SigningKey};
use test_support::{TestDb, json_body};
use uuid::Uuid;

use crate::feed_server::FeedServer;
use crate::helpers::{TestApp, settings, spawn_with};

const OPERATOR_SCOPE: &str = "calendar:admin";
/// An API token: still accepted in JWT mode, but no operator there.
const API_TOKEN: &str = "api-token-for-services-0001";

struct Setup {
    app: TestApp,
    jwks: JwksServer,
    ann: Uuid,
    bob: Uuid,
    carol: Uuid,
    operator: String,
}

async fn setup(refetch_interval: Duration) -> Setup {
    let feed = FeedServer::start(20).await;
    let ann = feed.create_contact("ann@example.org", "Ann", "Lee");
    let bob = feed.create_contact("bob@example.org", "Bob", "Ray");
    let carol = feed.create_contact("carol@example.org", "Carol", "Poe");
    let jwks = JwksServer::start(vec![SigningKey::rsa_1(), SigningKey::ec_1()]).await;
    let db = TestDb::new().await;
    let mut settings = settings(&db, &feed, None);
    let mut jwt = JwtSettings::new(jwks.url().clone(), jwt::ISSUER, jwt::AUDIENCE);
    jwt.operator_scope = Some(OPERATOR_SCOPE.into());
    jwt.refetch_interval = refetch_interval;
    settings.common.auth =
        AuthSettings { jwt: Some(jwt), ..AuthSettings::with_credentials(&[API_TOKEN], "admin", None) };
    let operator = SigningKey::ec_1().sign(&with(
        jwt::claims("ops-1", "ops@example.org"),
        "scope",
        format!("openid {OPERATOR_SCOPE}").into(),
    ));
    let mut app = spawn_with(db, settings).await;
    // Reads in the helpers go as the operator.
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("authorization", format!("Bearer {operator}").parse().unwrap());
    app.client.http = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()
        .unwrap();
    for user in [ann, bob, carol] {
        app.wait_for_user(user).await;
    }
    Setup { app, jwks, ann, bob, carol, operator }
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

fn token_of(email: &str) -> String {
    SigningKey::rsa_1().sign(&jwt::claims(&format!("sub-{email}"), email))
}

impl Setup {
    /// A JSON request as the bearer of `token`.
    async fn send(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> reqwest::Response {
        let mut request = self.app.http.request(method, self.app.url(path)).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    /// A page's form post as the bearer of `token`.
    async fn form(&self, path: &str, token: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.app
            .http
            .post(self.app.url(path))
            .bearer_auth(token)
            .header("accept", "text/html")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(test_support::client::form_body(form))
            .send()
            .await
            .unwrap()
    }

    async fn event(&self, id: &str) -> (StatusCode, Value) {
        self.app.get_json(&format!("/event/{id}")).await
    }

    async fn participants(&self, id: &str) -> Value {
        self.app.get_json(&format!("/event/{id}/participants")).await.1
    }

    async fn calendar_items(&self, user: Uuid) -> Vec<Value> {
        let (status, body) = self.app.get_json(&format!("/calendar/{user}")).await;
        assert_eq!(status, 200, "{body}");
        body["items"].as_array().unwrap().clone()
    }
}

fn event_body(title: &str) -> Value {
    json!({"title": title, "day": 24, "month": 12, "year": 2026})
}

#[tokio::test]
async fn a_user_token_cannot_change_another_users_calendar_and_changes_nothing() {
    let s = setup(Duration::from_secs(30)).await;
    let (ann, bob) = (token_of("ann@example.org"), token_of("bob@example.org"));

    // Bob cannot add to Ann's calendar; Ann can.
    let refused =
        s.send(Method::POST, &format!("/calendar/{}", s.ann), &bob, Some(event_body("Bob's"))).await;
    assert_eq!(refused.status(), 403);
    assert_eq!(json_body(refused).await["error"], "forbidden");
    let created =
        s.send(Method::POST, &format!("/calendar/{}", s.ann), &ann, Some(event_body("Party"))).await;
    assert_eq!(created.status(), 201);
    let event = json_body(created).await["id"].as_str().unwrap().to_string();
    let before = s.event(&event).await.1;

    // Neither the JSON API nor the pages' forms let Bob change Ann's event.
    let path = format!("/event/{event}");
    for (method, path, body) in [
        (Method::PUT, path.clone(), Some(event_body("Hijacked"))),
        (Method::DELETE, path.clone(), None),
        (Method::POST, format!("{path}/participants"), Some(json!(["bob@example.org"]))),
    ] {
        let response = s.send(method.clone(), &path, &bob, body).await;
        assert_eq!(response.status(), 403, "{method} {path}");
        assert_eq!(json_body(response).await["error"], "forbidden", "{method} {path}");
    }
    for (form_path, form) in [
        (format!("{path}/edit"), vec![("title", "Hijacked"), ("date", "2026-12-24")]),
        (format!("{path}/delete"), vec![]),
        (format!("{path}/invite"), vec![("emails", "bob@example.org")]),
        (format!("/calendar/{}/new", s.ann), vec![("title", "Bob's"), ("date", "2026-12-24")]),
    ] {
        let response = s.form(&form_path, &bob, &form).await;
        assert_eq!(response.status(), 403, "{form_path}");
        let content_type = response.headers()["content-type"].to_str().unwrap().to_string();
        assert!(content_type.starts_with("text/html"), "{form_path}: {content_type}");
        assert!(response.text().await.unwrap().contains("only the"), "{form_path}: the page says why");
    }
    assert_eq!(s.event(&event).await.1, before, "the event is unchanged");
    assert_eq!(s.participants(&event).await, json!([]));
    assert_eq!(s.calendar_items(s.ann).await.len(), 1, "nothing was added");

    // An API token is no operator when JWTs name the users.
    let response = s.send(Method::PUT, &path, API_TOKEN, Some(event_body("By a service"))).await;
    assert_eq!(response.status(), 403);

    // The owner can (the address compared without regard to case).
    let ann_upper = token_of("ANN@Example.org");
    let response = s.send(Method::PUT, &path, &ann_upper, Some(event_body("Party!"))).await;
    assert_eq!(response.status(), 200);
    assert_eq!(s.event(&event).await.1["title"], "Party!");
    let invited = s
        .send(
            Method::POST,
            &format!("{path}/participants"),
            &ann,
            Some(json!(["bob@example.org", "carol@example.org"])),
        )
        .await;
    assert_eq!(invited.status(), 200);
}

#[tokio::test]
async fn a_participant_may_leave_but_not_remove_others_and_an_operator_may_do_anything() {
    let s = setup(Duration::from_secs(30)).await;
    let (ann, bob, carol) =
        (token_of("ann@example.org"), token_of("bob@example.org"), token_of("carol@example.org"));
    let created =
        s.send(Method::POST, &format!("/calendar/{}", s.ann), &ann, Some(event_body("Party"))).await;
    let event = json_body(created).await["id"].as_str().unwrap().to_string();
    let path = format!("/event/{event}");
    let invited = s
        .send(
            Method::POST,
            &format!("{path}/participants"),
            &ann,
            Some(json!(["bob@example.org", "carol@example.org"])),
        )
        .await;
    assert_eq!(invited.status(), 200);

    let remove_bob = format!("{path}/participants/{}", s.bob);
    assert_eq!(s.send(Method::DELETE, &remove_bob, &carol, None).await.status(), 403);
    let page = s.form(&format!("{remove_bob}/remove"), &carol, &[]).await;
    assert_eq!(page.status(), 403);
    assert_eq!(s.participants(&event).await.as_array().unwrap().len(), 2, "nobody left");
    assert_eq!(s.send(Method::DELETE, &remove_bob, &bob, None).await.status(), 204);
    assert_eq!(s.participants(&event).await.as_array().unwrap().len(), 1);

    // Parked feed entries are for operators.
    assert_eq!(s.send(Method::GET, "/feed/parked", &carol, None).await.status(), 403);
    assert_eq!(s.send(Method::GET, "/feed/parked", &s.operator, None).await.status(), 200);

    // The operator edits and deletes Ann's event, and adds to Carol's calendar.
    assert_eq!(s.send(Method::PUT, &path, &s.operator, Some(event_body("Moved"))).await.status(), 200);
    assert_eq!(s.event(&event).await.1["title"], "Moved");
    let remove_carol = format!("{path}/participants/{}", s.carol);
    assert_eq!(s.send(Method::DELETE, &remove_carol, &s.operator, None).await.status(), 204);
    assert_eq!(s.send(Method::DELETE, &path, &s.operator, None).await.status(), 204);
    assert_eq!(s.event(&event).await.0, 404);
    let added =
        s.send(Method::POST, &format!("/calendar/{}", s.carol), &s.operator, Some(event_body("Ops"))).await;
    assert_eq!(added.status(), 201);
}

#[tokio::test]
async fn every_bad_jwt_is_refused_with_401_on_a_write_and_changes_nothing() {
    let s = setup(Duration::from_secs(30)).await;
    let good = jwt::claims("sub-ann", "ann@example.org");
    let (rsa, ec) = (SigningKey::rsa_1(), SigningKey::ec_1());
    let now = jwt::now();
    let beyond_skew = CLOCK_SKEW.as_secs() as i64 + 60;
    let without_exp = {
        let mut c = good.clone();
        c.as_object_mut().unwrap().remove("exp");
        c
    };
    let bad = [
        ("wrong signature", SigningKey::rsa_2().with_kid("rsa-1").sign(&good)),
        ("expired", rsa.sign(&with(good.clone(), "exp", (now - beyond_skew).into()))),
        ("not yet valid", rsa.sign(&with(good.clone(), "nbf", (now + beyond_skew).into()))),
        ("wrong issuer", rsa.sign(&with(good.clone(), "iss", "http://evil.example".into()))),
        ("wrong audience", ec.sign(&with(good.clone(), "aud", "another-app".into()))),
        ("unknown kid", SigningKey::rsa_2().sign(&good)),
        ("alg none", jwt::unsigned("rsa-1", &good)),
        ("HS256 with the public key", jwt::hs256("rsa-1", jwt::RSA_1_PUBLIC_PEM.as_bytes(), &good)),
        ("ES256 header on an RSA key", rsa.sign_claiming("ES256", &good)),
        ("missing exp", rsa.sign(&without_exp)),
        ("wrong API token", "not-the-api-token-0000000".to_string()),
    ];
    let calendar = format!("/calendar/{}", s.ann);
    for (what, token) in &bad {
        let response = s.send(Method::POST, &calendar, token, Some(event_body("Forged"))).await;
        assert_eq!(response.status(), 401, "{what}");
        assert_eq!(response.headers()["www-authenticate"], "Bearer", "{what}");
        assert_eq!(json_body(response).await["error"], "unauthorized", "{what}");
    }
    assert!(s.calendar_items(s.ann).await.is_empty(), "nothing was added");
    // The same write with a good token goes through.
    let ok = s.send(Method::POST, &calendar, &rsa.sign(&good), Some(event_body("Real"))).await;
    assert_eq!(ok.status(), 201);
}

#[tokio::test]
async fn a_key_the_provider_rotates_in_is_accepted() {
    let s = setup(Duration::from_millis(200)).await;
    let calendar = format!("/calendar/{}", s.ann);
    let claims = jwt::claims("sub-ann", "ann@example.org");
    let next = SigningKey::rsa_2().sign(&claims);
    assert_eq!(s.send(Method::POST, &calendar, &next, Some(event_body("Too early"))).await.status(), 401);
    s.jwks.set_keys(vec![SigningKey::rsa_2(), SigningKey::ec_1()]);
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(s.send(Method::POST, &calendar, &next, Some(event_body("Rotated"))).await.status(), 201);
    let titles: Vec<Value> = s.calendar_items(s.ann).await.iter().map(|e| e["title"].clone()).collect();
    assert_eq!(titles, [json!("Rotated")]);
}

#[tokio::test]
async fn without_jwt_authentication_any_valid_token_is_an_operator() {
    let feed = FeedServer::start(20).await;
    let ann = feed.create_contact("ann@example.org", "Ann", "Lee");
    let db = TestDb::new().await;
    let mut settings = settings(&db, &feed, None);
    settings.common.auth = AuthSettings::with_credentials(&[API_TOKEN], "admin", None);
    let mut app = spawn_with(db, settings).await;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("authorization", format!("Bearer {API_TOKEN}").parse().unwrap());
    app.client.http = reqwest::Client::builder().no_proxy().default_headers(headers).build().unwrap();
    app.wait_for_user(ann).await;
    let event = app.create_event(ann, "By a service").await;
    let path = format!("/event/{event}");
    assert_eq!(app.put_json(&path, &event_body("Edited")).await.status(), 200);
    assert_eq!(
        app.post_json(&format!("{path}/participants"), &json!(["ann@example.org"])).await.status(),
        200
    );
    assert_eq!(app.delete(&path).await.status(), 204);
    // A JWT-shaped bearer is just a wrong token here.
    let jwt = token_of("ann@example.org");
    let response = app
        .http
        .post(app.url(&format!("/calendar/{ann}")))
        .bearer_auth(jwt)
        .json(&event_body("x"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}
