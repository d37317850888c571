//! The SMTP server named by `SMTP_URL`, and how one connection to it is opened.
//!
//! The TCP connection is made here, not by `lettre`, so that it can have `TCP_NODELAY`;
//! `lettre`'s [`AsyncSmtpConnection::connect_with_transport`] then speaks SMTP over it (greeting,
//! `EHLO`, `STARTTLS`, `AUTH`, the transaction). Implicit TLS (`smtps://`) wraps the socket in a
//! `tokio-rustls` stream before the greeting, with the same trust as `lettre`'s `STARTTLS`: the
//! Mozilla roots of `webpki-roots` (plus, for tests, extra roots), `ring`, TLS 1.2 and 1.3.

use std::borrow::Cow;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, Certificate, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use url::{Host, Url};

/// How the connection is secured, from the URL's scheme and `tls` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// `smtp://`: plain text.
    None,
    /// `smtp://...?tls=opportunistic`: `STARTTLS` when the server offers it, else plain text.
    Opportunistic,
    /// `smtp://...?tls=required`: `STARTTLS` or no send.
    Required,
    /// `smtps://`: TLS from the first byte.
    Implicit,
}

/// Where and how to connect; built once from `SMTP_URL`.
pub struct Server {
    host: String,
    port: u16,
    security: Security,
    hello: ClientId,
    credentials: Option<Credentials>,
    starttls: Option<TlsParameters>,
    implicit: Option<(tokio_rustls::TlsConnector, ServerName<'static>)>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("hello", &self.hello.to_string())
            .field("auth", &self.credentials.is_some())
            .finish_non_exhaustive()
    }
}

/// Why a connection could not be opened or used, before `lettre` had anything to say.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot connect to {0}: {1}")]
    Tcp(String, io::Error),
    #[error("TLS handshake with {0} failed: {1}")]
    Tls(String, io::Error),
    #[error("{0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
}

impl Server {
    /// Reads an `SMTP_URL` the way `lettre`'s `AsyncSmtpTransport::from_url` does (which the
    /// configuration checks it with): `smtp://` on port 25, `?tls=required` or
    /// `?tls=opportunistic` on 587, `smtps://` on 465, `user:password@` for `AUTH` (`PLAIN`,
    /// else `LOGIN`), a path as the `EHLO` name (else the host name). `extra_roots_pem` adds
    /// trusted certificates to the Mozilla roots (a private CA; the tests' own).
    pub fn from_url(url: &str, extra_roots_pem: &[&[u8]]) -> anyhow::Result<Self> {
        let url = Url::parse(url)?;
        let tls = url.query_pairs().find(|(k, _)| k == "tls").map(|(_, v)| v.into_owned());
        let host = match url.host() {
            Some(Host::Domain(name)) => name.to_string(),
            Some(Host::Ipv4(ip)) => ip.to_string(),
            Some(Host::Ipv6(ip)) => ip.to_string(),
            None => anyhow::bail!("no host"),
        };
        let (security, default_port) = match (url.scheme(), tls.as_deref()) {
            ("smtp", None) => (Security::None, 25),
            ("smtp", Some("opportunistic")) => (Security::Opportunistic, 587),
            ("smtp", Some("required")) => (Security::Required, 587),
            ("smtps", _) => (Security::Implicit, 465),
            (scheme, tls) => anyhow::bail!("unknown scheme {scheme:?} or tls parameter {tls:?}"),
        };
        let hello = match url.path().trim_matches('/') {
            "" => ClientId::default(),
            name => ClientId::Domain(name.to_string()),
        };
        let credentials = match url.password() {
            Some(password) => Some(Credentials::new(decode(url.username())?, decode(password)?)),
            None => None,
        };
        let mut starttls = None;
        let mut implicit = None;
        match security {
            Security::None => {}
            Security::Opportunistic | Security::Required => {
                let mut builder = TlsParameters::builder(host.clone());
                for pem in extra_roots_pem {
                    builder = builder.add_root_certificate(Certificate::from_pem(pem)?);
                }
                starttls = Some(builder.build_rustls()?);
            }
            Security::Implicit => {
                let config = client_config(extra_roots_pem)?;
                let name = ServerName::try_from(host.clone())?;
                implicit = Some((tokio_rustls::TlsConnector::from(config), name));
            }
        }
        Ok(Self {
            host,
            port: url.port().unwrap_or(default_port),
            security,
            hello,
            credentials,
            starttls,
            implicit,
        })
    }

