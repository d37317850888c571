//! A stand-in for contacts' feed, speaking the DESIGN.md format: a subscription document plus
//! immutable archive pages of `page_size` events, strong ETags, `If-None-Match` → 304, long
//! polling with `Prefer: wait=N`, `GET /contacts/{id}`, and switchable faults.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use atom_syndication::{Content, Entry, Feed, Link, Person};
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tokio::sync::Notify;
use uuid::Uuid;

/// What the feed does wrong, until set back to `Fault::None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    ServerError,
    /// Never answers.
    Hang,
    /// Half a document, with a matching Content-Length.
    Truncated,
    NotXml,
    BillionLaughs,
    /// More than calendar's byte limit, streamed without a Content-Length.
    Huge,
    /// Declares more bytes than it sends.
    LyingLength,
    /// Sends part of the document, then nothing, forever.
    NeverEnding,
    RedirectLoop,
    /// Archive pages name themselves as their predecessor.
    ArchiveCycle,
    /// The subscription document carries an entry whose content is not event JSON.
    MalformedEntry,
    /// The subscription document leaves out one event.
    Gap,
    /// `/feed` redirects to this URL (another origin).
    RedirectTo(&'static str),
    /// The subscription document's `prev-archive` link points at another origin (this base).
    ForeignArchive(&'static str),
}

/// How documents are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// DESIGN.md's: RFC 3339 dates, `application/json` content with `sequence`, ETags, UTF-8.
    Contacts,
    /// The talk's: epoch-millisecond dates, `type="json"`, event JSON without `sequence`,
    /// Latin-1 bytes under a UTF-8 declaration served as `charset=iso-8859-1`, no ETag and no
    /// long polling.
    Talk,
}

struct Inner {
    events: Vec<Value>,
    contacts: HashMap<Uuid, Value>,
    page_size: usize,
    fault: Fault,
    long_poll: bool,
    held_requests: usize,
    feed_requests: usize,
    requests: usize,
    format: Format,
    /// The `Authorization` header of the last request for the subscription document.
    feed_authorization: Option<String>,
}

struct Shared {
    inner: Mutex<Inner>,
    changed: Notify,
    /// Where the server listens.
    base: String,
    /// What its links start with (contacts' PUBLIC_URL): `base` unless started behind another.
    public: String,
}

#[derive(Clone)]
pub struct FeedServer {
    shared: Arc<Shared>,
}

impl FeedServer {
    pub async fn start(page_size: usize) -> Self {
        Self::start_behind(page_size, None).await
    }

