//! A hostile stand-in for contacts' feed: a raw TCP server (so it can break HTTP in ways a
//! well-behaved framework would not let it) whose behaviour a test switches at run time, and
//! which records how long each fetch held its connection.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// How the server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A valid feed document cut off in the middle (with a `Content-Length` that matches).
    Truncated,
    /// JSON instead of XML.
    NotXml,
    /// XML with a "billion laughs" entity bomb in its DTD.
    BillionLaughs,
    /// 100 MB of feed entries, chunked, no `Content-Length`.
    HundredMegabytesChunked,
    /// 100 MB of feed entries with an honest `Content-Length`.
    HundredMegabytesDeclared,
    /// `Content-Length: 1000`, then 10 MB of XML.
    LengthUnderstated,
    /// `Content-Length: 5000`, then 100 bytes, then nothing (the connection stays open).
    LengthOverstated,
    /// Headers and the start of a body, then one byte every 200 ms, forever.
    NeverFinishing,
    /// `/feed` redirects to `/loop/1`, which redirects to `/loop/2`, which redirects to `/feed`.
    RedirectLoop,
    /// The subscription document links archive 2, which links archive 1, which links archive 2.
    ArchiveCycle,
    /// A valid feed of three `contact-created` events, sequences 1 to 3.
    Good,
    /// The subscription document links archive 100; archives 100 down to 1 are each about
    /// [`HUGE_PAGE_BYTES`] of entries with large payloads, and even the oldest starts past the
    /// first event: a walk that never reaches the checkpoint.
    HugeArchives,
    /// A valid feed of three events whose second has a 3 MB first name.
    HugeName,
    /// The talk's own format: [`TALK_EVENTS`] events without `sequence`, epoch-millisecond
    /// dates, `type="json"`, Latin-1 bytes under a UTF-8 declaration served as
    /// `charset=iso-8859-1`, no ETag; archive pages of 20, answered after 30 ms each.
    Talk,
}

/// Events in [`Mode::Talk`]'s feed: every seventh changes an earlier contact's last name.
pub const TALK_EVENTS: i64 = 610;
/// First names of [`Mode::Talk`]'s contacts, cycled: every one outside ASCII.
const TALK_NAMES: &[&str] = &["Jürgen", "Zoë", "Grüße", "Ångström", "Renée", "Søren", "Élodie", "Bärbel"];

/// What [`Mode::Talk`]'s feed comes to: for each contact (by e-mail) its first and last name.
pub fn talk_contacts() -> std::collections::BTreeMap<String, (String, String)> {
    let mut contacts = std::collections::BTreeMap::new();
    for n in 1..=TALK_EVENTS {
        match talk_event(n) {
            TalkEvent::Created { email, first, last, .. } => {
                contacts.insert(email, (first, last));
            }
            TalkEvent::Updated { of, last } => {
                if let Some(contact) = contacts.get_mut(&talk_email(of)) {
                    contact.1 = last;
                }
            }
        }
    }
    contacts
}

enum TalkEvent {
    Created { id: uuid::Uuid, email: String, first: String, last: String },
    Updated { of: i64, last: String },
}

fn talk_email(n: i64) -> String {
    format!("talk{n}@example.org")
}

fn talk_contact_id(n: i64) -> uuid::Uuid {
    uuid::Uuid::from_u128(0xC2_0000_0000 + n as u128)
}

fn talk_event(n: i64) -> TalkEvent {
    if n % 7 == 0 {
        TalkEvent::Updated { of: n - 1, last: format!("Geändert{n}") }
    } else {
        let first = TALK_NAMES[n as usize % TALK_NAMES.len()].to_string();
        TalkEvent::Created {
            id: talk_contact_id(n), email: talk_email(n), first, last: format!("Müller{n}")
        }
    }
}