    /// Opens a connection ready for a transaction: TCP with `TCP_NODELAY`, TLS as configured,
    /// greeting, `EHLO`, `AUTH` when there are credentials. No deadline of its own: the caller's
    /// covers it.
    pub async fn connect(&self) -> Result<AsyncSmtpConnection, ConnectError> {
        let tcp = self.tcp().await?;
        let mut conn = match &self.implicit {
            Some((connector, name)) => {
                let tls = connector
                    .connect(name.clone(), tcp)
                    .await
                    .map_err(|e| ConnectError::Tls(self.address(), e))?;
                AsyncSmtpConnection::connect_with_transport(Box::new(ImplicitTls(tls)), &self.hello).await?
            }
            None => AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello).await?,
        };
        match (&self.starttls, self.security) {
            (Some(tls), Security::Required) => conn.starttls(tls.clone(), &self.hello).await?,
            (Some(tls), Security::Opportunistic) if conn.can_starttls() => {
                conn.starttls(tls.clone(), &self.hello).await?
            }
            _ => {}
        }
        if let Some(credentials) = &self.credentials
            && let Err(e) = conn.auth(DEFAULT_MECHANISMS, credentials).await
        {
            conn.abort().await;
            return Err(e.into());
        }
        Ok(conn)
    }

    /// The first address of the host that accepts a connection, with `TCP_NODELAY` set: every
    /// command and the message's final dot go out at once instead of waiting for the ACK of the
    /// previous segment, which a server delays by up to 40 ms when it has nothing to answer yet.
    async fn tcp(&self) -> Result<TcpStream, ConnectError> {
        let fail = |e| ConnectError::Tcp(self.address(), e);
        let mut last = io::Error::new(io::ErrorKind::NotFound, "the host name resolves to no address");
        for addr in tokio::net::lookup_host((self.host.as_str(), self.port)).await.map_err(fail)? {
            match TcpStream::connect(addr).await {
                Ok(stream) => {
                    stream.set_nodelay(true).map_err(fail)?;
                    return Ok(stream);
                }
                Err(e) => last = e,
            }
        }
        Err(fail(last))
    }

    fn address(&self) -> String {
        match self.host.contains(':') {
            true => format!("[{}]:{}", self.host, self.port),
            false => format!("{}:{}", self.host, self.port),
        }
    }

    /// Where and how messages go, for people (the pages' banner): `host:port` and the TLS
    /// mode; never the credentials.
    pub fn describe(&self) -> String {
        let tls = match self.security {
            Security::None => "",
            Security::Opportunistic => " (STARTTLS when offered)",
            Security::Required => " (STARTTLS required)",
            Security::Implicit => " (TLS)",
        };
        format!("{}{tls}", self.address())
    }
}

fn decode(s: &str) -> anyhow::Result<String> {
    Ok(percent_encoding::percent_decode_str(s).decode_utf8().map(Cow::into_owned)?)
}

/// The client side of implicit TLS, as `lettre` builds it for `STARTTLS`.
fn client_config(extra_roots_pem: &[&[u8]]) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for pem in extra_roots_pem {
        for cert in CertificateDer::pem_slice_iter(pem) {
            roots.add(cert?)?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(rustls::ALL_VERSIONS)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A `tokio-rustls` client stream as the stream `lettre` speaks SMTP over.
#[derive(Debug)]
struct ImplicitTls(tokio_rustls::client::TlsStream<TcpStream>);

impl AsyncRead for ImplicitTls {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl AsyncWrite for ImplicitTls {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

impl AsyncTokioStream for ImplicitTls {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lettre::{AsyncSmtpTransport, Tokio1Executor};

    #[test]
    fn urls_are_read_like_lettre_reads_them() {
        let cases = [
            ("smtp://mail.example.org", Some((Security::None, 25))),
            ("smtp://mail.example.org:2525", Some((Security::None, 2525))),
            ("smtp://u:p@mail.example.org?tls=required", Some((Security::Required, 587))),
            ("smtp://mail.example.org:25?tls=opportunistic", Some((Security::Opportunistic, 25))),
            ("smtps://u:p%40ss@mail.example.org", Some((Security::Implicit, 465))),
            ("smtps://127.0.0.1:1465/client.example.org", Some((Security::Implicit, 1465))),
            ("smtp://mail.example.org?tls=sometimes", None),
            ("http://mail.example.org", None),
            ("smtp://", None),
            ("not a url", None),
        ];
        for (url, expected) in cases {
            let ours = Server::from_url(url, &[]).ok().map(|s| (s.security, s.port));
            assert_eq!(ours, expected, "{url}");
            let lettres = AsyncSmtpTransport::<Tokio1Executor>::from_url(url).is_ok();
            assert_eq!(lettres, expected.is_some(), "lettre reads {url} the same way");
        }
    }

    #[test]
    fn the_description_names_host_port_and_tls_but_no_credentials() {
        let cases = [
            ("smtp://mail.example.org", "mail.example.org:25"),
            ("smtp://u:secret@127.0.0.1:2525", "127.0.0.1:2525"),
            ("smtp://mail.example.org?tls=required", "mail.example.org:587 (STARTTLS required)"),
            ("smtp://mail.example.org?tls=opportunistic", "mail.example.org:587 (STARTTLS when offered)"),
            ("smtps://u:secret@[::1]:1465", "[::1]:1465 (TLS)"),
        ];
        for (url, expected) in cases {
            assert_eq!(Server::from_url(url, &[]).unwrap().describe(), expected, "{url}");
        }
    }

    #[test]
    fn credentials_are_percent_decoded_and_the_path_names_the_client() {
        let server =
            Server::from_url("smtp://ada%20l:p%40ss@mail.example.org:2525/me.example.org", &[]).unwrap();
        assert_eq!(server.hello.to_string(), "me.example.org");
        assert!(server.credentials.is_some());
        let debug = format!("{server:?}");
        assert!(!debug.contains("p@ss") && !debug.contains("p%40ss"), "{debug}");
        let no_password = Server::from_url("smtp://ada@mail.example.org", &[]).unwrap();
        assert!(
            no_password.credentials.is_none(),
            "a user without a password does not log in (as in lettre)"
        );
    }
}
