use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use test_support::wait_until;
use url::Url;

use crate::helpers::{Options, TestApp, event_of, link, parse_feed, sequences, spawn_app, spawn_with};

async fn etag_of(app: &TestApp, path: &str) -> String {
    let response = app.get(path).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.headers()["etag"].to_str().unwrap().to_owned()
}

/// Creates `n` contacts, one event each.
async fn create_many(app: &TestApp, n: usize) {
    for i in 0..n {
        app.create("Ann", &format!("Doe{i}"), &format!("ann{i}@example.org")).await;
    }
}

#[tokio::test]
async fn an_empty_feed_is_valid_atom_without_entries() {
    let app = spawn_app().await;
    let feed = app.feed("/feed").await;
    assert_eq!(feed.id(), "urn:contacts:feed");
    assert!(feed.entries().is_empty());
    assert_eq!(feed.updated().timestamp(), 0, "an empty feed has a fixed date");
    assert!(!feed.title().as_str().is_empty());
    assert_eq!(link(&feed, "self"), Some(format!("{}feed", app.public_url).as_str()));
    assert_eq!(link(&feed, "current"), Some(format!("{}feed", app.public_url).as_str()));
    assert_eq!(link(&feed, "prev-archive"), None);
}

#[tokio::test]
async fn every_change_is_an_entry_carrying_the_event_json_consumers_read() {
    let app = spawn_app().await;
    let contact = app.create("Jane", "Doe", "jane@example.org").await;
    let path = TestApp::contact_path(&contact);
    app.put_json(&path, &json!({"firstname": "Jane", "lastname": "Roe"})).await;
    app.delete(&path).await;
    let contact_url = contact["self"].as_str().unwrap();

    let feed = app.feed("/feed").await;
    assert_eq!(sequences(&feed), [3, 2, 1], "newest first");
    let events: Vec<_> = feed.entries().iter().map(event_of).collect();
    for (entry, event) in feed.entries().iter().zip(&events) {
        assert_eq!(entry.id(), format!("urn:contacts:feed:event:{}", event["id"].as_str().unwrap()));
        assert_eq!(entry.title().as_str(), event["type"].as_str().unwrap());
        assert_eq!(entry.authors()[0].name(), "contacts service");
        assert_eq!(entry.links().len(), 1);
        assert_eq!((entry.links()[0].rel(), entry.links()[0].href()), ("related", contact_url));
        assert_eq!(entry.updated().timestamp_millis(), event["timestamp"].as_i64().unwrap());
        assert_eq!(event.as_object().unwrap().len(), 5, "id, type, timestamp, sequence, payload: {event}");
    }
    let id = contact["id"].clone();
    assert_eq!(events[2]["type"], "contact-created");
    assert_eq!(
        events[2]["payload"],
        json!({"id": id, "firstname": "Jane", "lastname": "Doe", "email": "jane@example.org", "self": contact_url})
    );
    assert_eq!(events[1]["type"], "contact-updated");
    assert_eq!(
        events[1]["payload"],
        json!({"id": id, "updates": {"lastname": "Roe"}, "contact": contact_url})
    );
    assert_eq!(events[0]["type"], "contact-deleted");
    assert_eq!(events[0]["payload"], json!({"id": id, "contact": contact_url}));
    assert_eq!(feed.updated().timestamp_millis(), events[0]["timestamp"].as_i64().unwrap());
}

