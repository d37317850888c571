//! A real SMTP server on 127.0.0.1 for tests, with faults a test can switch on.
//!
//! [`SmtpServer::start`] listens on a free port and speaks the part of RFC 5321 that a sending
//! client such as `lettre` uses: `EHLO`/`HELO`, `MAIL FROM`, `RCPT TO`, `DATA` (with
//! dot-unstuffing), `RSET`, `NOOP`, `QUIT`. Every accepted message is recorded with its envelope
//! and raw data ([`ReceivedMessage`]).
//!
//! [`SmtpServer::start_with`] adds TLS and authentication ([`ServerOptions`]): `STARTTLS`
//! (RFC 3207) or implicit TLS from the first byte (`smtps`), with a test-only certificate for
//! `localhost` and `127.0.0.1` signed by a test-only CA ([`TEST_CA_PEM`], which a client must
//! trust; `tls/` in this crate, made by `tls/generate.sh`), and `AUTH PLAIN` (RFC 4616)
//! required before `MAIL`.
//!
//! Faults, all decided at the end of `DATA` (the point where a real server accepts or refuses a
//! message):
//! - [`SmtpServer::fail_next`]: answer the next N transactions with a given reply (`451` for a
//!   temporary failure, `550` for a permanent one); those messages are not recorded.
//! - [`SmtpServer::stall`] / [`SmtpServer::release`]: hold every transaction without an answer
//!   (to trigger client timeouts, or to hold sends in flight and count them). A held message is
//!   recorded when released, or dropped when the client gives up first (unless
//!   [`SmtpServer::keep_abandoned_messages`] asks to keep it; [`Stats::abandoned_held_now`] says
//!   when the server has seen such a client go).
//! - [`SmtpServer::stop`] / [`SmtpServer::restart`]: close the port and every open connection,
//!   then listen again on the same port (connection refused in between).
//!
//! [`SmtpServer::stats`] counts connections and transactions open at once (and their maxima),
//! so a test can check a client's concurrency limit from the server's side.
//!
//! Why not a crate: `mailin-embedded` pulls `aws-lc` (or does not compile without its TLS
//! feature) and its error type is not `Send`; `mailin`, its I/O-free core, would still leave the
//! connection loop, recording and fault injection to write (and adds a second `nom`); `maik`
//! pulls OpenSSL through `native-tls` and has no fault injection; `mailcrab` and `mailtutan` are
//! applications with web interfaces. The protocol subset a test server needs is small.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use base64::Engine as _;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// Longest command line accepted (RFC 5321 asks for at least 512 octets).
const MAX_COMMAND_LINE: usize = 4096;
/// Longest line inside `DATA`; longer lines are refused with `500` after the data ends.
const MAX_DATA_LINE: usize = 64 * 1024;
/// Largest message accepted; larger ones get `552`.
const MAX_MESSAGE_SIZE: usize = 10 * 1024 * 1024;
/// Most recipients per transaction; more get `452` (as RFC 5321 §4.5.3.1.10 allows).
const MAX_RECIPIENTS: usize = 100;

/// The CA that signed the test server's certificate (PEM): what a client must trust to talk
/// TLS to it. Test-only: its key was thrown away after signing.
pub const TEST_CA_PEM: &str = include_str!("../tls/ca.pem");
const SERVER_CERT_PEM: &str = include_str!("../tls/server.pem");
const SERVER_KEY_PEM: &str = include_str!("../tls/server.key");

/// How the server secures connections.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ServerTls {
    /// Plain text only.
    #[default]
    None,
    /// Plain text, `STARTTLS` offered in `EHLO` (and only before the upgrade).
    StartTls,
    /// TLS from the first byte (`smtps`).
    Implicit,
}

/// What [`SmtpServer::start_with`] sets up; the default is [`SmtpServer::start`]'s server.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    pub tls: ServerTls,
    /// `(user, password)`: `AUTH PLAIN` is offered and required before `MAIL`.
    pub auth: Option<(String, String)>,
}

/// A message the server accepted (answered `250` at the end of `DATA`).
#[derive(Debug, Clone)]
pub struct ReceivedMessage {
    /// The name the client gave in `EHLO`/`HELO`.
    pub helo: String,
    /// The envelope sender from `MAIL FROM:<...>` (empty for the null sender).
    pub mail_from: String,
    /// The envelope recipients from `RCPT TO:<...>`, in order.
    pub rcpt_to: Vec<String>,
    /// The message as transferred, dot-unstuffed, lines ending in CRLF, without the final dot.
    pub data: Vec<u8>,
    /// Whether the transaction ran over TLS (`STARTTLS` or implicit).
    pub tls: bool,
    /// The user name the client authenticated as, if it did.
    pub authenticated_as: Option<String>,
}

