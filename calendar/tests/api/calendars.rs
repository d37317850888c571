//! Calendars and events: the original app's routes and payloads, and the newer ones.

use serde_json::json;
use test_support::json_body;

use crate::feed_server::FeedServer;
use crate::helpers::spawn_app;

#[tokio::test]
async fn the_original_routes_work_with_the_original_payloads() {
    let feed = FeedServer::start(20).await;
    let ann = feed.create_contact("ann@example.org", "Ann", "Lee");
    let bob = feed.create_contact("bob@example.org", "Bob", "Ray");
    let app = spawn_app(&feed).await;
    app.wait_for_user(ann).await;
    app.wait_for_user(bob).await;

    let response = app
        .post_json(
            &format!("/calendar/{ann}"),
            &json!({"title": "Party", "day": 24, "month": 12, "year": 2026}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let created = json_body(response).await;
    assert_eq!(location, created["self"].as_str().unwrap());
    assert!(
        location.starts_with(&format!("http://localhost:{}/event/", app.address.rsplit(':').next().unwrap()))
    );

    let path = format!("/event/{}", created["id"].as_str().unwrap());
    let (status, event) = app.get_json(&path).await;
    assert_eq!(status, 200);
    assert_eq!(
        (event["title"].as_str(), event["day"].as_u64(), event["month"].as_u64(), event["year"].as_u64()),
        (Some("Party"), Some(24), Some(12), Some(2026))
    );
    assert_eq!(event["allDay"], true);
    assert_eq!(event["date"], "2026-12-24");

    let (status, participants) = app.get_json(&format!("{path}/participants")).await;
    assert_eq!((status.as_u16(), participants), (200, json!([])));
    let response = app.post_json(&format!("{path}/participants"), &json!(["bob@example.org"])).await;
    assert_eq!(response.status(), 200);
    let bob_url = app.get_json(&format!("/users/{bob}")).await.1["self"].clone();
    assert_eq!(json_body(response).await, json!([bob_url]));
    assert_eq!(app.get_json(&format!("{path}/participants")).await.1, json!([bob_url]));

    // iCalendar by default (calendar apps send */* or nothing), JSON and HTML on request.
    let default = app.get(&format!("/calendar/{ann}")).await;
    assert!(default.headers()["content-type"].to_str().unwrap().starts_with("text/calendar"));
    assert!(default.text().await.unwrap().contains("SUMMARY:Party\r\n"));
    let any = app.get_accept(&format!("/calendar/{ann}"), "*/*").await;
    assert!(any.headers()["content-type"].to_str().unwrap().starts_with("text/calendar"));
    let (status, list) = app.get_json(&format!("/calendar/{ann}")).await;
    assert_eq!(status, 200);
    assert_eq!(list["items"][0]["title"], "Party");
    assert_eq!(list["next"], json!(null));
    let html = app.get_accept(&format!("/calendar/{ann}"), "text/html").await;
    assert!(html.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    app.stop().await;
}

#[tokio::test]
async fn timed_events_can_be_created_changed_and_deleted() {
    let feed = FeedServer::start(20).await;
    let ann = feed.create_contact("ann@example.org", "Ann", "Lee");
    let app = spawn_app(&feed).await;
    app.wait_for_user(ann).await;

    let body = json!({"title": "Review", "start": "2026-03-02T10:00:00+01:00", "end": "2026-03-02T11:30:00+01:00", "location": "Room 1", "description": "Bring notes"});
    let response = app.post_json(&format!("/calendar/{ann}"), &body).await;
    assert_eq!(response.status(), 201);
    let event = json_body(response).await;
    assert_eq!(
        (event["start"].as_str(), event["end"].as_str()),
        (Some("2026-03-02T09:00:00Z"), Some("2026-03-02T10:30:00Z"))
    );
    assert_eq!(event["allDay"], false);
    assert_eq!(event["location"], "Room 1");
    let path = format!("/event/{}", event["id"].as_str().unwrap());

    let changed = app
        .http
        .put(app.url(&path))
        .json(&json!({"title": "Review (moved)", "date": "2026-03-03"}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    let changed = json_body(changed).await;
    assert_eq!(
        (changed["title"].as_str(), changed["date"].as_str(), changed["allDay"].as_bool()),
        (Some("Review (moved)"), Some("2026-03-03"), Some(true))
    );
    assert_eq!(changed["location"], json!(null), "PUT replaces the whole event");
    let ics = app.get(&format!("/calendar/{ann}.ics")).await.text().await.unwrap();
    assert!(ics.contains("SEQUENCE:1\r\n") && ics.contains("DTSTART;VALUE=DATE:20260303\r\n"), "{ics}");

    assert_eq!(app.http.delete(app.url(&path)).send().await.unwrap().status(), 204);
    assert_eq!(app.get_json(&path).await.0, 404);
    assert_eq!(app.http.delete(app.url(&path)).send().await.unwrap().status(), 404);
    app.stop().await;
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_and_changes_nothing() {
    let feed = FeedServer::start(20).await;
    let ann = feed.create_contact("ann@example.org", "Ann", "Lee");
    let app = spawn_app(&feed).await;
    app.wait_for_user(ann).await;
    let path = format!("/calendar/{ann}");

    let cases = [
        (json!({"title": "x", "day": 31, "month": 2, "year": 2026}), 422, "day"),
        (json!({"title": "x", "day": 29, "month": 2, "year": 2025}), 422, "day"),
        (json!({"title": "x", "date": "2026-13-01"}), 422, "date"),
        (json!({"title": "", "date": "2026-01-01"}), 422, "title"),
        (json!({"title": "x"}), 422, "date"),
        (json!({"title": "x", "start": "2026-01-01T10:00:00Z", "end": "2026-01-01T09:00:00Z"}), 422, "end"),
        (json!({"title": "x", "start": "yesterday"}), 422, "start"),
        (json!({"title": 5, "date": "2026-01-01"}), 422, "title"),
        (json!({"title": "x", "date": "2026-01-01", "day": 1}), 422, "date"),
    ];
    for (body, status, field) in cases {
        let response = app.post_json(&path, &body).await;
        assert_eq!(response.status(), status, "{body}");
        let error = json_body(response).await;
        assert_eq!(error["field"], field, "{body}: {error}");
        assert!(error["error"].is_string() && error["message"].is_string());
    }
    let malformed = app
        .http
        .post(app.url(&path))
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    let text =
        app.http.post(app.url(&path)).header("content-type", "text/plain").body("hi").send().await.unwrap();
    assert_eq!(text.status(), 415);
    assert_eq!(app.get_json(&path).await.1["items"], json!([]), "nothing was created");

    let unknown = uuid::Uuid::now_v7();
    assert_eq!(
        app.post_json(&format!("/calendar/{unknown}"), &json!({"title": "x", "date": "2026-01-01"}))
            .await
            .status(),
        404
    );
    assert_eq!(app.get(&format!("/calendar/{unknown}.ics")).await.status(), 404);
    assert_eq!(app.get("/calendar/not-a-uuid").await.status(), 404);
    assert_eq!(app.get_json("/event/not-a-uuid").await.0, 404);
    assert_eq!(app.get_json(&format!("{path}?limit=0")).await.0, 400);
    assert_eq!(app.get_json(&format!("{path}?cursor=zzz")).await.0, 400);
    assert_eq!(app.get_json(&format!("{path}?from=yesterday")).await.0, 400);
    assert_eq!(app.get_json("/users?limit=1000").await.0, 400);
    app.stop().await;
}

#[tokio::test]
async fn calendars_and_users_page_through_next_links() {
    let feed = FeedServer::start(20).await;
    let ids: Vec<_> = (0..5).map(|i| feed.create_contact(&format!("p{i}@example.org"), "P", "Q")).collect();
    let app = spawn_app(&feed).await;
    app.wait_for_user(ids[4]).await;
    for day in 1..=5 {
        let body = json!({"title": format!("Day {day}"), "date": format!("2026-05-0{day}")});
        assert_eq!(app.post_json(&format!("/calendar/{}", ids[0]), &body).await.status(), 201);
    }
    let (_, first) = app.get_json(&format!("/calendar/{}?limit=2", ids[0])).await;
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let next = first["next"].as_str().unwrap();
    let second =
        json_body(app.http.get(next).header("accept", "application/json").send().await.unwrap()).await;
    assert_eq!(second["items"][0]["title"], "Day 3");
    let (_, range) = app.get_json(&format!("/calendar/{}?from=2026-05-04&to=2026-05-05", ids[0])).await;
    assert_eq!(
        range["items"].as_array().unwrap().iter().map(|e| e["title"].as_str().unwrap()).collect::<Vec<_>>(),
        ["Day 4"]
    );

    let (_, users) = app.get_json("/users?limit=2").await;
    assert_eq!(users["items"].as_array().unwrap().len(), 2);
    assert!(users["next"].is_string());
    assert_eq!(app.all_users().await.len(), 5);
    app.stop().await;
}

#[tokio::test]
async fn an_invitees_calendar_lists_the_events_they_are_invited_to_marked_as_invitations() {
    let feed = FeedServer::start(20).await;
    let ann = feed.create_contact("ann@example.org", "Ann", "Lee");
    let bob = feed.create_contact("bob@example.org", "Bob", "Ray");
    let app = spawn_app(&feed).await;
    let ann_url = app.wait_for_user(ann).await["self"].clone();
    let bob_url = app.wait_for_user(bob).await["self"].clone();
    let body =
        json!({"title": "Ann's review", "start": "2026-12-03T09:00:00Z", "end": "2026-12-03T10:00:00Z"});
    let party = json_body(app.post_json(&format!("/calendar/{ann}"), &body).await).await["id"].clone();
    let own = json!({"title": "Bob's dentist", "date": "2026-12-10"});
    assert_eq!(app.post_json(&format!("/calendar/{bob}"), &own).await.status(), 201);
    let participants = format!("/event/{}/participants", party.as_str().unwrap());
    assert_eq!(app.post_json(&participants, &json!(["bob@example.org"])).await.status(), 200);

    let listed = |calendar: serde_json::Value| {
        calendar["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["title"].as_str().unwrap().to_string(), e["invited"].clone(), e["owner"].clone()))
            .collect::<Vec<_>>()
    };
    let (_, bobs) = app.get_json(&format!("/calendar/{bob}")).await;
    assert_eq!(
        listed(bobs),
        [
            ("Ann's review".to_string(), json!(true), ann_url.clone()),
            ("Bob's dentist".to_string(), json!(false), bob_url.clone()),
        ]
    );
    let (_, anns) = app.get_json(&format!("/calendar/{ann}")).await;
    assert_eq!(listed(anns), [("Ann's review".to_string(), json!(false), ann_url.clone())]);
    let (_, in_range) = app.get_json(&format!("/calendar/{bob}?from=2026-12-01&to=2026-12-04")).await;
    assert_eq!(listed(in_range).len(), 1, "the range applies to invitations too");
    let (_, event) = app.get_json(&format!("/event/{}", party.as_str().unwrap())).await;
    assert!(event.get("invited").is_none(), "only a listing says whose calendar it is read in: {event}");

    let page =
        app.get_accept(&format!("/calendar/{bob}?month=2026-12"), "text/html").await.text().await.unwrap();
    let invitations = page.matches(r#"<span class="badge invited""#).count();
    assert_eq!(invitations, 2, "marked in the grid and in the month's list: {page}");
    assert!(page.contains("Ann&#39;s review") || page.contains("Ann's review"), "{page}");
    let ann_page =
        app.get_accept(&format!("/calendar/{ann}?month=2026-12"), "text/html").await.text().await.unwrap();
    assert!(!ann_page.contains("badge invited"), "the owner's own event is no invitation");

    let removed = app.http.delete(app.url(&format!("{participants}/{bob}"))).send().await.unwrap();
    assert_eq!(removed.status(), 204);
    let (_, bobs) = app.get_json(&format!("/calendar/{bob}")).await;
    assert_eq!(listed(bobs).len(), 1, "no longer invited, no longer listed");
    app.stop().await;
}

#[tokio::test]
async fn the_ics_export_is_a_valid_calendar() {
    let feed = FeedServer::start(20).await;
    let ann = feed.create_contact("ann@example.org", "Ann", "Lee");
    let app = spawn_app(&feed).await;
    app.wait_for_user(ann).await;
    app.post_json(&format!("/calendar/{ann}"), &json!({"title": "All day, with; specials \\ and a very long title that needs folding over several lines", "date": "2026-02-28"})).await;
    app.post_json(&format!("/calendar/{ann}"), &json!({"title": "Timed", "start": "2026-02-28T23:30:00Z", "end": "2026-03-01T01:00:00Z", "description": "Line 1\nLine 2", "location": "Café"})).await;
    let response = app.get(&format!("/calendar/{ann}.ics")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/calendar; charset=utf-8");
    let ics = response.text().await.unwrap();
    for needle in [
        "BEGIN:VCALENDAR\r\n",
        "VERSION:2.0\r\n",
        "PRODID:",
        "BEGIN:VEVENT\r\n",
        "DTSTART;VALUE=DATE:20260228\r\n",
        "DTEND;VALUE=DATE:20260301\r\n",
        "DTSTART:20260228T233000Z\r\n",
        "DTEND:20260301T010000Z\r\n",
        "DESCRIPTION:Line 1\\nLine 2\r\n",
        "END:VCALENDAR\r\n",
    ] {
        assert!(ics.contains(needle), "{needle:?} in {ics}");
    }
    assert_eq!(ics.matches("UID:").count(), 2);
    assert_eq!(ics.matches("DTSTAMP:").count(), 2);
    assert!(ics.split("\r\n").all(|line| line.len() <= 75), "folded: {ics}");
    assert!(!ics.replace("\r\n", "").contains('\n'), "CRLF only");

    // Third-party readers (test-support/python, installed by .ci/check-tools.sh; under CI=true
    // a missing tool fails the test instead of skipping it).
    if let Some(check) = test_support::python::ics_check(ics.as_bytes()) {
        assert!(check.accepted, "{}\n{}", check.report, check.stderr);
        for reader in ["icalendar", "vobject"] {
            assert_eq!(
                check.report[reader]["events"].as_array().map(Vec::len),
                Some(2),
                "{reader}: {}",
                check.report
            );
        }
        assert_eq!(check.report["recurring"]["occurrences"], 2, "{}", check.report);
    }
    app.stop().await;
}

#[tokio::test]
async fn the_openapi_document_describes_event_bodies_and_invitation_errors_as_they_are() {
    let feed = FeedServer::start(20).await;
    let app = spawn_app(&feed).await;
    let doc = json_body(app.get("/openapi.json").await).await;
    let input = &doc["components"]["schemas"]["EventInput"];
    assert!(input["required"].as_array().is_some_and(|r| r.contains(&json!("title"))), "{input}");
    assert_eq!(input["properties"]["title"]["type"], "string", "{input}");
    for path in ["/calendar/{userId}", "/event/{id}"] {
        let operation = &doc["paths"][path][if path.starts_with("/event") { "put" } else { "post" }];
        let body = &operation["requestBody"]["content"]["application/json"]["schema"]["$ref"];
        assert_eq!(body, "#/components/schemas/EventInput", "{path}");
    }
    // A malformed address is answered in the usual error shape, without the `unknown` list.
    let invitation_error = &doc["components"]["schemas"]["UnknownParticipantsBody"];
    assert!(
        !invitation_error["required"].as_array().unwrap().contains(&json!("unknown")),
        "{invitation_error}"
    );
}