    /// A feed whose links start with `public` instead of the address it listens on, as
    /// contacts' do when its PUBLIC_URL is not the address calendar reaches it at.
    pub async fn start_behind(page_size: usize, public: Option<&str>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let public = public.map_or_else(|| base.clone(), str::to_string);
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                events: Vec::new(),
                contacts: HashMap::new(),
                page_size,
                fault: Fault::None,
                long_poll: true,
                held_requests: 0,
                feed_requests: 0,
                requests: 0,
                feed_authorization: None,
                format: Format::Contacts,
            }),
            changed: Notify::new(),
            base,
            public,
        });
        let app = Router::new()
            .route("/feed", get(current))
            .route("/feed/archive/{n}", get(archive))
            .route("/contacts/{id}", get(contact))
            .with_state(shared.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { shared }
    }

    pub fn feed_url(&self) -> url::Url {
        url::Url::parse(&format!("{}/feed", self.shared.base)).unwrap()
    }

    fn contact_url(&self, id: Uuid) -> String {
        format!("{}/contacts/{id}", self.shared.public)
    }

    fn push(&self, kind: &str, payload: Value) -> i64 {
        let mut inner = self.shared.inner.lock().unwrap();
        let sequence = inner.events.len() as i64 + 1;
        inner.events.push(json!({
            "id": Uuid::now_v7(),
            "type": kind,
            "timestamp": Utc::now().timestamp_millis(),
            "sequence": sequence,
            "payload": payload,
        }));
        drop(inner);
        self.shared.changed.notify_waiters();
        sequence
    }

    pub fn create_contact(&self, email: &str, firstname: &str, lastname: &str) -> Uuid {
        let id = Uuid::now_v7();
        let contact = json!({"id": id, "firstname": firstname, "lastname": lastname, "email": email, "self": self.contact_url(id)});
        self.shared.inner.lock().unwrap().contacts.insert(id, contact.clone());
        self.push("contact-created", contact);
        id
    }

    /// Changes a contact and publishes only the changed fields.
    pub fn update_contact(&self, id: Uuid, updates: Value) {
        {
            let mut inner = self.shared.inner.lock().unwrap();
            if let Some(contact) = inner.contacts.get_mut(&id) {
                for (k, v) in updates.as_object().unwrap() {
                    contact[k] = v.clone();
                }
            }
        }
        self.push("contact-updated", json!({"id": id, "updates": updates, "contact": self.contact_url(id)}));
    }

    /// A contact that exists at contacts but whose creation calendar never saw in the feed.
    pub fn add_contact_silently(&self, email: &str) -> Uuid {
        let id = Uuid::now_v7();
        let contact = json!({"id": id, "firstname": "Quiet", "lastname": "One", "email": email, "self": self.contact_url(id)});
        self.shared.inner.lock().unwrap().contacts.insert(id, contact);
        id
    }

    pub fn delete_contact(&self, id: Uuid) {
        self.shared.inner.lock().unwrap().contacts.remove(&id);
        self.push("contact-deleted", json!({"id": id, "contact": self.contact_url(id)}));
    }

    pub fn push_event(&self, kind: &str, payload: Value) -> i64 {
        self.push(kind, payload)
    }

    pub fn set_fault(&self, fault: Fault) {
        self.shared.inner.lock().unwrap().fault = fault;
        self.shared.changed.notify_waiters();
    }

    pub fn set_long_poll(&self, on: bool) {
        self.shared.inner.lock().unwrap().long_poll = on;
    }

    pub fn held_requests(&self) -> usize {
        self.shared.inner.lock().unwrap().held_requests
    }

    /// The `Authorization` header of the last request for the subscription document.
    pub fn feed_authorization(&self) -> Option<String> {
        self.shared.inner.lock().unwrap().feed_authorization.clone()
    }

    /// Requests for the subscription document so far.
    pub fn feed_requests(&self) -> usize {
        self.shared.inner.lock().unwrap().feed_requests
    }

    pub fn event_count(&self) -> usize {
        self.shared.inner.lock().unwrap().events.len()
    }

    pub fn set_format(&self, format: Format) {
        self.shared.inner.lock().unwrap().format = format;
        self.shared.changed.notify_waiters();
    }

    /// Every request this server answered, on any route.
    pub fn requests(&self) -> usize {
        self.shared.inner.lock().unwrap().requests
    }

    /// The scheme, host and port it listens on.
    pub fn base(&self) -> &str {
        &self.shared.base
    }

    /// Sets what `GET /contacts/{id}` answers for `id` (`None`: 404), without an event.
    pub fn set_contact(&self, id: Uuid, contact: Option<Value>) {
        let mut inner = self.shared.inner.lock().unwrap();
        match contact {
            Some(contact) => inner.contacts.insert(id, contact),
            None => inner.contacts.remove(&id),
        };
    }

    /// A contact's URL as the feed names it.
    pub fn contact_link(&self, id: Uuid) -> String {
        self.contact_url(id)
    }
}

