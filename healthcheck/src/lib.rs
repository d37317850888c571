//! A container health probe without curl: one HTTP/1.1 `GET`, healthy when the answer is 2xx.
//!
//! Slim and distroless images have no curl or wget, and a shell `/dev/tcp` trick cannot read a
//! status code reliably. This is std only, so it adds ~400 KB to an image and nothing to the
//! dependency tree. Plain `http://` only: the probe runs inside the container, on loopback.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Where to connect and what to ask for, from an `http://host[:port][/path]` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `host[:port]` as written, sent as the `Host` header.
    pub authority: String,
    /// `host:port` to resolve (port 80 when the URL has none).
    pub address: String,
    /// Path and query, at least `/`.
    pub path: String,
}

/// Why the probe counts as unhealthy.
#[derive(Debug)]
pub enum ProbeError {
    /// The URL is not an absolute `http://` URL.
    BadUrl(String),
    /// Name resolution, connection, sending or reading failed (timeouts included).
    Io(io::Error),
    /// The peer did not answer with an HTTP status line.
    NotHttp(String),
    /// The peer answered with a status outside 200..=299.
    Status(u16),
}

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadUrl(url) => write!(f, "expected an http://host[:port]/path URL, got {url:?}"),
            Self::Io(e) => write!(f, "{e}"),
            Self::NotHttp(line) => write!(f, "not an HTTP answer: {line:?}"),
            Self::Status(code) => write!(f, "answered status {code}"),
        }
    }
}

impl std::error::Error for ProbeError {}

impl From<io::Error> for ProbeError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

/// Parses an `http://` URL into a [`Target`].
pub fn parse_url(url: &str) -> Result<Target, ProbeError> {
    let bad = || ProbeError::BadUrl(url.to_string());
    let rest = url
        .get(..7)
        .filter(|scheme| scheme.eq_ignore_ascii_case("http://"))
        .map(|_| &url[7..])
        .ok_or_else(bad)?;
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) if rest[i..].starts_with('/') => (&rest[..i], rest[i..].to_string()),
        Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
        None => (rest, "/".to_string()),
    };
    if authority.is_empty() || authority.contains(['@', ' ']) || path.contains([' ', '\r', '\n']) {
        return Err(bad());
    }
    // A port follows the last ':' unless that ':' is inside an IPv6 literal `[...]`.
    let has_port = match authority.rfind(':') {
        Some(i) => !authority[i..].contains(']'),
        None => false,
    };
    let address = if has_port { authority.to_string() } else { format!("{authority}:80") };
    Ok(Target { authority: authority.to_string(), address, path })
}

/// Sends `GET url` and returns the status code when it is 2xx. `timeout` bounds the connection
/// attempt to each resolved address and each read and write.
pub fn probe(url: &str, timeout: Duration) -> Result<u16, ProbeError> {
    let target = parse_url(url)?;
    let mut stream = connect(&target.address, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: healthcheck\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        target.path, target.authority
    );
    stream.write_all(request.as_bytes())?;
    let status = parse_status_line(&read_status_line(&mut stream)?)?;
    if (200..300).contains(&status) { Ok(status) } else { Err(ProbeError::Status(status)) }
}

fn connect(address: &str, timeout: Duration) -> Result<TcpStream, ProbeError> {
    let addrs: Vec<SocketAddr> = address.to_socket_addrs()?.collect();
    let mut last = io::Error::new(io::ErrorKind::NotFound, format!("{address} resolves to no address"));
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = e,
        }
    }
    Err(last.into())
}

/// Reads up to the end of the first line (at most 1 KiB; a status line is far shorter).
fn read_status_line(stream: &mut impl Read) -> Result<String, ProbeError> {
    let mut buf = Vec::with_capacity(128);
    let mut chunk = [0u8; 128];
    while !buf.contains(&b'\n') && buf.len() < 1024 {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let line = buf.split(|&b| b == b'\n').next().unwrap_or_default();
    Ok(String::from_utf8_lossy(line).trim_end().to_string())
}

/// `HTTP/1.1 200 OK` -> 200.
pub fn parse_status_line(line: &str) -> Result<u16, ProbeError> {
    let mut parts = line.split(' ');
    let version = parts.next().unwrap_or_default();
    let code = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") || code.len() != 3 {
        return Err(ProbeError::NotHttp(line.chars().take(80).collect()));
    }
    code.parse().map_err(|_| ProbeError::NotHttp(line.chars().take(80).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_without_port_or_path_means_port_80_and_the_root() {
        let t = parse_url("http://example.test").unwrap();
        assert_eq!(
            t,
            Target { authority: "example.test".into(), address: "example.test:80".into(), path: "/".into() }
        );
    }

    #[test]
    fn port_path_and_query_are_kept() {
        let t = parse_url("http://127.0.0.1:3000/health/ready?x=1").unwrap();
        assert_eq!(t.address, "127.0.0.1:3000");
        assert_eq!(t.path, "/health/ready?x=1");
        assert_eq!(parse_url("http://h:1?q").unwrap().path, "/?q");
    }

    #[test]
    fn ipv6_literals_keep_their_brackets_and_get_a_default_port() {
        assert_eq!(parse_url("http://[::1]:3003/x").unwrap().address, "[::1]:3003");
        assert_eq!(parse_url("http://[::1]/x").unwrap().address, "[::1]:80");
    }

    #[test]
    fn other_schemes_and_malformed_urls_are_refused() {
        for url in ["https://h/", "ftp://h/", "h:80/", "http://", "http:///x", "http://u@h/", "http://h/a b"]
        {
            assert!(matches!(parse_url(url), Err(ProbeError::BadUrl(_))), "{url}");
        }
    }

    #[test]
    fn status_lines_are_parsed_and_garbage_is_not_http() {
        assert_eq!(parse_status_line("HTTP/1.1 503 Service Unavailable").unwrap(), 503);
        assert_eq!(parse_status_line("HTTP/1.0 200").unwrap(), 200);
        for line in ["", "SSH-2.0-OpenSSH", "HTTP/1.1 2000 OK", "HTTP/1.1 abc OK", "HTTP/2 200"] {
            assert!(matches!(parse_status_line(line), Err(ProbeError::NotHttp(_))), "{line}");
        }
    }
}