#[tokio::test]
async fn full_pages_become_immutable_archives_linked_both_ways() {
    let app = spawn_with(Options { page_size: 3, ..Options::default() }).await;
    create_many(&app, 7).await;
    let base = app.public_url.clone();

    let current = app.feed("/feed").await;
    assert_eq!(sequences(&current), [7, 6, 5], "the newest page size of events, overlapping archive 2");
    assert_eq!(link(&current, "prev-archive"), Some(format!("{base}feed/archive/2").as_str()));
    assert!(current.extensions().is_empty(), "the subscription document is no archive");

    let response = app.get("/feed/archive/2").await;
    assert_eq!(
        response.headers()["cache-control"],
        "public, no-cache",
        "the newest archive still gains a link"
    );
    let page2 = parse_feed(&response.text().await.unwrap());
    assert_eq!(sequences(&page2), [6, 5, 4]);
    assert_eq!(link(&page2, "self"), Some(format!("{base}feed/archive/2").as_str()));
    assert_eq!(link(&page2, "current"), Some(format!("{base}feed").as_str()));
    assert_eq!(link(&page2, "prev-archive"), Some(format!("{base}feed/archive/1").as_str()));
    assert_eq!(link(&page2, "next-archive"), None, "page 3 is not full");
    assert!(page2.extensions().contains_key("fh"), "archives carry <fh:archive/>");

    let response = app.get("/feed/archive/1").await;
    assert_eq!(response.headers()["cache-control"], "public, max-age=31536000, immutable");
    let page1 = parse_feed(&response.text().await.unwrap());
    assert_eq!(sequences(&page1), [3, 2, 1]);
    assert_eq!(link(&page1, "prev-archive"), None);
    assert_eq!(link(&page1, "next-archive"), Some(format!("{base}feed/archive/2").as_str()));
    assert_eq!(app.get("/feed/archive/3").await.status(), StatusCode::NOT_FOUND);

    create_many_more(&app, 2).await;
    let page3 = app.feed("/feed/archive/3").await;
    assert_eq!(sequences(&page3), [9, 8, 7]);
    let response = app.get("/feed/archive/2").await;
    assert_eq!(response.headers()["cache-control"], "public, max-age=31536000, immutable");
    let page2 = parse_feed(&response.text().await.unwrap());
    assert_eq!(link(&page2, "next-archive"), Some(format!("{base}feed/archive/3").as_str()));

    let current = app.feed("/feed").await;
    assert_eq!(sequences(&current), [9, 8, 7], "never empty: the newest events, also archived as page 3");
    assert_eq!(link(&current, "prev-archive"), Some(format!("{base}feed/archive/3").as_str()));
    assert_eq!(current.updated(), page3.updated(), "updated is the newest event's time");
}

async fn create_many_more(app: &TestApp, n: usize) {
    for i in 0..n {
        app.create("Bo", &format!("Roe{i}"), &format!("bo{i}@example.org")).await;
    }
}

#[tokio::test]
async fn a_consumer_following_prev_archive_links_reads_every_event_once_in_order() {
    let app = spawn_with(Options { page_size: 4, ..Options::default() }).await;
    create_many(&app, 14).await;
    let mut seen = Vec::new();
    let mut next = Some(app.url("/feed"));
    while let Some(url) = next {
        let feed = parse_feed(&app.http.get(&url).send().await.unwrap().text().await.unwrap());
        seen.extend(sequences(&feed));
        next = link(&feed, "prev-archive").map(|href| app.local(href));
    }
    // The subscription document overlaps the newest archive page: a consumer keeps each event
    // once (by sequence, or by entry id).
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen, (1..=14).collect::<Vec<_>>());
}

#[tokio::test]
async fn links_are_absolute_from_the_public_url() {
    let public = Url::parse("https://contacts.example.net/prefix/").unwrap();
    let app = spawn_with(Options { page_size: 1, public_url: Some(public), ..Options::default() }).await;
    assert_eq!(app.public_url, "https://contacts.example.net/prefix/");
    let contact = app.create("Jane", "Doe", "jane@example.org").await;
    assert!(contact["self"].as_str().unwrap().starts_with("https://contacts.example.net/prefix/contacts/"));
    let feed = app.feed("/feed").await;
    assert_eq!(link(&feed, "prev-archive"), Some("https://contacts.example.net/prefix/feed/archive/1"));
    let archive = app.feed("/feed/archive/1").await;
    assert_eq!(archive.entries()[0].links()[0].href(), contact["self"].as_str().unwrap());
}