fn xml_text(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A document in the talk's format, as Latin-1 bytes (the test data holds only Latin-1).
fn talk_document(inner: &Inner, from: usize, to: usize, links: &[(&str, String)], self_url: &str) -> Vec<u8> {
    let newest = if from < to { inner.events[to - 1]["timestamp"].as_i64().unwrap_or(0) } else { 0 };
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">",
    );
    xml.push_str(&format!("<title>Contacts</title><updated>{newest}</updated>"));
    xml.push_str(&format!("<link rel=\"self\" href=\"{}\"/>", xml_text(self_url)));
    for (rel, href) in links {
        xml.push_str(&format!("<link rel=\"{rel}\" href=\"{}\"/>", xml_text(href)));
    }
    for index in (from..to).rev() {
        let mut event = inner.events[index].clone();
        event.as_object_mut().unwrap().remove("sequence");
        let millis = event["timestamp"].as_i64().unwrap_or(0);
        let contact = event["payload"]["self"]
            .as_str()
            .or(event["payload"]["contact"].as_str())
            .unwrap_or("")
            .to_string();
        xml.push_str(&format!(
            "<entry><id>urn:uuid:{}</id><title>{}</title><updated>{millis}</updated><link rel=\"related\" href=\"{}\"/>\
             <content type=\"json\">{}</content></entry>",
            event["id"].as_str().unwrap_or(""),
            xml_text(event["type"].as_str().unwrap_or("")),
            xml_text(&contact),
            xml_text(&event.to_string())
        ));
    }
    xml.push_str("</feed>\n");
    xml.chars().map(|c| u8::try_from(u32::from(c)).expect("talk-format test data is Latin-1")).collect()
}

const TALK_CONTENT_TYPE: &str = "application/atom+xml;charset=iso-8859-1";

/// The document for events `[from, to)` (0-based) with its links; entries newest first.
fn document(inner: &Inner, from: usize, to: usize, links: &[(&str, String)], self_url: &str) -> String {
    let mut entries = Vec::new();
    for index in (from..to).rev() {
        let event = &inner.events[index];
        let kind = event["type"].as_str().unwrap_or("");
        let millis = event["timestamp"].as_i64().unwrap_or(0);
        let updated: DateTime<Utc> = DateTime::from_timestamp_millis(millis).unwrap();
        let contact = event["payload"]["self"]
            .as_str()
            .or(event["payload"]["contact"].as_str())
            .unwrap_or("")
            .to_string();
        let content = if inner.fault == Fault::MalformedEntry && index == to - 1 {
            "{not json".to_string()
        } else {
            event.to_string()
        };
        let mut entry = Entry::default();
        entry.set_id(format!("urn:contacts:feed:event:{}", event["id"].as_str().unwrap_or("")));
        entry.set_title(kind.to_string());
        entry.set_updated(updated.fixed_offset());
        let mut author = Person::default();
        author.set_name("contacts service");
        entry.set_authors(vec![author]);
        entry.set_links(vec![link("related", &contact)]);
        let mut body = Content::default();
        body.set_content_type(Some("application/json".to_string()));
        body.set_value(Some(content));
        entry.set_content(Some(body));
        entries.push(entry);
    }
    // The document's own timestamp is its newest entry's, so equal content gives equal bytes.
    let newest = (from < to)
        .then(|| inner.events[to - 1]["timestamp"].as_i64())
        .flatten()
        .and_then(DateTime::from_timestamp_millis)
        .unwrap_or_default();
    let mut all_links = vec![link("self", self_url)];
    for (rel, href) in links {
        all_links.push(link(rel, href));
    }
    let mut feed = Feed::default();
    feed.set_id("urn:contacts:feed");
    feed.set_title("contacts");
    feed.set_updated(newest.fixed_offset());
    feed.set_links(all_links);
    feed.set_entries(entries);
    feed.to_string()
}

fn link(rel: &str, href: &str) -> Link {
    let mut link = Link::default();
    link.set_rel(rel);
    link.set_href(href);
    link
}

fn etag_of(body: &str) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut hasher);
    format!("\"{:x}\"", hasher.finish())
}