/// A document of [`Mode::Talk`] with events `from..=to` (newest first), as Latin-1 bytes.
fn talk_page(base: &str, from: i64, to: i64, prev_archive: Option<i64>) -> Vec<u8> {
    let escape =
        |t: &str| t.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
    let stamp = |n: i64| 1_796_151_724_000_i64 + n;
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>Contacts</title>\
         <updated>{}</updated><link rel=\"self\" href=\"{base}/feed\"/>",
        if to >= from { stamp(to).to_string() } else { String::new() }
    );
    if let Some(prev) = prev_archive {
        xml.push_str(&format!("<link rel=\"prev-archive\" href=\"{base}/archive/{prev}\"/>"));
    }
    for n in (from..=to).rev() {
        let (kind, payload) = match talk_event(n) {
            TalkEvent::Created { id, email, first, last } => (
                "contact-created",
                json!({"id": id, "firstname": first, "lastname": last, "email": email,
                       "self": format!("{base}/contacts/{id}")}),
            ),
            TalkEvent::Updated { of, last } => (
                "contact-updated",
                json!({"id": talk_contact_id(of), "updates": {"lastname": last},
                       "contact": format!("{base}/contacts/{}", talk_contact_id(of))}),
            ),
        };
        let event = json!({"id": uuid::Uuid::from_u128(0xE2_0000_0000 + n as u128), "type": kind,
                           "timestamp": stamp(n), "payload": payload});
        xml.push_str(&format!(
            "<entry><id>urn:uuid:{}</id><title>{kind}</title><updated>{}</updated>\
             <content type=\"json\">{}</content></entry>",
            uuid::Uuid::from_u128(0xE2_0000_0000 + n as u128),
            stamp(n),
            escape(&event.to_string())
        ));
    }
    xml.push_str("</feed>\n");
    xml.chars().map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?')).collect()
}

/// The size of each page in [`Mode::HugeArchives`]: just under calendar's default
/// `FEED_MAX_BYTES` (4 MiB).
pub const HUGE_PAGE_BYTES: usize = 4_000_000;
/// How many archive pages [`Mode::HugeArchives`] has.
pub const HUGE_PAGES: i64 = 100;

/// One request the server answered.
#[derive(Debug, Clone)]
pub struct Fetch {
    pub mode: Mode,
    pub path: String,
    /// From the request's arrival until the client closed the connection or the answer was
    /// written in full.
    pub held: Duration,
}

#[derive(Debug)]
struct Shared {
    mode: Mutex<Mode>,
    fetches: Mutex<Vec<Fetch>>,
}

/// The running server; stops when dropped.
#[derive(Debug)]
pub struct HostileFeed {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: JoinHandle<()>,
}

impl HostileFeed {
    pub async fn start(mode: Mode) -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.expect("bind the hostile feed");
        let addr = listener.local_addr().expect("local address");
        let shared = Arc::new(Shared { mode: Mutex::new(mode), fetches: Mutex::new(Vec::new()) });
        let state = shared.clone();
        let acceptor = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                connections.spawn(serve(stream, addr, state.clone()));
            }
        });
        Self { addr, shared, acceptor }
    }

    /// The subscription document's URL.
    pub fn url(&self) -> String {
        format!("http://{}/feed", self.addr)
    }

    pub fn set_mode(&self, mode: Mode) {
        *lock(&self.shared.mode) = mode;
    }

    /// Every request answered so far.
    pub fn fetches(&self) -> Vec<Fetch> {
        lock(&self.shared.fetches).clone()
    }
}

impl Drop for HostileFeed {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

async fn serve(mut stream: TcpStream, addr: SocketAddr, shared: Arc<Shared>) {
    let mut head = Vec::new();
    let mut buffer = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buffer[..n]),
        }
        if head.len() > 64 * 1024 {
            return;
        }
    }
    let started = Instant::now();
    let path = String::from_utf8_lossy(&head).split_whitespace().nth(1).unwrap_or("/").to_string();
    let mode = *lock(&shared.mode);
    answer(&mut stream, mode, &path, addr).await;
    let _ = stream.shutdown().await;
    lock(&shared.fetches).push(Fetch { mode, path, held: started.elapsed() });
}

