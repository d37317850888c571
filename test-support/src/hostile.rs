//! Hostile clients for black-box tests: requests written byte for byte on a raw TCP connection
//! (any header, any size, any speed), connections from another loopback address, and the
//! checks every service's tests share (security headers, links under the public URL).
//!
//! Linux routes all of `127.0.0.0/8` to the loopback interface, so a socket bound to
//! [`OTHER_CLIENT`] (`127.0.0.2`) reaches a server on `127.0.0.1` as a different client IP.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// A second client address on the loopback interface.
pub const OTHER_CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// The address requests come from by default.
pub const FIRST_CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// A host name no service is configured with: it must never show up in what they publish.
pub const HOSTILE_HOST: &str = "attacker.example";

/// Headers that proxies use to pass on the host a client asked for, all naming [`HOSTILE_HOST`].
/// A service builds its links from `PUBLIC_URL` and must ignore every one of them. (A hostile
/// `Host` itself is refused with `421`: see [`REBINDING`].)
pub const HOSTILE_HOST_HEADERS: [(&str, &str); 4] = [
    ("x-forwarded-host", HOSTILE_HOST),
    ("x-forwarded-proto", "gopher"),
    ("forwarded", "host=attacker.example;proto=https"),
    ("x-original-url", "http://attacker.example/"),
];

/// What a browser sends after a page on `evil.example` had its name rebound to the service's
/// address: the attacker's host in `Host`, and the page's own origin, so the request looks
/// same-origin to the browser. Every route but health and metrics answers it `421`.
pub const REBINDING: [(&str, &str); 3] = [
    ("host", "evil.example:3000"),
    ("origin", "http://evil.example:3000"),
    ("sec-fetch-site", "same-origin"),
];

