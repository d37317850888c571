//! The server loop and the middleware against hostile clients, over real TCP on 127.0.0.1:
//! oversized and overlong request heads, slowloris senders, slow and lying bodies, a client
//! hogging connections, and the security headers on every kind of answer.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use service_kit::error::Json;
use service_kit::http::{HttpOptions, apply};
use service_kit::server::{ServerLimits, serve};
use test_support::hostile::{
    FIRST_CLIENT, OTHER_CLIENT, RawResponse, assert_security_headers, closed_within, connect_from, exchange,
    get_request, send_raw, trickle,
};
use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;
use url::Url;

/// Far above every timeout under test: only a server that never acts runs into it.
const PATIENCE: Duration = Duration::from_secs(30);

struct Server {
    addr: SocketAddr,
    token: CancellationToken,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.token.cancel();
    }
}

async fn start(limits: ServerLimits, request_timeout: Duration) -> Server {
    let routes = Router::new()
        .route("/ok", get(|| async { "ok" }))
        .route("/echo", post(|Json(value): Json<serde_json::Value>| async move { axum::Json(value) }))
        .route("/panic", get(panicking));
    let mut options = HttpOptions::new(Url::parse("http://public.example/").unwrap());
    options.request_timeout = request_timeout;
    options.body_limit = 1024;
    let router = apply(routes, options);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let token = CancellationToken::new();
    tokio::spawn(serve(listener, router, limits, token.clone()));
    Server { addr, token }
}

async fn panicking() -> &'static str {
    panic!("a handler bug")
}

fn limits() -> ServerLimits {
    ServerLimits {
        header_read_timeout: Duration::from_secs(1),
        max_header_bytes: 8 * 1024,
        max_connections_per_client: 8,
        ..ServerLimits::default()
    }
}

async fn get_ok(server: &Server, headers: &[(&str, &str)]) -> Option<RawResponse> {
    send_raw(server.addr, &get_request("/ok", headers), PATIENCE).await
}