/// Writes the answer; returns early when the client goes away.
async fn answer(stream: &mut TcpStream, mode: Mode, path: &str, addr: SocketAddr) {
    let base = format!("http://{addr}");
    match mode {
        Mode::Truncated => {
            let full = feed(&base, &events(1..=3), None);
            let cut = &full[..full.len() / 2];
            let _ = write_document(stream, "application/atom+xml", cut.as_bytes()).await;
        }
        Mode::NotXml => {
            let body = json!({"feed": "this is not XML", "entries": [1, 2, 3]}).to_string();
            let _ = write_document(stream, "application/atom+xml", body.as_bytes()).await;
        }
        Mode::BillionLaughs => {
            let _ = write_document(stream, "application/atom+xml", billion_laughs().as_bytes()).await;
        }
        Mode::HundredMegabytesChunked => {
            let head = "HTTP/1.1 200 OK\r\ncontent-type: application/atom+xml\r\ntransfer-encoding: chunked\r\n\
                        connection: close\r\n\r\n";
            if stream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let chunk = filler(64 * 1024);
            let framed = [format!("{:x}\r\n", chunk.len()).into_bytes(), chunk, b"\r\n".to_vec()].concat();
            for _ in 0..(100 * 1024 / 64) {
                if stream.write_all(&framed).await.is_err() {
                    return;
                }
            }
            let _ = stream.write_all(b"0\r\n\r\n").await;
        }
        Mode::HundredMegabytesDeclared => {
            let chunk = filler(64 * 1024);
            let total = chunk.len() * (100 * 1024 / 64);
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/atom+xml\r\ncontent-length: {total}\r\n\
                 connection: close\r\n\r\n"
            );
            if stream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            for _ in 0..(100 * 1024 / 64) {
                if stream.write_all(&chunk).await.is_err() {
                    return;
                }
            }
        }
        Mode::LengthUnderstated => {
            let head = "HTTP/1.1 200 OK\r\ncontent-type: application/atom+xml\r\ncontent-length: 1000\r\n\
                        connection: close\r\n\r\n";
            if stream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let chunk = filler(64 * 1024);
            for _ in 0..(10 * 1024 / 64) {
                if stream.write_all(&chunk).await.is_err() {
                    return;
                }
            }
        }
        Mode::LengthOverstated => {
            let head =
                "HTTP/1.1 200 OK\r\ncontent-type: application/atom+xml\r\ncontent-length: 5000\r\n\r\n";
            let start = &filler(100)[..100];
            if stream.write_all(head.as_bytes()).await.is_err() || stream.write_all(start).await.is_err() {
                return;
            }
            wait_for_close(stream).await;
        }
        Mode::NeverFinishing => {
            let head =
                "HTTP/1.1 200 OK\r\ncontent-type: application/atom+xml\r\ntransfer-encoding: chunked\r\n\r\n";
            if stream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            loop {
                if stream.write_all(b"1\r\n \r\n").await.is_err() {
                    return;
                }
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(200)) => {}
                    () = wait_for_close(stream) => return,
                }
            }
        }
        Mode::RedirectLoop => {
            let next = match path {
                "/loop/1" => "/loop/2",
                "/loop/2" => "/feed",
                _ => "/loop/1",
            };
            let head = format!(
                "HTTP/1.1 302 Found\r\nlocation: {base}{next}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
            let _ = stream.write_all(head.as_bytes()).await;
        }
        Mode::ArchiveCycle => {
            let body = match path {
                "/archive/2" => feed(&base, &events(30..=31), Some("/archive/1")),
                "/archive/1" => feed(&base, &events(10..=11), Some("/archive/2")),
                _ => feed(&base, &events(50..=51), Some("/archive/2")),
            };
            let _ = write_document(stream, "application/atom+xml", body.as_bytes()).await;
        }
        Mode::Good => {
            let body = feed(&base, &events(1..=3), None);
            let _ = write_document(stream, "application/atom+xml", body.as_bytes()).await;
        }
        Mode::HugeArchives => {
            let page = path.strip_prefix("/archive/").and_then(|n| n.parse::<i64>().ok());
            let body = match page {
                Some(n @ 1..=HUGE_PAGES) => huge_page(&base, n),
                _ => feed(&base, &[], Some(&format!("/archive/{HUGE_PAGES}"))),
            };
            let _ = write_document(stream, "application/atom+xml", body.as_bytes()).await;
        }
        Mode::Talk => {
            let full = TALK_EVENTS / 20;
            let page = path.strip_prefix("/archive/").and_then(|n| n.parse::<i64>().ok());
            let body = match page {
                Some(k @ 1..=TALK_EVENTS) if k <= full => {
                    tokio::time::sleep(Duration::from_millis(30)).await;
                    talk_page(&base, (k - 1) * 20 + 1, k * 20, (k > 1).then_some(k - 1))
                }
                _ => talk_page(&base, full * 20 + 1, TALK_EVENTS, (full > 0).then_some(full)),
            };
            let _ = write_document(stream, "application/atom+xml;charset=iso-8859-1", &body).await;
        }
        Mode::HugeName => {
            let mut entries = events(1..=3);
            let contact = uuid::Uuid::from_u128(0xC0_0000 + 2);
            entries[1].1 = json!({
                "id": uuid::Uuid::from_u128(0xE0_0000 + 2), "type": "contact-created", "timestamp": 1_790_000_000_002_i64,
                "sequence": 2, "payload": {"id": contact, "firstname": "x".repeat(3 * 1024 * 1024), "lastname": "Big",
                "email": email_of(2)}
            })
            .to_string();
            let body = feed(&base, &entries, None);
            let _ = write_document(stream, "application/atom+xml", body.as_bytes()).await;
        }
    }
}