/// Connects to `server` from `client` (any free port of that address).
pub async fn connect_from(client: IpAddr, server: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = match client {
        IpAddr::V4(_) => TcpSocket::new_v4()?,
        IpAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.bind(SocketAddr::new(client, 0))?;
    socket.connect(server).await
}

/// A response read off a raw connection.
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    /// Header names in lower case, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The first header named `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Writes `request` (all of it; the server may close early, which is not an error here) and
/// reads one response. `None` when the server closed the connection without answering.
/// Gives up after `deadline` with a panic.
pub async fn exchange(stream: &mut TcpStream, request: &[u8], deadline: Duration) -> Option<RawResponse> {
    let _ = stream.write_all(request).await;
    tokio::time::timeout(deadline, read_response(stream))
        .await
        .unwrap_or_else(|_| panic!("no answer and no close within {deadline:?}"))
}

/// [`exchange`] on a new connection from 127.0.0.1.
pub async fn send_raw(server: SocketAddr, request: &[u8], deadline: Duration) -> Option<RawResponse> {
    let mut stream = TcpStream::connect(server).await.expect("connect");
    exchange(&mut stream, request, deadline).await
}

/// Reads one response: the head, then a body of `Content-Length` bytes, a chunked body, or
/// everything until the server closes.
async fn read_response(stream: &mut TcpStream) -> Option<RawResponse> {
    let mut buffer = Vec::new();
    let head_end = loop {
        if let Some(end) = find(&buffer, b"\r\n\r\n") {
            break end;
        }
        let mut chunk = [0u8; 8192];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) if buffer.is_empty() => return None,
            Ok(0) | Err(_) => panic!("the connection closed mid-head: {}", String::from_utf8_lossy(&buffer)),
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP status line: {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = buffer[head_end + 4..].to_vec();
    let length = headers.iter().find(|(n, _)| n == "content-length").and_then(|(_, v)| v.parse().ok());
    let chunked = headers.iter().any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    loop {
        let complete = match length {
            Some(length) => body.len() >= length,
            None if chunked => find(&body, b"0\r\n\r\n").is_some(),
            None => false,
        };
        if complete {
            break;
        }
        let mut chunk = [0u8; 8192];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    if chunked {
        body = dechunk(&body);
    }
    Some(RawResponse { status, headers, body })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    while let Some(line_end) = find(raw, b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&raw[..line_end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = line_end + 2;
        let end = (start + size).min(raw.len());
        body.extend_from_slice(&raw[start..end]);
        raw = &raw[(end + 2).min(raw.len())..];
    }
    body
}

/// What a slow sender achieved before the server hung up.
#[derive(Debug)]
pub struct Trickled {
    /// Bytes written before the server closed the connection.
    pub sent: usize,
    /// Whatever the server answered before closing (empty when it just hung up).
    pub answer: Vec<u8>,
    /// From the first byte to the close.
    pub lasted: Duration,
}

/// Writes `bytes` one at a time, `interval` apart (looping over them again when they run out),
/// until the server closes the connection. Panics when the server still holds the connection
/// after `deadline`.
pub async fn trickle(stream: TcpStream, bytes: &[u8], interval: Duration, deadline: Duration) -> Trickled {
    let started = Instant::now();
    let (mut reader, mut writer) = stream.into_split();
    let bytes = bytes.to_vec();
    let sent = Arc::new(AtomicUsize::new(0));
    let counter = sent.clone();
    let writing = tokio::spawn(async move {
        for byte in bytes.iter().cycle() {
            if writer.write_all(&[*byte]).await.is_err() {
                break;
            }
            counter.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(interval).await;
        }
    });
    let mut answer = Vec::new();
    let closed = tokio::time::timeout(deadline, async {
        let mut chunk = [0u8; 4096];
        loop {
            match reader.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    let lasted = started.elapsed();
    writing.abort();
    let sent = sent.load(Ordering::Relaxed);
    assert!(
        closed.is_ok(),
        "the server still held a connection that sent one byte every {interval:?} after {deadline:?}"
    );
    Trickled { sent, answer, lasted }
}

/// Waits until the server closes `stream`, discarding what it sends; `false` if it is still open
/// after `deadline`.
pub async fn closed_within(stream: &mut TcpStream, deadline: Duration) -> bool {
    tokio::time::timeout(deadline, async {
        let mut chunk = [0u8; 4096];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

/// A request without a body (`content-length: 0` for unsafe methods) with exactly `headers`
/// (plus `connection: close`).
pub fn raw_request(method: &str, path: &str, headers: &[(&str, &str)]) -> Vec<u8> {
    let mut request = format!("{method} {path} HTTP/1.1\r\nconnection: close\r\n");
    if !matches!(method, "GET" | "HEAD") {
        request.push_str("content-length: 0\r\n");
    }
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.into_bytes()
}

/// A `GET` of `path` that closes the connection after the answer, with `host: localhost` unless
/// `extra_headers` name a host of their own.
pub fn get_request(path: &str, extra_headers: &[(&str, &str)]) -> Vec<u8> {
    let mut request = format!("GET {path} HTTP/1.1\r\n");
    if !extra_headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("host")) {
        request.push_str("host: localhost\r\n");
    }
    request.push_str("connection: close\r\n");
    for (name, value) in extra_headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.into_bytes()
}

/// Asserts the headers every response of every service carries: a Content-Security-Policy that
/// allows no scripts and no framing, `nosniff`, a referrer policy, and frame denial for old
/// browsers. `what` names the response in the failure message.
pub fn assert_security_headers(what: &str, get: impl Fn(&str) -> Option<String>) {
    let csp = get("content-security-policy").unwrap_or_else(|| panic!("{what}: no Content-Security-Policy"));
    for directive in ["default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'"] {
        assert!(csp.contains(directive), "{what}: the CSP has no {directive:?}: {csp}");
    }
    assert!(!csp.contains("script-src"), "{what}: the CSP allows scripts: {csp}");
    assert_eq!(get("x-content-type-options").as_deref(), Some("nosniff"), "{what}: X-Content-Type-Options");
    let referrer = get("referrer-policy").unwrap_or_else(|| panic!("{what}: no Referrer-Policy"));
    assert!(
        ["same-origin", "no-referrer", "strict-origin", "strict-origin-when-cross-origin"]
            .contains(&referrer.as_str()),
        "{what}: Referrer-Policy {referrer:?} leaks paths to other sites"
    );
    assert_eq!(get("x-frame-options").as_deref(), Some("DENY"), "{what}: X-Frame-Options");
}

/// [`assert_security_headers`] on a reqwest response's headers.
pub fn assert_security_headers_of(what: &str, headers: &reqwest::header::HeaderMap) {
    assert_security_headers(what, |name| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string));
}

/// One request of [`assert_security_headers_on`]: what it is, method, path, headers, body, and
/// the status it must get.
pub type HeaderCase<'a, V> = (&'a str, reqwest::Method, String, Vec<(&'a str, V)>, String, u16);

/// Sends every case to `url(path)` and checks its status and that the answer carries the
/// security headers.
pub async fn assert_security_headers_on<V: AsRef<str>>(
    client: &reqwest::Client,
    url: impl Fn(&str) -> String,
    cases: Vec<HeaderCase<'_, V>>,
) {
    for (what, method, path, headers, body, status) in cases {
        let mut request = client.request(method, url(&path)).body(body);
        for (name, value) in &headers {
            request = request.header(*name, value.as_ref());
        }
        let response = request.send().await.unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(response.status().as_u16(), status, "{what}: {:?}", response.text().await);
        assert_security_headers_of(what, response.headers());
    }
}

/// A service's server limits, as configured for [`assert_server_limits`].
#[derive(Debug, Clone)]
pub struct ServerLimits<'a> {
    pub addr: SocketAddr,
    /// A `GET` path that answers `200`.
    pub get: &'a str,
    /// Write requests whose bodies the service reads: method, path, content type.
    pub writes: Vec<(&'a str, String, &'a str)>,
    /// Every form and API route besides health and metrics (method and path, ids filled in):
    /// the [`REBINDING`] request must get `421` on each.
    pub routes: Vec<(&'a str, String)>,
    /// `MAX_HEADER_BYTES`.
    pub max_header_bytes: usize,
    /// The body limit of the writes.
    pub body_limit: usize,
    /// `HEADER_READ_TIMEOUT_SECS` and `REQUEST_TIMEOUT_SECS` as the service was started with:
    /// keep them short (a second or two).
    pub header_read_timeout: Duration,
    pub request_timeout: Duration,
    /// `MAX_CONNECTIONS_PER_CLIENT` as the service was started with (a handful).
    pub connections_per_client: usize,
}

/// Checks that a service has wired the server protections of `service_kit` into its own start-up
/// with its own settings: a request head over the limit gets `431` (one within it `200`); a body
/// over the limit `413` in the JSON error shape on every write; headers sent byte by byte are cut
/// off without an answer at the header deadline, a body sent byte by byte gets `408` at the
/// request deadline; one client holding all its connections is refused one more while another
/// client is served; a write declaring a body over the limit gets `413` at once, before the body
/// is sent; the [`REBINDING`] request gets `421` on every route. How each protection behaves in detail is tested once, in
/// `service-kit/tests/hostile_clients.rs`; a service's own test adds that nothing changed.
pub async fn assert_server_limits(limits: ServerLimits<'_>) {
    let patience = limits.request_timeout.max(limits.header_read_timeout) * 4 + Duration::from_secs(10);
    // The cap exactly: with N held the client gets no N+1th, and once the Nth is closed it is
    // served again (so the Nth had been accepted: the cap is neither below nor above N).
    // The held connections are partial requests: the header deadline closes them, so all of
    // this must happen well within it.
    let held_at = Instant::now();
    let mut hogs = Vec::new();
    for _ in 0..limits.connections_per_client {
        let mut stream = connect_from(FIRST_CLIENT, limits.addr).await.expect("connect");
        stream.write_all(format!("GET {} HTTP/1.1\r\n", limits.get).as_bytes()).await.expect("write");
        hogs.push(stream);
    }
    let mut one_more = connect_from(FIRST_CLIENT, limits.addr).await.expect("connect");
    assert!(
        exchange(&mut one_more, &get_request(limits.get, &[]), patience).await.is_none(),
        "a client over MAX_CONNECTIONS_PER_CLIENT is refused"
    );
    let mut other = connect_from(OTHER_CLIENT, limits.addr).await.expect("connect");
    let answer = exchange(&mut other, &get_request(limits.get, &[]), patience).await;
    assert_eq!(answer.map(|a| a.status), Some(200), "another client is served meanwhile");
    drop(hogs.pop());
    let served_again =
        crate::wait_until("the client to be served once it closed a connection", patience, || async {
            let mut stream = connect_from(FIRST_CLIENT, limits.addr).await.ok()?;
            let answer = exchange(&mut stream, &get_request(limits.get, &[]), Duration::from_secs(5)).await;
            answer.filter(|a| a.status == 200).map(|_| ())
        });
    served_again.await;
    assert!(
        held_at.elapsed() < limits.header_read_timeout,
        "the check took {:?}, longer than the header deadline that frees held connections: raise it",
        held_at.elapsed()
    );
    drop(hogs);

    let fits = "a".repeat(limits.max_header_bytes * 3 / 4);
    let answer = send_raw(limits.addr, &get_request(limits.get, &[("x-fits", &fits)]), patience).await;
    assert_eq!(answer.map(|a| a.status), Some(200), "a request head within MAX_HEADER_BYTES is served");
    let too_big = "a".repeat(limits.max_header_bytes + 1024);
    let answer = send_raw(limits.addr, &get_request(limits.get, &[("x-big", &too_big)]), patience).await;
    assert_eq!(answer.map(|a| a.status), Some(431), "a request head over MAX_HEADER_BYTES gets 431");

    let body = "x".repeat(limits.body_limit + 1024);
    for (method, path, content_type) in &limits.writes {
        let request = format!(
            "{method} {path} HTTP/1.1\r\nhost: localhost\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let answer = send_raw(limits.addr, request.as_bytes(), patience)
            .await
            .unwrap_or_else(|| panic!("{method} {path}: no answer to a body over the limit"));
        assert_eq!(answer.status, 413, "{method} {path}: {}", answer.text());
        assert!(
            answer.text().contains("\"error\":\"payload_too_large\""),
            "{method} {path}: {}",
            answer.text()
        );
    }

    for (method, path, content_type) in &limits.writes {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nhost: localhost\r\ncontent-type: {content_type}\r\ncontent-length: 1073741824\r\n\r\n{{"
        );
        let mut stream = connect_from(FIRST_CLIENT, limits.addr).await.expect("connect");
        let started = Instant::now();
        let answer = exchange(&mut stream, head.as_bytes(), patience).await;
        let answer = answer.unwrap_or_else(|| panic!("{method} {path}: no answer to a huge declared body"));
        assert_eq!(answer.status, 413, "{method} {path} declaring 1 GiB: {}", answer.text());
        assert!(
            started.elapsed() < limits.request_timeout / 2,
            "{method} {path}: 413 only after {:?}, the server waited for the body",
            started.elapsed()
        );
    }

    for (method, path) in &limits.routes {
        let request = raw_request(method, path, &REBINDING);
        let answer = send_raw(limits.addr, &request, patience)
            .await
            .unwrap_or_else(|| panic!("{method} {path}: no answer to the rebinding request"));
        assert_eq!(answer.status, 421, "{method} {path} with {REBINDING:?}: {}", answer.text());
        assert!(
            answer.text().contains("\"error\":\"misdirected_request\""),
            "{method} {path}: {}",
            answer.text()
        );
        assert_security_headers(&format!("the 421 of {method} {path}"), |name| {
            answer.header(name).map(str::to_string)
        });
    }

    let stream = connect_from(FIRST_CLIENT, limits.addr).await.expect("connect");
    let head = format!("GET {} HTTP/1.1\r\nx-slow: {}", limits.get, "a".repeat(200));
    let slow = trickle(stream, head.as_bytes(), limits.header_read_timeout / 8, patience).await;
    assert!(
        slow.answer.is_empty(),
        "headers sent slowly got an answer: {:?}",
        String::from_utf8_lossy(&slow.answer)
    );
    assert!(slow.lasted < limits.header_read_timeout * 3, "cut off after {:?}", slow.lasted);

    if let Some((method, path, content_type)) = limits.writes.first() {
        let mut stream = connect_from(FIRST_CLIENT, limits.addr).await.expect("connect");
        let head = format!(
            "{method} {path} HTTP/1.1\r\nhost: localhost\r\ncontent-type: {content_type}\r\ncontent-length: 500\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await.expect("write the head");
        let slow = trickle(stream, b"a", limits.request_timeout / 8, patience).await;
        let answer = String::from_utf8_lossy(&slow.answer);
        assert!(answer.starts_with("HTTP/1.1 408"), "a body sent slowly: {answer}");
        assert!(answer.contains("\"error\":\"request_timeout\""), "{answer}");
    }
}

/// Every absolute `http(s)://` URL in `text` (up to the first character that cannot be in one
/// here: white space, quotes, angle brackets).
pub fn absolute_urls(text: &str) -> Vec<String> {
    let mut urls = Vec::new();
    for scheme in ["http://", "https://"] {
        let mut rest = text;
        while let Some(at) = rest.find(scheme) {
            let candidate = &rest[at..];
            let end = candidate
                .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '\\'))
                .unwrap_or(candidate.len());
            urls.push(candidate[..end].to_string());
            rest = &candidate[end..];
        }
    }
    urls
}

/// Asserts that `text` names no host but the public one: every absolute URL in it starts with
/// `public_url` (or one of `also_allowed`), and [`HOSTILE_HOST`] appears nowhere.
pub fn assert_links_under(what: &str, text: &str, public_url: &str, also_allowed: &[&str]) {
    assert!(!text.contains(HOSTILE_HOST), "{what} names the hostile host: {text}");
    for url in absolute_urls(text) {
        let allowed = url.starts_with(public_url) || also_allowed.iter().any(|a| url.starts_with(a));
        assert!(allowed, "{what} links to {url}, outside {public_url}: {text}");
    }
}

/// Other spellings of the canonical UUID `id` that the `uuid` crate reads as the same id:
/// upper case, without hyphens, as a URN, in braces. None of them is a resource's URL.
pub fn other_spellings(id: &str) -> Vec<String> {
    vec![id.to_ascii_uppercase(), id.replace('-', ""), format!("urn:uuid:{id}"), format!("{{{id}}}")]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_urls_are_found_in_json_html_and_headers() {
        let text = r#"{"self":"http://a.example/x/1","next":null} <a href="https://b.example/y?q=1&amp;z">"#;
        assert_eq!(absolute_urls(text), ["http://a.example/x/1", "https://b.example/y?q=1&amp;z"]);
    }

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(dechunk(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"), b"abcde");
    }
}