impl ReceivedMessage {
    /// The message parsed by an independent RFC 5322/MIME parser (`mail-parser`), to read
    /// decoded headers and bodies the way a mail client would.
    pub fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default().parse(&self.data).expect("the message parses")
    }

    /// The raw value of the first header named `name` (case-insensitive), unfolded, not decoded.
    pub fn raw_header(&self, name: &str) -> Option<String> {
        self.raw_headers().into_iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v)
    }

    /// Every header as (name, raw unfolded value), in order.
    pub fn raw_headers(&self) -> Vec<(String, String)> {
        let text = String::from_utf8_lossy(&self.data);
        let head = text.split("\r\n\r\n").next().unwrap_or("");
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                if let Some((_, value)) = headers.last_mut() {
                    value.push_str(line);
                }
            } else if let Some((name, value)) = line.split_once(':') {
                headers.push((name.to_string(), value.trim_start().to_string()));
            }
        }
        for (_, value) in &mut headers {
            *value = value.trim_end().to_string();
        }
        headers
    }

    /// The decoded `Subject`.
    pub fn subject(&self) -> Option<String> {
        self.parsed().subject().map(str::to_string)
    }

    /// The decoded first `text/plain` body.
    pub fn text_body(&self) -> Option<String> {
        self.parsed().body_text(0).map(|b| b.into_owned())
    }

    /// The `Message-ID` without angle brackets.
    pub fn message_id(&self) -> Option<String> {
        self.parsed().message_id().map(str::to_string)
    }
}

/// Connection and transaction counters, seen from the server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Connections accepted since start.
    pub connections_total: usize,
    /// Connections open now.
    pub connections_open: usize,
    /// Most connections open at the same time.
    pub max_connections_open: usize,
    /// Transactions (from an accepted `MAIL FROM` to the reply after `DATA`, or `RSET`) open now.
    pub transactions_open: usize,
    /// Most transactions open at the same time.
    pub max_transactions_open: usize,
    /// Transactions that reached the end of `DATA` (accepted, refused or held).
    pub transactions_completed: usize,
    /// Transactions held by [`SmtpServer::stall`] right now (including those kept after their
    /// client gave up).
    pub stalled_now: usize,
    /// Held transactions whose client gave up before the release, since start (dropped, or kept
    /// by [`SmtpServer::keep_abandoned_messages`]).
    pub abandoned_total: usize,
    /// Held transactions whose client gave up and that are kept until the release, right now:
    /// once this counts a transaction, its message is accepted at [`SmtpServer::release`] as
    /// one the client never heard of.
    pub abandoned_held_now: usize,
}

#[derive(Debug)]
struct State {
    messages: Vec<ReceivedMessage>,
    faults: VecDeque<(u16, String)>,
    stats: Stats,
}

struct Shared {
    state: Mutex<State>,
    stall: watch::Sender<bool>,
    keep_abandoned: AtomicBool,
    options: ServerOptions,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("state", &self.state)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The test SMTP server. Stops listening when dropped.
#[derive(Debug)]
pub struct SmtpServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    acceptor: Mutex<Option<JoinHandle<()>>>,
}

impl SmtpServer {
    /// Starts a server on 127.0.0.1 with a free port.
    pub async fn start() -> Self {
        Self::start_with(ServerOptions::default()).await
    }