fn post_echo(body: &str, extra: &str) -> Vec<u8> {
    format!(
        "POST /echo HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{extra}\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[tokio::test]
async fn a_request_head_over_the_byte_limit_gets_431_and_one_under_it_is_served() {
    let server = start(limits(), PATIENCE).await;
    let big = "a".repeat(9 * 1024);
    let answer = get_ok(&server, &[("x-big", &big)]).await.expect("an answer");
    assert_eq!(answer.status, 431);
    let fits = "a".repeat(6 * 1024);
    assert_eq!(get_ok(&server, &[("x-big", &fits)]).await.expect("an answer").status, 200);
    // Many small headers add up the same way.
    let line = "b".repeat(100);
    let many: Vec<(String, String)> = (0..90).map(|i| (format!("x-h{i}"), line.clone())).collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    assert_eq!(get_ok(&server, &many).await.expect("an answer").status, 431);
}

#[tokio::test]
async fn more_header_fields_than_the_limit_get_431() {
    let server = start(ServerLimits { max_header_bytes: 64 * 1024, ..limits() }, PATIENCE).await;
    let fields =
        |n: usize| -> Vec<(String, String)> { (0..n).map(|i| (format!("x-h{i}"), "1".into())).collect() };
    let ask = |fields: Vec<(String, String)>| {
        let request = {
            let refs: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            get_request("/ok", &refs)
        };
        async move { send_raw(server.addr, &request, PATIENCE).await.expect("an answer").status }
    };
    // `get_request` adds two fields of its own.
    assert_eq!(ask(fields(service_kit::server::MAX_HEADER_FIELDS - 2)).await, 200);
    assert_eq!(ask(fields(service_kit::server::MAX_HEADER_FIELDS + 1)).await, 431);
}

#[tokio::test]
async fn a_client_sending_its_headers_byte_by_byte_is_cut_off_after_the_header_read_timeout() {
    let server = start(limits(), PATIENCE).await;
    let stream = connect_from(FIRST_CLIENT, server.addr).await.unwrap();
    let slow = trickle(
        stream,
        b"GET /ok HTTP/1.1\r\nx-slow: aaaaaaaaaaaaaaaaaaaaaaaaa",
        Duration::from_millis(100),
        PATIENCE,
    )
    .await;
    assert!(slow.answer.is_empty(), "no answer, just a close: {:?}", String::from_utf8_lossy(&slow.answer));
    assert!(slow.sent > 1, "the client got some bytes out before the close");
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_header_read_timeout() {
    let server = start(limits(), PATIENCE).await;
    let mut stream = connect_from(FIRST_CLIENT, server.addr).await.unwrap();
    let request = b"GET /ok HTTP/1.1\r\nhost: localhost\r\n\r\n";
    assert_eq!(exchange(&mut stream, request, PATIENCE).await.expect("an answer").status, 200);
    assert!(closed_within(&mut stream, PATIENCE).await, "the idle connection is closed");
}

#[tokio::test]
async fn a_body_that_never_arrives_gets_408_in_the_error_shape_after_the_request_timeout() {
    let server = start(limits(), Duration::from_secs(1)).await;
    let mut stream = connect_from(FIRST_CLIENT, server.addr).await.unwrap();
    // Announces 100 bytes, sends 9.
    let head = "POST /echo HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n";
    let answer =
        exchange(&mut stream, format!("{head}{{\"a\": 1,").as_bytes(), PATIENCE).await.expect("an answer");
    assert_request_timeout(&answer);
    assert!(closed_within(&mut stream, PATIENCE).await, "the connection is closed after the 408");
}

#[tokio::test]
async fn a_body_sent_byte_by_byte_gets_408_after_the_request_timeout() {
    let server = start(limits(), Duration::from_secs(1)).await;
    let mut stream = connect_from(FIRST_CLIENT, server.addr).await.unwrap();
    let head = "POST /echo HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    let slow = trickle(stream, b" ", Duration::from_millis(100), PATIENCE).await;
    let answer = String::from_utf8_lossy(&slow.answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"error\":\"request_timeout\""), "{answer}");
}

fn assert_request_timeout(answer: &RawResponse) {
    assert_eq!(answer.status, 408, "{}", answer.text());
    let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(body["error"], "request_timeout", "{body}");
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_security_headers("the 408", |name| answer.header(name).map(str::to_string));
}

#[tokio::test]
async fn a_body_over_the_limit_gets_413_in_the_error_shape_with_or_without_a_length() {
    let server = start(limits(), PATIENCE).await;
    let big = format!("{{\"a\": \"{}\"}}", "x".repeat(2000));
    let with_length =
        send_raw(server.addr, &post_echo(&big, "connection: close\r\n"), PATIENCE).await.unwrap();
    let chunked = format!(
        "POST /echo HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n{:x}\r\n{big}\r\n0\r\n\r\n",
        big.len()
    );
    let without_length = send_raw(server.addr, chunked.as_bytes(), PATIENCE).await.unwrap();
    for answer in [with_length, without_length] {
        assert_eq!(answer.status, 413, "{}", answer.text());
        let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
        assert_eq!(body["error"], "payload_too_large", "{body}");
    }
    let small =
        send_raw(server.addr, &post_echo("{\"a\": 1}", "connection: close\r\n"), PATIENCE).await.unwrap();
    assert_eq!(small.status, 200, "{}", small.text());
}

#[tokio::test]
async fn a_client_holding_all_its_connections_is_refused_more_while_another_client_is_served() {
    let server = start(ServerLimits { header_read_timeout: PATIENCE, ..limits() }, PATIENCE).await;
    // Eight slowloris connections from 127.0.0.1: a request line, then nothing.
    let mut hogs = Vec::new();
    for _ in 0..8 {
        let mut stream = connect_from(FIRST_CLIENT, server.addr).await.unwrap();
        stream.write_all(b"GET /ok HTTP/1.1\r\n").await.unwrap();
        hogs.push(stream);
    }
    // A ninth is closed without an answer.
    let mut ninth = connect_from(FIRST_CLIENT, server.addr).await.unwrap();
    assert!(exchange(&mut ninth, &get_request("/ok", &[]), PATIENCE).await.is_none(), "the ninth is refused");
    // Another client is served, again and again.
    for _ in 0..20 {
        let mut other = connect_from(OTHER_CLIENT, server.addr).await.unwrap();
        let answer = exchange(&mut other, &get_request("/ok", &[]), PATIENCE).await.expect("served");
        assert_eq!(answer.status, 200);
    }
    // A hog that finishes frees its slot for the first client.
    let mut finished = hogs.pop().unwrap();
    let answer = exchange(&mut finished, b"host: localhost\r\nconnection: close\r\n\r\n", PATIENCE).await;
    assert_eq!(answer.expect("the held request is answered").status, 200);
    test_support::wait_until("a slot for 127.0.0.1 again", PATIENCE, || async {
        let mut stream = connect_from(FIRST_CLIENT, server.addr).await.ok()?;
        exchange(&mut stream, &get_request("/ok", &[]), PATIENCE).await.filter(|a| a.status == 200)
    })
    .await;
}

#[tokio::test]
async fn every_kind_of_answer_carries_the_security_headers() {
    let server = start(limits(), Duration::from_secs(1)).await;
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("a page", get_request("/ok", &[]), 200),
        ("an unknown path", get_request("/nope", &[]), 404),
        ("a wrong method", b"DELETE /ok HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n".to_vec(), 405),
        ("a panic", get_request("/panic", &[]), 500),
        ("malformed JSON", post_echo("{", "connection: close\r\n"), 400),
        (
            "a wrong media type",
            b"POST /echo HTTP/1.1\r\nhost: localhost\r\ncontent-type: text/plain\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}"
                .to_vec(),
            415,
        ),
        ("a body too large", post_echo(&"x".repeat(2000), "connection: close\r\n"), 413),
        ("a cross-site post", post_echo("{}", "origin: http://evil.example\r\nconnection: close\r\n"), 403),
        ("a rebound host name", get_request("/ok", &[("host", "evil.example")]), 421),
        (
            "a huge declared body",
            b"POST /echo HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: 99999999999\r\n\r\n{}"
                .to_vec(),
            413,
        ),
        (
            "a timed-out body",
            b"POST /echo HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: 9\r\n\r\n{"
                .to_vec(),
            408,
        ),
    ];
    for (what, request, status) in cases {
        let answer =
            send_raw(server.addr, &request, PATIENCE).await.unwrap_or_else(|| panic!("{what}: no answer"));
        assert_eq!(answer.status, status, "{what}: {}", answer.text());
        assert_security_headers(what, |name| answer.header(name).map(str::to_string));
        if status >= 400 {
            let body: serde_json::Value = serde_json::from_slice(&answer.body)
                .unwrap_or_else(|e| panic!("{what}: the error is not JSON ({e}): {}", answer.text()));
            assert!(body["error"].is_string() && body["message"].is_string(), "{what}: {body}");
        }
    }
}

#[tokio::test]
async fn a_request_declaring_a_body_over_the_limit_gets_413_before_sending_it() {
    let server = start(limits(), PATIENCE).await;
    let mut stream = connect_from(FIRST_CLIENT, server.addr).await.unwrap();
    let head = "POST /echo HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: 1073741824\r\n\r\n{";
    let started = std::time::Instant::now();
    let answer = exchange(&mut stream, head.as_bytes(), PATIENCE).await.expect("an answer");
    let took = started.elapsed();
    assert_eq!(answer.status, 413, "{}", answer.text());
    assert!(answer.text().contains("\"error\":\"payload_too_large\""), "{}", answer.text());
    assert!(took < Duration::from_secs(2), "the answer took {took:?}: the server waited for the body");
}

#[tokio::test]
async fn only_the_public_host_allowed_hosts_and_addresses_are_answered() {
    let routes = Router::new().route("/ok", get(|| async { "ok" }));
    let mut options = HttpOptions::new(Url::parse("http://public.example:8080/").unwrap());
    options.allowed_hosts = vec!["contacts:3000".into()];
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let token = CancellationToken::new();
    tokio::spawn(serve(listener, apply(routes, options), limits(), token.clone()));
    let _server = Server { addr, token };
    let served = ["public.example:8080", "contacts:3000", "127.0.0.1", "[::1]:1", "localhost:9"];
    let misdirected = ["public.example", "public.example:8081", "contacts", "evil.example:8080"];
    for (host, status) in served.iter().map(|h| (h, 200)).chain(misdirected.iter().map(|h| (h, 421))) {
        let answer =
            send_raw(addr, &get_request("/ok", &[("host", host)]), PATIENCE).await.expect("an answer");
        assert_eq!(answer.status, status, "Host: {host}: {}", answer.text());
    }
    for path in ["/metrics", "/health/live"] {
        let answer = send_raw(addr, &get_request(path, &[("host", "evil.example")]), PATIENCE)
            .await
            .expect("an answer");
        assert_ne!(answer.status, 421, "{path} answers on any host");
    }
}