/// The document (or, in the talk's format, its bytes), its ETag and the fault in force.
fn current_document(shared: &Shared) -> (String, String, Fault, Option<Vec<u8>>) {
    let inner = shared.inner.lock().unwrap();
    let full = inner.events.len() / inner.page_size;
    let from = full * inner.page_size;
    let mut links = vec![("current", format!("{}/feed", shared.public))];
    if let Fault::ForeignArchive(other) = inner.fault {
        links.push(("prev-archive", format!("{other}/feed/archive/{}", full.max(1))));
    } else if full > 0 {
        links.push(("prev-archive", format!("{}/feed/archive/{full}", shared.public)));
    }
    if inner.format == Format::Talk {
        let body =
            talk_document(&inner, from, inner.events.len(), &links, &format!("{}/feed", shared.public));
        return (String::new(), String::new(), inner.fault, Some(body));
    }
    let body = if inner.fault == Fault::Gap && inner.events.len() - from >= 2 {
        // Leave out the second-newest event.
        let mut copy = Inner {
            events: inner.events.clone(),
            contacts: HashMap::new(),
            page_size: inner.page_size,
            fault: Fault::None,
            long_poll: true,
            held_requests: 0,
            feed_requests: 0,
            requests: 0,
            format: Format::Contacts,
            feed_authorization: None,
        };
        copy.events.remove(inner.events.len() - 2);
        document(&copy, from, copy.events.len(), &links, &format!("{}/feed", shared.public))
    } else {
        document(&inner, from, inner.events.len(), &links, &format!("{}/feed", shared.public))
    };
    let etag = etag_of(&body);
    (body, etag, inner.fault, None)
}

async fn current(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let fault = {
        let mut inner = shared.inner.lock().unwrap();
        inner.feed_requests += 1;
        inner.requests += 1;
        inner.feed_authorization =
            headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_string);
        inner.fault
    };
    if let Some(response) = faulty(&shared, fault).await {
        return response;
    }
    if let (_, _, _, Some(talk)) = current_document(&shared) {
        return ([(header::CONTENT_TYPE, TALK_CONTENT_TYPE)], talk).into_response();
    }
    let if_none_match = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).map(str::to_string);
    let wait = headers
        .get("prefer")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("wait="))
        .and_then(|v| v.parse::<u64>().ok())
        .map(|w| w.min(30));
    let long_poll = shared.inner.lock().unwrap().long_poll;
    let mut held = None;
    if let (Some(tag), Some(wait), true) = (&if_none_match, wait, long_poll) {
        let notified = shared.changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let (_, etag, _, _) = current_document(&shared);
        if &etag == tag {
            shared.inner.lock().unwrap().held_requests += 1;
            let _ = tokio::time::timeout(Duration::from_secs(wait), notified).await;
            held = Some(wait);
        }
    }
    let (body, etag, _, _) = current_document(&shared);
    let mut response = if if_none_match.as_deref() == Some(etag.as_str()) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, "application/atom+xml")], body).into_response()
    };
    response.headers_mut().insert(header::ETAG, etag.parse().unwrap());
    if let Some(wait) = held {
        response.headers_mut().insert("preference-applied", format!("wait={wait}").parse().unwrap());
    }
    response
}