    /// Starts a server on 127.0.0.1 with a free port, with TLS and authentication as asked.
    pub async fn start_with(options: ServerOptions) -> Self {
        let acceptor = (options.tls != ServerTls::None).then(tls_acceptor);
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.expect("bind the test SMTP server");
        let addr = listener.local_addr().expect("local address");
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                messages: Vec::new(),
                faults: VecDeque::new(),
                stats: Stats::default(),
            }),
            stall: watch::channel(false).0,
            keep_abandoned: AtomicBool::new(false),
            options,
            acceptor,
        });
        let acceptor = tokio::spawn(accept_loop(listener, shared.clone()));
        Self { shared, addr, acceptor: Mutex::new(Some(acceptor)) }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `smtp://127.0.0.1:<port>` (`smtps://` with implicit TLS), the form `lettre`'s
    /// `from_url` takes. Add `?tls=required` for `STARTTLS` and `user:password@` for `AUTH`.
    pub fn url(&self) -> String {
        let scheme = if self.shared.options.tls == ServerTls::Implicit { "smtps" } else { "smtp" };
        format!("{scheme}://{}:{}", self.addr.ip(), self.addr.port())
    }

    /// The messages accepted so far, in order of acceptance.
    pub fn messages(&self) -> Vec<ReceivedMessage> {
        self.shared.state().messages.clone()
    }

    /// Waits until at least `count` messages were accepted and returns all of them.
    pub async fn wait_for_messages(&self, count: usize, timeout: Duration) -> Vec<ReceivedMessage> {
        crate::wait_until(&format!("{count} message(s) at the test SMTP server"), timeout, || async {
            let messages = self.messages();
            (messages.len() >= count).then_some(messages)
        })
        .await
    }

    /// Answers the next `count` transactions at the end of `DATA` with `code` and `text`
    /// (e.g. `451` "try again later", `550` "mailbox unavailable") instead of accepting them.
    pub fn fail_next(&self, count: usize, code: u16, text: &str) {
        assert!((400..600).contains(&code), "a failure reply is 4xx or 5xx");
        let mut state = self.shared.state();
        state.faults.extend(std::iter::repeat_n((code, text.to_string()), count));
    }

    /// From now on, transactions get no answer after `DATA` until [`Self::release`].
    pub fn stall(&self) {
        self.shared.stall.send_replace(true);
    }

    /// Answers the held transactions (their messages are accepted) and stops stalling.
    pub fn release(&self) {
        self.shared.stall.send_replace(false);
    }

    /// Whether a held message whose client gave up (timed out) is still accepted at
    /// [`Self::release`], as by a server that had already queued it. The client never hears of
    /// the acceptance: this is the window in which a sender may send one message twice.
    pub fn keep_abandoned_messages(&self, keep: bool) {
        self.shared.keep_abandoned.store(keep, Ordering::SeqCst);
    }

    /// Counters for connections and transactions.
    pub fn stats(&self) -> Stats {
        self.shared.state().stats
    }

    /// Stops listening and closes every open connection: clients get "connection refused".
    pub async fn stop(&self) {
        let handle = self.acceptor.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(handle) = handle {
            handle.abort();
            let _ = handle.await;
        }
    }

    /// Listens again on the same port after [`Self::stop`].
    pub async fn restart(&self) {
        self.stop().await;
        let listener = TcpListener::bind(self.addr).await.expect("listen again on the same port");
        let acceptor = tokio::spawn(accept_loop(listener, self.shared.clone()));
        *self.acceptor.lock().unwrap_or_else(|e| e.into_inner()) = Some(acceptor);
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        if let Some(handle) = self.acceptor.lock().unwrap_or_else(|e| e.into_inner()).take() {
            handle.abort();
        }
    }
}

/// Accepts connections; the sessions live in a `JoinSet` owned by this task, so aborting it
/// closes the listener and every connection.
async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut sessions = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    sessions.spawn(session(stream, shared.clone()));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
        }
    }
}

/// Counts a connection or transaction open while it lives.
struct Open {
    shared: Arc<Shared>,
    transaction: bool,
}

impl Open {
    fn new(shared: &Arc<Shared>, transaction: bool) -> Self {
        let mut state = shared.state();
        let stats = &mut state.stats;
        if transaction {
            stats.transactions_open += 1;
            stats.max_transactions_open = stats.max_transactions_open.max(stats.transactions_open);
        } else {
            stats.connections_total += 1;
            stats.connections_open += 1;
            stats.max_connections_open = stats.max_connections_open.max(stats.connections_open);
        }
        Self { shared: shared.clone(), transaction }
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        let mut state = self.shared.state();
        if self.transaction {
            state.stats.transactions_open -= 1;
        } else {
            state.stats.connections_open -= 1;
        }
    }
}

struct Transaction {
    mail_from: String,
    rcpt_to: Vec<String>,
    _open: Open,
}

enum Line {
    Complete(Vec<u8>),
    TooLong,
    Closed,
}