#[tokio::test]
async fn a_current_etag_answers_304_and_a_new_event_changes_it() {
    let app = spawn_with(Options { page_size: 2, ..Options::default() }).await;
    let empty = etag_of(&app, "/feed").await;
    assert!(empty.starts_with('"') && empty.ends_with('"'), "strong ETag: {empty}");
    let response = app.get_with("/feed", &[("if-none-match", &empty)]).await;
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(response.headers()["etag"], empty.as_str());
    assert!(response.headers().get("preference-applied").is_none());

    create_many(&app, 2).await;
    let response = app.get_with("/feed", &[("if-none-match", &empty)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let current = response.headers()["etag"].to_str().unwrap().to_owned();
    assert_ne!(current, empty);
    let weak_in_a_list = format!("\"other\", W/{current}");
    assert_eq!(
        app.get_with("/feed", &[("if-none-match", &weak_in_a_list)]).await.status(),
        StatusCode::NOT_MODIFIED
    );

    let archive = etag_of(&app, "/feed/archive/1").await;
    assert_ne!(archive, current);
    let response = app.get_with("/feed/archive/1", &[("if-none-match", &archive)]).await;
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(response.headers()["etag"], archive.as_str());
}

#[tokio::test]
async fn a_held_request_is_answered_as_soon_as_an_event_is_committed() {
    let app = spawn_app().await;
    let etag = etag_of(&app, "/feed").await;
    let request =
        app.http.get(app.url("/feed")).header("if-none-match", &etag).header("prefer", "wait=25").send();
    let held = tokio::spawn(request);
    wait_until("the request is held", Duration::from_secs(10), || async {
        (app.store.head().watchers() > 0).then_some(())
    })
    .await;
    app.create("Jane", "Doe", "jane@example.org").await;
    let response = held.await.unwrap().unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["preference-applied"], "wait=25");
    assert_ne!(response.headers()["etag"], etag.as_str());
    let feed = parse_feed(&response.text().await.unwrap());
    assert_eq!(sequences(&feed), [1]);
}

#[tokio::test]
async fn a_held_request_without_news_ends_with_304_when_the_wait_is_over() {
    let app = spawn_app().await;
    let etag = etag_of(&app, "/feed").await;
    let response = app.get_with("/feed", &[("if-none-match", &etag), ("prefer", "wait=1")]).await;
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(response.headers()["preference-applied"], "wait=1");
    assert_eq!(response.headers()["etag"], etag.as_str());
}

#[tokio::test]
async fn the_wait_is_capped_within_the_request_timeout() {
    let app = spawn_with(Options { request_timeout: Duration::from_secs(3), ..Options::default() }).await;
    let etag = etag_of(&app, "/feed").await;
    let response = app.get_with("/feed", &[("if-none-match", &etag), ("prefer", "wait=600")]).await;
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(response.headers()["preference-applied"], "wait=2");
}

#[tokio::test]
async fn a_stale_etag_is_answered_at_once_even_when_asked_to_wait() {
    let app = spawn_app().await;
    let etag = etag_of(&app, "/feed").await;
    app.create("Jane", "Doe", "jane@example.org").await;
    let response = app.get_with("/feed", &[("if-none-match", &etag), ("prefer", "wait=25")]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get("preference-applied").is_none(), "the request was not held");
}

#[tokio::test]
async fn held_requests_end_promptly_on_shutdown() {
    let app = spawn_app().await;
    let etag = etag_of(&app, "/feed").await;
    // Shorter than the wait: if shutdown did not release the request, this client gives up.
    let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(20)).build().unwrap();
    let held = tokio::spawn(
        client.get(app.url("/feed")).header("if-none-match", &etag).header("prefer", "wait=30").send(),
    );
    wait_until("the request is held", Duration::from_secs(10), || async {
        (app.store.head().watchers() > 0).then_some(())
    })
    .await;
    app.stop().await;
    let response = held.await.unwrap().expect("an answer before the wait was over");
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(response.headers()["preference-applied"], "wait=30");
}

