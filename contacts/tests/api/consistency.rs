use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use test_support::{TestDb, wait_until};

use crate::helpers::{Options, TestApp, link, parse_feed, sequences, spawn_app};

#[tokio::test]
async fn replaying_the_events_gives_exactly_the_read_model() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for i in 0..12 {
        ids.push(app.create(&format!("P{i}"), "Doe", &format!("p{i}@example.org")).await);
    }
    for (i, contact) in ids.iter().enumerate() {
        let path = TestApp::contact_path(contact);
        match i % 4 {
            0 => assert_eq!(app.delete(&path).await.status(), StatusCode::NO_CONTENT),
            1 => assert_eq!(app.put_json(&path, &json!({"lastname": "Roe"})).await.status(), StatusCode::OK),
            2 => {
                let body = json!({"email": format!("new{i}@example.org"), "firstname": "Q"});
                assert_eq!(app.put_json(&path, &body).await.status(), StatusCode::OK);
            }
            _ => {
                // Refused: must leave no trace in either.
                let taken = json!({"email": "p1@example.org"});
                assert_eq!(app.put_json(&path, &taken).await.status(), StatusCode::CONFLICT);
            }
        }
    }
    let projection: BTreeMap<_, _> =
        app.store.all_contacts().await.unwrap().into_iter().map(|c| (c.id, c)).collect();
    let replayed = app.store.replay().await.unwrap();
    assert_eq!(replayed, projection);
    assert_eq!(projection.len(), 9);
    assert_eq!(app.store.read_head().await.unwrap().contacts, 9);

    // Rebuilding the read model from the events changes nothing visible.
    assert_eq!(app.store.rebuild_projection().await.unwrap(), 9);
    let rebuilt: BTreeMap<_, _> =
        app.store.all_contacts().await.unwrap().into_iter().map(|c| (c.id, c)).collect();
    assert_eq!(rebuilt, projection);
    let search = test_support::json_body(app.get("/contacts?q=roe").await).await;
    assert_eq!(search["items"].as_array().unwrap().len(), 3, "search columns are rebuilt too");
}

/// Reads everything after `after` the way a consumer does: the subscription document, then
/// `prev-archive` links back until the documents reach `after`. Returns the sequences, oldest first.
async fn read_after(app: &TestApp, after: i64) -> Vec<i64> {
    let mut found = Vec::new();
    let mut next = Some(app.url("/feed"));
    while let Some(url) = next {
        let response = app.http.get(&url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{url}");
        let feed = parse_feed(&response.text().await.unwrap());
        let seqs = sequences(&feed);
        let reached = seqs.iter().any(|s| *s <= after + 1);
        found.extend(seqs.into_iter().filter(|s| *s > after));
        next = if reached { None } else { link(&feed, "prev-archive").map(|h| app.local(h)) };
    }
    // The subscription document overlaps the newest archive page: each event counts once.
    found.sort_unstable();
    found.dedup();
    found
}

#[tokio::test]
async fn concurrent_writers_never_let_a_reader_see_a_gap_or_a_late_lower_sequence() {
    // On PostgreSQL two replicas share the database: writers use both, the reader the second.
    let db = Arc::new(TestDb::new().await);
    let options = Options { page_size: 5, ..Options::default() };
    let first = Arc::new(TestApp::spawn(db.clone(), options.clone()).await);
    let second =
        if db.is_postgres() { Arc::new(TestApp::spawn(db.clone(), options).await) } else { first.clone() };

    const WRITERS: usize = 12;
    const CONTACTS_PER_WRITER: usize = 10;
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (app, done) = (second.clone(), done.clone());
        tokio::spawn(async move {
            let mut last_seen = 0;
            let mut reads = 0;
            loop {
                let finished = done.load(Ordering::SeqCst);
                let new = read_after(&app, last_seen).await;
                let expected: Vec<i64> = (last_seen + 1..=last_seen + new.len() as i64).collect();
                assert_eq!(new, expected, "after seeing {last_seen}, a read must continue without gaps");
                last_seen = new.last().copied().unwrap_or(last_seen);
                reads += 1;
                if finished {
                    return (last_seen, reads);
                }
            }
        })
    };
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let app = if w % 2 == 0 { first.clone() } else { second.clone() };
        writers.push(tokio::spawn(async move {
            for i in 0..CONTACTS_PER_WRITER {
                let contact = app.create("W", &format!("{w}-{i}"), &format!("w{w}-{i}@example.org")).await;
                let path = TestApp::contact_path(&contact);
                assert_eq!(app.put_json(&path, &json!({"firstname": "V"})).await.status(), StatusCode::OK);
                if i % 3 == 0 {
                    assert_eq!(app.delete(&path).await.status(), StatusCode::NO_CONTENT);
                }
                // Refused writes in the mix (all but the first) must not leave a gap.
                let dup = json!({"firstname": "D", "lastname": "D", "email": "dup@example.org"});
                let status = app.post_json("/contacts", &dup).await.status();
                assert!(status == StatusCode::CONFLICT || status == StatusCode::CREATED, "{status}");
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let total = first.store.read_head().await.unwrap().sequence;
    // The reader's replica hears about the last commits through the database's notifications.
    wait_until("the reading replica has every event", Duration::from_secs(10), || async {
        (second.store.head().get().sequence == total).then_some(())
    })
    .await;
    done.store(true, Ordering::SeqCst);
    let (last_seen, reads) = reader.await.unwrap();
    assert_eq!(last_seen, total);
    assert!(reads > 1, "the reader read while writers wrote");

    let stored: Vec<i64> = first.store.all_events().await.unwrap().iter().map(|e| e.sequence).collect();
    assert_eq!(stored, (1..=total).collect::<Vec<_>>(), "the log has no gaps");
}

#[tokio::test]
async fn a_long_poll_on_one_replica_wakes_when_another_replica_commits() {
    if !TestDb::postgres_only("a_long_poll_on_one_replica_wakes_when_another_replica_commits") {
        return;
    }
    let db = Arc::new(TestDb::new().await);
    let writer = TestApp::spawn(db.clone(), Options::default()).await;
    let waiter = TestApp::spawn(db.clone(), Options::default()).await;
    let etag = waiter.get("/feed").await.headers()["etag"].to_str().unwrap().to_owned();
    let held = tokio::spawn(
        waiter
            .http
            .get(waiter.url("/feed"))
            .header("if-none-match", &etag)
            .header("prefer", "wait=25")
            .send(),
    );
    wait_until("the request is held", Duration::from_secs(10), || async {
        (waiter.store.head().watchers() > 0).then_some(())
    })
    .await;
    writer.create("Jane", "Doe", "jane@example.org").await;
    let response = held.await.unwrap().unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["preference-applied"], "wait=25");
    assert_eq!(sequences(&parse_feed(&response.text().await.unwrap())), [1]);
}

#[tokio::test]
async fn a_replica_asked_about_a_newer_etag_reads_the_head_instead_of_answering_with_older_news() {
    if !TestDb::postgres_only(
        "a_replica_asked_about_a_newer_etag_reads_the_head_instead_of_answering_with_older_news",
    ) {
        return;
    }
    let db = Arc::new(TestDb::new().await);
    let a = TestApp::spawn(db.clone(), Options::default()).await;
    let b = TestApp::spawn(db.clone(), Options::default()).await;
    a.create("Jane", "Doe", "jane@example.org").await;
    let etag = a.get("/feed").await.headers()["etag"].to_str().unwrap().to_owned();
    // Whether or not b has heard of the event yet, b must treat a's ETag as current.
    let response = b.get_with("/feed", &[("if-none-match", &etag)]).await;
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
}