/// Reads one line (up to `max` bytes) including its line ending.
async fn read_line<R: AsyncBufRead + Unpin>(reader: &mut R, max: usize) -> Line {
    let mut buf = Vec::new();
    match (&mut *reader).take(max as u64).read_until(b'\n', &mut buf).await {
        Ok(0) | Err(_) => Line::Closed,
        Ok(_) if buf.ends_with(b"\n") => Line::Complete(buf),
        Ok(_) if buf.len() < max => Line::Closed, // EOF in the middle of a line
        Ok(_) => {
            // Skip the rest of the over-long line.
            let mut rest = Vec::new();
            match reader.read_until(b'\n', &mut rest).await {
                Ok(0) | Err(_) => Line::Closed,
                Ok(_) => Line::TooLong,
            }
        }
    }
}

fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The address inside `FROM:<...>` / `TO:<...>` (parameters after it are ignored).
fn path_argument(arg: &str, keyword: &str) -> Option<String> {
    let rest = arg
        .get(..keyword.len())
        .filter(|k| k.eq_ignore_ascii_case(keyword))
        .map(|_| &arg[keyword.len()..])?;
    let rest = rest.trim_start();
    let inner = rest.strip_prefix('<')?;
    let end = inner.find('>')?;
    Some(inner[..end].to_string())
}

const NAME: &str = "test-smtp.localhost";

/// A connection's byte stream: TCP, or TLS over it.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// The connection: reads are buffered, writes go straight through (each reply is flushed).
type Conn = BufReader<Box<dyn Io>>;

/// Writes a reply; `false` when the client is gone.
async fn reply(conn: &mut Conn, text: String) -> bool {
    conn.write_all(text.as_bytes()).await.is_ok() && conn.flush().await.is_ok()
}