/// A reader that only ever polls the subscription document (as most feed readers do) sees every
/// event, as long as fewer than `FEED_PAGE_SIZE` arrive between two polls: bursts of 1 to 19
/// events, 200 in all, crossing page boundaries of 20 again and again.
#[tokio::test]
async fn a_reader_polling_only_the_subscription_document_after_each_burst_sees_every_event() {
    let app = spawn_with(Options { page_size: 20, ..Options::default() }).await;
    // Sizes chosen so that bursts end on, just before and just after page boundaries.
    let bursts = [19, 1, 19, 1, 18, 3, 17, 2, 19, 19, 5, 15, 1, 1, 19, 11, 9, 7, 13, 1];
    assert_eq!(bursts.iter().sum::<usize>(), 200);
    let mut seen = std::collections::BTreeSet::new();
    let mut created = 0;
    for (n, burst) in bursts.iter().enumerate() {
        for i in 0..*burst {
            app.create("Bu", &format!("Rst{n}-{i}"), &format!("burst{n}-{i}@example.org")).await;
        }
        created += burst;
        let feed = app.feed("/feed").await;
        let listed = sequences(&feed);
        assert!(!listed.is_empty(), "never empty while events exist (after {created})");
        assert_eq!(listed[0], created as i64, "the newest event is listed first");
        assert!(listed.len() <= 20);
        seen.extend(listed);
        if created % 20 == 0 {
            assert_eq!(
                link(&feed, "prev-archive"),
                Some(format!("{}feed/archive/{}", app.public_url, created / 20).as_str()),
                "at a boundary the document lists exactly the newest archive page's events"
            );
        }
    }
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), (1..=200).collect::<Vec<_>>(), "every event was seen");
}

/// What expat and feedparser (run from the repository, `test-support/python/`) make of our
/// feed: well-formed, and every entry carries its event JSON.
#[tokio::test]
async fn standard_readers_take_the_feed_and_its_archives_as_well_formed_atom() {
    let app = spawn_with(Options { page_size: 3, ..Options::default() }).await;
    for (first, last) in [("Zoë", "Ångström"), ("山田", "太郎"), ("<b>", "&amp; \"quoted\"")] {
        app.create(first, last, &format!("{}@example.org", uuid::Uuid::new_v4().simple())).await;
    }
    app.create("Jane", "Doe", "jane@example.org").await;
    for path in ["/feed", "/feed/archive/1"] {
        let body = app.get(path).await.bytes().await.unwrap();
        let Some(check) = test_support::python::atom_check(&body) else { return };
        assert!(check.accepted, "{path}: {}\n{}", check.report, check.stderr);
        let entries = check.report["entries"].as_array().unwrap();
        assert_eq!(entries.len(), 3, "{path}: {}", check.report);
        for entry in entries {
            let event: serde_json::Value = serde_json::from_str(entry["content"].as_str().unwrap()).unwrap();
            assert_eq!(entry["title"], event["type"], "{path}");
        }
    }
}

#[tokio::test]
async fn a_browser_gets_the_feed_as_a_page_and_feed_readers_still_get_atom() {
    let app = spawn_with(Options { page_size: 2, ..Options::default() }).await;
    app.create("Jürgen", "<b>Ölmann</b>", "j@example.org").await;
    app.create("Ann", "Adams", "a@example.org").await;
    app.create("Bob", "Brown", "b@example.org").await;
    const BROWSER: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    let get = |path: &'static str, accept: &'static str| {
        let request = app.http.get(app.url(path)).header("accept", accept);
        async move { request.send().await.unwrap() }
    };

    let page = get("/feed", BROWSER).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert_eq!(page.headers()["vary"], "accept");
    let html = page.text().await.unwrap();
    assert!(html.contains("Bob Brown &lt;b@example.org&gt;"), "{html}");
    assert!(html.contains("href=\"/feed/archive/1\""), "the newest full page is linked: {html}");

    let archive = get("/feed/archive/1", BROWSER).await.text().await.unwrap();
    assert!(archive.contains("Jürgen &lt;b&gt;Ölmann&lt;/b&gt;"), "escaped, in UTF-8: {archive}");
    assert!(archive.contains("href=\"/feed\""), "the newest page leads back to the subscription document");
    assert_eq!(get("/feed/archive/2", BROWSER).await.status(), StatusCode::NOT_FOUND);

    for accept in ["application/atom+xml", "*/*", "application/atom+xml, application/xml;q=0.9"] {
        let atom = get("/feed", accept).await;
        assert_eq!(atom.headers()["content-type"], "application/atom+xml; charset=utf-8", "{accept}");
        assert_eq!(atom.headers()["vary"], "accept");
        assert_eq!(sequences(&parse_feed(&atom.text().await.unwrap())), [3, 2], "{accept}");
    }
}