/// Archive page `n` of [`Mode::HugeArchives`]: 20 events of sequences `1000*n + 1 ..= 1000*n + 20`,
/// each with an ignored field large enough that the page is about [`HUGE_PAGE_BYTES`].
fn huge_page(base: &str, n: i64) -> String {
    let per_entry = HUGE_PAGE_BYTES / 20 - 600;
    let entries: Vec<(i64, String)> = (1..=20)
        .map(|i| {
            let sequence = 1000 * n + i;
            let event = json!({
                "id": uuid::Uuid::from_u128(0xE1_0000_0000 + sequence as u128), "type": "contact-created",
                "timestamp": 1_790_000_000_000_i64 + sequence, "sequence": sequence,
                "payload": {"id": uuid::Uuid::from_u128(0xC1_0000_0000 + sequence as u128), "firstname": "Huge",
                            "lastname": "Page", "email": format!("huge{sequence}@example.org"),
                            "notes": "n".repeat(per_entry)}
            });
            (sequence, event.to_string())
        })
        .collect();
    let prev = (n > 1).then(|| format!("/archive/{}", n - 1));
    feed(base, &entries, prev.as_deref())
}

async fn write_document(stream: &mut TcpStream, content_type: &str, body: &[u8]) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await
}

/// Returns when the client closes its side (or the connection fails).
async fn wait_for_close(stream: &mut TcpStream) {
    let mut sink = [0u8; 1024];
    loop {
        match stream.read(&mut sink).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// The e-mail of the contact of event `sequence` in the hostile feed's documents.
pub fn email_of(sequence: i64) -> String {
    format!("feed{sequence}@example.org")
}

/// `contact-created` events with the given sequences, as (sequence, event JSON).
fn events(sequences: std::ops::RangeInclusive<i64>) -> Vec<(i64, String)> {
    sequences
        .map(|sequence| {
            let contact = uuid::Uuid::from_u128(0xC0_0000 + sequence as u128);
            let event = json!({
                "id": uuid::Uuid::from_u128(0xE0_0000 + sequence as u128),
                "type": "contact-created",
                "timestamp": 1_790_000_000_000_i64 + sequence,
                "sequence": sequence,
                "payload": {"id": contact, "firstname": format!("Feed{sequence}"), "lastname": "Person",
                            "email": email_of(sequence), "self": format!("http://contacts.invalid/contacts/{contact}")}
            });
            (sequence, event.to_string())
        })
        .collect()
}

/// An Atom document in the contacts feed's format.
fn feed(base: &str, events: &[(i64, String)], prev_archive: Option<&str>) -> String {
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\
         <id>urn:contacts:feed</id><title>contacts</title><updated>2026-09-21T00:00:00Z</updated>\
         <link rel=\"self\" href=\"{base}/feed\"/>"
    );
    if let Some(prev) = prev_archive {
        xml.push_str(&format!("<link rel=\"prev-archive\" href=\"{base}{prev}\"/>"));
    }
    for (sequence, json) in events {
        let escaped = json.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
        xml.push_str(&format!(
            "<entry><id>urn:contacts:feed:event:{sequence}</id><title>contact-created</title>\
             <updated>2026-09-21T00:00:00Z</updated><author><name>contacts service</name></author>\
             <content type=\"application/json\">{escaped}</content></entry>"
        ));
    }
    xml.push_str("</feed>\n");
    xml
}

fn billion_laughs() -> String {
    let mut dtd = String::from("<!ENTITY lol0 \"lol\">");
    for level in 1..10 {
        let refs = format!("&lol{};", level - 1).repeat(10);
        dtd.push_str(&format!("<!ENTITY lol{level} \"{refs}\">"));
    }
    format!(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE feed [{dtd}]>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\
         <id>urn:contacts:feed</id><title>&lol9;</title><updated>2026-09-21T00:00:00Z</updated></feed>\n"
    )
}

/// `len` bytes of well-formed-looking feed text (the start of a document, then entries).
fn filler(len: usize) -> Vec<u8> {
    let entry = "<entry><id>urn:x</id><title>contact-created</title><content type=\"application/json\">{}</content></entry>";
    let mut text = String::from("<?xml version=\"1.0\"?><feed xmlns=\"http://www.w3.org/2005/Atom\">");
    while text.len() < len {
        text.push_str(entry);
    }
    text.truncate(len);
    text.into_bytes()
}