/// The test certificate and key as a `rustls` server configuration (`ring`).
fn tls_acceptor() -> tokio_rustls::TlsAcceptor {
    let certs = CertificateDer::pem_slice_iter(SERVER_CERT_PEM.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .expect("the test certificate parses");
    let key = PrivateKeyDer::from_pem_slice(SERVER_KEY_PEM.as_bytes()).expect("the test key parses");
    let config =
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("the test certificate and key match");
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

/// Checks an `AUTH PLAIN` response (base64 of `authzid NUL user NUL password`).
fn plain_credentials(response: &str, expected: &(String, String)) -> Option<String> {
    let decoded = base64::engine::general_purpose::STANDARD.decode(response.trim()).ok()?;
    let mut parts = decoded.split(|b| *b == 0);
    let (_authzid, user, password) = (parts.next()?, parts.next()?, parts.next()?);
    (parts.next().is_none() && user == expected.0.as_bytes() && password == expected.1.as_bytes())
        .then(|| expected.0.clone())
}

async fn session(stream: TcpStream, shared: Arc<Shared>) {
    let _connection = Open::new(&shared, false);
    let mut tls = false;
    let mut conn: Conn = match (&shared.acceptor, shared.options.tls) {
        (Some(acceptor), ServerTls::Implicit) => match acceptor.accept(stream).await {
            Ok(stream) => {
                tls = true;
                BufReader::new(Box::new(stream))
            }
            Err(_) => return,
        },
        _ => BufReader::new(Box::new(stream)),
    };
    if !reply(&mut conn, format!("220 {NAME} ESMTP test server ready\r\n")).await {
        return;
    }
    let mut helo = String::new();
    let mut transaction: Option<Transaction> = None;
    let mut authenticated: Option<String> = None;
    loop {
        let line = match read_line(&mut conn, MAX_COMMAND_LINE).await {
            Line::Complete(line) => line,
            Line::TooLong => {
                if !reply(&mut conn, "500 5.5.2 line too long\r\n".into()).await {
                    return;
                }
                continue;
            }
            Line::Closed => return,
        };
        let line = String::from_utf8_lossy(trim_line_end(&line)).into_owned();
        let (verb, arg) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        let answer = match verb.to_ascii_uppercase().as_str() {
            "EHLO" => {
                helo = arg.trim().to_string();
                transaction = None;
                let starttls =
                    if shared.options.tls == ServerTls::StartTls && !tls { "250-STARTTLS\r\n" } else { "" };
                let auth = if shared.options.auth.is_some() { "250-AUTH PLAIN\r\n" } else { "" };
                format!(
                    "250-{NAME} greets {helo}\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n{starttls}{auth}250 HELP\r\n"
                )
            }
            "STARTTLS" if shared.options.tls == ServerTls::StartTls && !tls => {
                if !conn.buffer().is_empty() {
                    // Commands sent ahead of the handshake would be smuggled into the TLS session.
                    let _ = reply(&mut conn, "554 5.5.1 data after STARTTLS\r\n".into()).await;
                    return;
                }
                if !reply(&mut conn, "220 2.0.0 ready to start TLS\r\n".into()).await {
                    return;
                }
                let Some(acceptor) = &shared.acceptor else { return };
                match acceptor.accept(conn.into_inner()).await {
                    Ok(stream) => conn = BufReader::new(Box::new(stream)),
                    Err(_) => return,
                }
                // RFC 3207: the client starts over with EHLO; nothing from before is kept.
                tls = true;
                helo.clear();
                transaction = None;
                authenticated = None;
                continue;
            }
            "AUTH" => match &shared.options.auth {
                None => "502 5.5.2 command not implemented\r\n".into(),
                Some(_) if authenticated.is_some() => "503 5.5.1 already authenticated\r\n".into(),
                Some(expected) => {
                    let (mechanism, initial) = arg.split_once(' ').unwrap_or((arg, ""));
                    if !mechanism.eq_ignore_ascii_case("PLAIN") {
                        "504 5.5.4 unrecognized authentication type\r\n".into()
                    } else {
                        let response = if initial.is_empty() {
                            if !reply(&mut conn, "334 \r\n".into()).await {
                                return;
                            }
                            match read_line(&mut conn, MAX_COMMAND_LINE).await {
                                Line::Complete(line) => {
                                    String::from_utf8_lossy(trim_line_end(&line)).into_owned()
                                }
                                Line::TooLong => String::new(),
                                Line::Closed => return,
                            }
                        } else {
                            initial.to_string()
                        };
                        match plain_credentials(&response, expected) {
                            Some(user) => {
                                authenticated = Some(user);
                                "235 2.7.0 authentication successful\r\n".into()
                            }
                            None => "535 5.7.8 authentication credentials invalid\r\n".into(),
                        }
                    }
                }
            },
            "MAIL" if shared.options.auth.is_some() && authenticated.is_none() => {
                "530 5.7.0 authentication required\r\n".into()
            }
            "HELO" => {
                helo = arg.trim().to_string();
                transaction = None;
                format!("250 {NAME}\r\n")
            }
            "MAIL" if transaction.is_some() => "503 5.5.1 nested MAIL command\r\n".into(),
            "MAIL" => match path_argument(arg, "FROM:") {
                Some(from) => {
                    transaction = Some(Transaction {
                        mail_from: from,
                        rcpt_to: Vec::new(),
                        _open: Open::new(&shared, true),
                    });
                    "250 2.1.0 OK\r\n".into()
                }
                None => "501 5.5.4 syntax: MAIL FROM:<address>\r\n".into(),
            },
            "RCPT" => match (&mut transaction, path_argument(arg, "TO:")) {
                (None, _) => "503 5.5.1 need MAIL before RCPT\r\n".into(),
                (Some(_), None) => "501 5.5.4 syntax: RCPT TO:<address>\r\n".into(),
                (Some(tx), Some(_)) if tx.rcpt_to.len() >= MAX_RECIPIENTS => {
                    "452 4.5.3 too many recipients\r\n".into()
                }
                (Some(tx), Some(to)) => {
                    tx.rcpt_to.push(to);
                    "250 2.1.5 OK\r\n".into()
                }
            },
            "DATA" => match transaction.take() {
                Some(tx) if !tx.rcpt_to.is_empty() => {
                    if !reply(&mut conn, "354 end data with <CR><LF>.<CR><LF>\r\n".into()).await {
                        return;
                    }
                    let session = Session { helo: &helo, tls, authenticated: authenticated.as_deref() };
                    match receive_data(&mut conn, &shared, session, tx).await {
                        Some(answer) => answer,
                        None => return,
                    }
                }
                Some(tx) => {
                    transaction = Some(tx);
                    "503 5.5.1 need RCPT before DATA\r\n".into()
                }
                None => "503 5.5.1 need MAIL before DATA\r\n".into(),
            },
            "RSET" => {
                transaction = None;
                "250 2.0.0 OK\r\n".into()
            }
            "NOOP" => "250 2.0.0 OK\r\n".into(),
            "VRFY" => "252 2.1.5 cannot verify, but will accept\r\n".into(),
            "QUIT" => {
                let _ = reply(&mut conn, "221 2.0.0 bye\r\n".into()).await;
                return;
            }
            _ => "502 5.5.2 command not implemented\r\n".into(),
        };
        if !reply(&mut conn, answer).await {
            return;
        }
    }
}

/// What a recorded message keeps of its session.
#[derive(Clone, Copy)]
struct Session<'a> {
    helo: &'a str,
    tls: bool,
    authenticated: Option<&'a str>,
}

/// Reads the message after `354` and decides the reply. `None` when the client went away.
async fn receive_data(
    reader: &mut Conn,
    shared: &Arc<Shared>,
    session: Session<'_>,
    tx: Transaction,
) -> Option<String> {
    let mut data = Vec::new();
    let mut refusal: Option<&str> = None;
    loop {
        let line = match read_line(reader, MAX_DATA_LINE).await {
            Line::Complete(line) => line,
            Line::TooLong => {
                refusal = Some("500 5.5.2 line too long\r\n");
                continue;
            }
            Line::Closed => return None,
        };
        if trim_line_end(&line) == b"." {
            break;
        }
        let content = trim_line_end(&line);
        let content = content.strip_prefix(b".").unwrap_or(content);
        if data.len() + content.len() + 2 > MAX_MESSAGE_SIZE {
            refusal = Some("552 5.3.4 message too big\r\n");
            continue;
        }
        data.extend_from_slice(content);
        data.extend_from_slice(b"\r\n");
    }
    let fault = {
        let mut state = shared.state();
        state.stats.transactions_completed += 1;
        state.faults.pop_front()
    };
    if let Some(refusal) = refusal {
        return Some(refusal.to_string());
    }
    if let Some((code, text)) = fault {
        return Some(format!("{code} {text}\r\n"));
    }
    if *shared.stall.borrow() {
        shared.state().stats.stalled_now += 1;
        let end = hold(reader, shared).await;
        shared.state().stats.stalled_now -= 1;
        if end == HoldEnd::ClientGone {
            // Recorded only if the server is told to keep such messages; no one hears the reply.
            if shared.keep_abandoned.load(Ordering::SeqCst) {
                record(shared, session, tx, data);
            }
            return None;
        }
    }
    let queued = record(shared, session, tx, data);
    Some(format!("250 2.0.0 OK queued as {queued}\r\n"))
}

/// Stores an accepted message; returns how many there are now.
fn record(shared: &Arc<Shared>, session: Session<'_>, tx: Transaction, data: Vec<u8>) -> usize {
    let mut state = shared.state();
    state.messages.push(ReceivedMessage {
        helo: session.helo.to_string(),
        mail_from: tx.mail_from,
        rcpt_to: tx.rcpt_to,
        data,
        tls: session.tls,
        authenticated_as: session.authenticated.map(str::to_string),
    });
    state.messages.len()
}

#[derive(Debug, PartialEq, Eq)]
enum HoldEnd {
    Released,
    ClientGone,
}

/// Holds a transaction until the stall is released or the client gives up. A client that sends
/// anything before the reply has given up too (no `PIPELINING` is offered; `lettre` sends
/// `QUIT` when it drops a connection). With `keep_abandoned`, a message whose client gave up is
/// still held until the release.
async fn hold(reader: &mut Conn, shared: &Arc<Shared>) -> HoldEnd {
    let mut stall = shared.stall.subscribe();
    let end = tokio::select! {
        _ = stall.wait_for(|stalled| !stalled) => HoldEnd::Released,
        _ = reader.fill_buf() => HoldEnd::ClientGone,
    };
    if end == HoldEnd::ClientGone {
        let keep = shared.keep_abandoned.load(Ordering::SeqCst);
        {
            let mut state = shared.state();
            state.stats.abandoned_total += 1;
            state.stats.abandoned_held_now += usize::from(keep);
        }
        if keep {
            let _ = stall.wait_for(|stalled| !stalled).await;
            shared.state().stats.abandoned_held_now -= 1;
        }
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn connect(
        server: &SmtpServer,
    ) -> (BufReader<tokio::net::tcp::OwnedReadHalf>, tokio::net::tcp::OwnedWriteHalf) {
        let stream = TcpStream::connect(server.addr()).await.unwrap();
        let (read, write) = stream.into_split();
        let mut reader = BufReader::new(read);
        let mut greeting = String::new();
        reader.read_line(&mut greeting).await.unwrap();
        assert!(greeting.starts_with("220 "), "{greeting}");
        (reader, write)
    }

    async fn command(
        reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
        write: &mut tokio::net::tcp::OwnedWriteHalf,
        line: &str,
    ) -> String {
        write.write_all(line.as_bytes()).await.unwrap();
        let mut all = String::new();
        loop {
            let mut reply = String::new();
            reader.read_line(&mut reply).await.unwrap();
            all.push_str(&reply);
            if reply.as_bytes().get(3) != Some(&b'-') {
                return all;
            }
        }
    }

    #[tokio::test]
    async fn a_message_is_recorded_with_its_envelope_and_dots_unstuffed() {
        let server = SmtpServer::start().await;
        let (mut r, mut w) = connect(&server).await;
        assert!(command(&mut r, &mut w, "EHLO client.test\r\n").await.contains("250 HELP"));
        assert!(command(&mut r, &mut w, "MAIL FROM:<a@x.test> BODY=8BITMIME\r\n").await.starts_with("250"));
        assert!(command(&mut r, &mut w, "RCPT TO:<b@y.test>\r\n").await.starts_with("250"));
        assert!(command(&mut r, &mut w, "DATA\r\n").await.starts_with("354"));
        let reply = command(&mut r, &mut w, "Subject: hi\r\n\r\n..leading dot\r\n.\r\n").await;
        assert!(reply.starts_with("250"), "{reply}");
        assert!(command(&mut r, &mut w, "QUIT\r\n").await.starts_with("221"));

        let messages = server.messages();
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].helo, "client.test");
        assert_eq!(messages[0].mail_from, "a@x.test");
        assert_eq!(messages[0].rcpt_to, vec!["b@y.test".to_string()]);
        assert_eq!(messages[0].data, b"Subject: hi\r\n\r\n.leading dot\r\n");
        assert_eq!(messages[0].raw_header("subject").as_deref(), Some("hi"));
    }

    #[tokio::test]
    async fn auth_plain_is_required_before_mail_when_configured() {
        let auth = Some(("ada".to_string(), "pw".to_string()));
        let server = SmtpServer::start_with(ServerOptions { tls: ServerTls::None, auth }).await;
        let (mut r, mut w) = connect(&server).await;
        assert!(command(&mut r, &mut w, "EHLO c\r\n").await.contains("250-AUTH PLAIN\r\n"));
        assert!(command(&mut r, &mut w, "MAIL FROM:<a@x.test>\r\n").await.starts_with("530"));
        let encode = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let wrong = format!("AUTH PLAIN {}\r\n", encode("\0ada\0nope"));
        assert!(command(&mut r, &mut w, &wrong).await.starts_with("535"));
        assert!(command(&mut r, &mut w, "AUTH PLAIN\r\n").await.starts_with("334"));
        assert!(command(&mut r, &mut w, &format!("{}\r\n", encode("\0ada\0pw"))).await.starts_with("235"));
        assert!(command(&mut r, &mut w, "MAIL FROM:<a@x.test>\r\n").await.starts_with("250"));
    }

    #[tokio::test]
    async fn commands_sent_behind_starttls_before_the_handshake_are_refused() {
        let server = SmtpServer::start_with(ServerOptions { tls: ServerTls::StartTls, auth: None }).await;
        let (mut r, mut w) = connect(&server).await;
        assert!(command(&mut r, &mut w, "EHLO c\r\n").await.contains("250-STARTTLS\r\n"));
        let reply = command(&mut r, &mut w, "STARTTLS\r\nMAIL FROM:<a@x.test>\r\n").await;
        assert!(reply.starts_with("554"), "{reply}");
    }

    #[tokio::test]
    async fn commands_out_of_order_are_refused() {
        let server = SmtpServer::start().await;
        let (mut r, mut w) = connect(&server).await;
        assert!(command(&mut r, &mut w, "RCPT TO:<b@y.test>\r\n").await.starts_with("503"));
        assert!(command(&mut r, &mut w, "DATA\r\n").await.starts_with("503"));
        assert!(command(&mut r, &mut w, "MAIL FROM:<a@x.test>\r\n").await.starts_with("250"));
        assert!(command(&mut r, &mut w, "DATA\r\n").await.starts_with("503"));
        assert!(command(&mut r, &mut w, "RSET\r\n").await.starts_with("250"));
        assert!(command(&mut r, &mut w, "NOOP\r\n").await.starts_with("250"));
        assert!(command(&mut r, &mut w, "BOGUS\r\n").await.starts_with("502"));
        assert_eq!(server.stats().transactions_open, 0, "RSET ends the transaction");
    }

    #[tokio::test]
    async fn injected_failures_answer_the_next_transactions_and_record_nothing() {
        let server = SmtpServer::start().await;
        server.fail_next(1, 451, "4.3.0 try again later");
        let (mut r, mut w) = connect(&server).await;
        command(&mut r, &mut w, "HELO c\r\n").await;
        for expected in ["451", "250"] {
            command(&mut r, &mut w, "MAIL FROM:<a@x.test>\r\n").await;
            command(&mut r, &mut w, "RCPT TO:<b@y.test>\r\n").await;
            command(&mut r, &mut w, "DATA\r\n").await;
            let reply = command(&mut r, &mut w, "body\r\n.\r\n").await;
            assert!(reply.starts_with(expected), "{reply}");
        }
        assert_eq!(server.messages().len(), 1);
    }

    #[tokio::test]
    async fn a_stopped_server_refuses_connections_until_restarted_on_the_same_port() {
        let server = SmtpServer::start().await;
        let (mut r, _w) = connect(&server).await;
        server.stop().await;
        let mut rest = String::new();
        assert_eq!(r.read_line(&mut rest).await.unwrap_or(0), 0, "open connections are closed");
        assert!(TcpStream::connect(server.addr()).await.is_err());
        server.restart().await;
        let _ = connect(&server).await;
    }

    #[tokio::test]
    async fn a_stalled_transaction_is_held_until_released() {
        let server = SmtpServer::start().await;
        server.stall();
        let (mut r, mut w) = connect(&server).await;
        command(&mut r, &mut w, "HELO c\r\n").await;
        command(&mut r, &mut w, "MAIL FROM:<a@x.test>\r\n").await;
        command(&mut r, &mut w, "RCPT TO:<b@y.test>\r\n").await;
        command(&mut r, &mut w, "DATA\r\n").await;
        w.write_all(b"body\r\n.\r\n").await.unwrap();
        crate::wait_until("the transaction is held", Duration::from_secs(5), || async {
            (server.stats().stalled_now == 1).then_some(())
        })
        .await;
        assert!(server.messages().is_empty());
        server.release();
        let mut reply = String::new();
        r.read_line(&mut reply).await.unwrap();
        assert!(reply.starts_with("250"), "{reply}");
        assert_eq!(server.messages().len(), 1);
    }

    async fn hold_one(server: &SmtpServer) -> tokio::net::tcp::OwnedWriteHalf {
        let (mut r, mut w) = connect(server).await;
        command(&mut r, &mut w, "HELO c\r\n").await;
        command(&mut r, &mut w, "MAIL FROM:<a@x.test>\r\n").await;
        command(&mut r, &mut w, "RCPT TO:<b@y.test>\r\n").await;
        command(&mut r, &mut w, "DATA\r\n").await;
        w.write_all(b"body\r\n.\r\n").await.unwrap();
        crate::wait_until("the transaction is held", Duration::from_secs(5), || async {
            (server.stats().stalled_now == 1).then_some(())
        })
        .await;
        w
    }

    #[tokio::test]
    async fn a_held_message_whose_client_gives_up_is_dropped() {
        let server = SmtpServer::start().await;
        server.stall();
        let mut w = hold_one(&server).await;
        w.write_all(b"QUIT\r\n").await.unwrap();
        crate::wait_until("the hold to end with the client gone", Duration::from_secs(5), || async {
            let stats = server.stats();
            (stats.abandoned_total == 1 && stats.stalled_now == 0).then_some(())
        })
        .await;
        server.release();
        assert!(server.messages().is_empty());
        assert_eq!(server.stats().abandoned_held_now, 0, "nothing kept");
    }

    #[tokio::test]
    async fn a_held_message_can_be_kept_after_its_client_gave_up() {
        let server = SmtpServer::start().await;
        server.keep_abandoned_messages(true);
        server.stall();
        let w = hold_one(&server).await;
        drop(w);
        // Released only once the server has seen the client go: released earlier, the message
        // would be accepted as an ordinary held one, and this test would pass without the kept
        // path ever running.
        crate::wait_until("the server to see the client give up", Duration::from_secs(5), || async {
            (server.stats().abandoned_held_now == 1).then_some(())
        })
        .await;
        assert_eq!(server.stats().stalled_now, 1, "still held");
        assert!(server.messages().is_empty(), "not accepted before the release");
        server.release();
        let messages = server.wait_for_messages(1, Duration::from_secs(5)).await;
        assert_eq!(messages[0].data, b"body\r\n");
        assert_eq!(messages.len(), 1);
        let stats = server.stats();
        assert_eq!((stats.abandoned_total, stats.abandoned_held_now, stats.stalled_now), (1, 0, 0));
    }
}