async fn faulty(shared: &Shared, fault: Fault) -> Option<Response> {
    let (good, _, _, _) = current_document(shared);
    Some(match fault {
        Fault::None | Fault::ArchiveCycle | Fault::MalformedEntry | Fault::Gap | Fault::ForeignArchive(_) => {
            return None;
        }
        Fault::RedirectTo(elsewhere) => (StatusCode::FOUND, [(header::LOCATION, elsewhere)]).into_response(),
        Fault::ServerError => (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response(),
        Fault::Hang => {
            std::future::pending::<()>().await;
            unreachable!()
        }
        Fault::Truncated => {
            let half = good[..good.len() / 2].to_string();
            ([(header::CONTENT_TYPE, "application/atom+xml")], half).into_response()
        }
        Fault::NotXml => {
            ([(header::CONTENT_TYPE, "text/html")], "<html><body>Service Unavailable").into_response()
        }
        Fault::BillionLaughs => {
            let mut bomb = String::from(r#"<?xml version="1.0"?><!DOCTYPE feed [<!ENTITY lol "lol">"#);
            for i in 1..=9 {
                let prev = if i == 1 { "lol".to_string() } else { format!("lol{}", i - 1) };
                bomb.push_str(&format!(r#"<!ENTITY lol{i} "{}">"#, format!("&{prev};").repeat(10)));
            }
            bomb.push_str(r#"]><feed xmlns="http://www.w3.org/2005/Atom"><id>urn:x</id><title>&lol9;</title><updated>2026-01-01T00:00:00Z</updated></feed>"#);
            ([(header::CONTENT_TYPE, "application/atom+xml")], bomb).into_response()
        }
        Fault::Huge => {
            let chunk = bytes::Bytes::from(vec![b' '; 64 * 1024]);
            let head = futures_util::stream::once(async {
                Ok::<_, std::io::Error>(bytes::Bytes::from_static(
                    b"<feed xmlns=\"http://www.w3.org/2005/Atom\">",
                ))
            });
            let body = head.chain(futures_util::stream::iter((0..200).map(move |_| Ok(chunk.clone()))));
            ([(header::CONTENT_TYPE, "application/atom+xml")], Body::from_stream(body)).into_response()
        }
        Fault::LyingLength => {
            let declared = good.len() + 1000;
            let body =
                futures_util::stream::once(async move { Ok::<_, std::io::Error>(bytes::Bytes::from(good)) });
            let mut response =
                ([(header::CONTENT_TYPE, "application/atom+xml")], Body::from_stream(body)).into_response();
            response.headers_mut().insert(header::CONTENT_LENGTH, declared.to_string().parse().unwrap());
            response
        }
        Fault::NeverEnding => {
            let part = bytes::Bytes::from(good[..good.len() / 2].to_string());
            let body = futures_util::stream::once(async move { Ok::<_, std::io::Error>(part) })
                .chain(futures_util::stream::pending());
            ([(header::CONTENT_TYPE, "application/atom+xml")], Body::from_stream(body)).into_response()
        }
        Fault::RedirectLoop => {
            (StatusCode::FOUND, [(header::LOCATION, format!("{}/feed", shared.base))]).into_response()
        }
    })
}

use futures_util::StreamExt;

async fn archive(State(shared): State<Arc<Shared>>, Path(n): Path<usize>, headers: HeaderMap) -> Response {
    let mut inner = shared.inner.lock().unwrap();
    inner.requests += 1;
    let full = inner.events.len() / inner.page_size;
    if n == 0 || n > full {
        return StatusCode::NOT_FOUND.into_response();
    }
    let url = |k: usize| format!("{}/feed/archive/{k}", shared.public);
    let mut links = vec![("current", format!("{}/feed", shared.public))];
    if inner.fault == Fault::ArchiveCycle {
        links.push(("prev-archive", url(n)));
    } else if n > 1 {
        links.push(("prev-archive", url(n - 1)));
    }
    if n < full {
        links.push(("next-archive", url(n + 1)));
    }
    if inner.format == Format::Talk {
        let body = talk_document(&inner, (n - 1) * inner.page_size, n * inner.page_size, &links, &url(n));
        return ([(header::CONTENT_TYPE, TALK_CONTENT_TYPE)], body).into_response();
    }
    let body = document(&inner, (n - 1) * inner.page_size, n * inner.page_size, &links, &url(n));
    let etag = etag_of(&body);
    if headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    (
        [
            (header::CONTENT_TYPE, "application/atom+xml".to_string()),
            (header::ETAG, etag),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable".to_string()),
        ],
        body,
    )
        .into_response()
}

async fn contact(State(shared): State<Arc<Shared>>, Path(id): Path<Uuid>) -> Response {
    let mut inner = shared.inner.lock().unwrap();
    inner.requests += 1;
    match inner.contacts.get(&id) {
        Some(contact) => axum::Json(contact.clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
