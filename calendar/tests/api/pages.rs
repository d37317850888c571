//! The HTML pages: usable without JavaScript, forms post and redirect.

use serde_json::json;
use test_support::json_body;

use crate::feed_server::FeedServer;
use crate::helpers::spawn_app;

#[tokio::test]
async fn the_pages_link_users_calendars_events_and_the_subscription() {
    let feed = FeedServer::start(20).await;
    let ann = feed.create_contact("ann@example.org", "Ann", "<Lee>");
    let app = spawn_app(&feed).await;
    app.wait_for_user(ann).await;

    let users = app.get_accept("/users", "text/html").await.text().await.unwrap();
    assert!(users.contains(&format!("href=\"/calendar/{ann}\"")), "{users}");
    assert!(users.contains("Ann &lt;Lee&gt;"), "names are escaped");
    let user = app.get_accept(&format!("/users/{ann}"), "text/html").await.text().await.unwrap();
    assert!(user.contains(".ics"));
    // The header links the three services, this one marked; the user page leads to the contact.
    assert!(user.contains(r#"<a href="http://localhost:3000/">contacts</a>"#), "{user}");
    assert!(user.contains(r#"aria-current="true">calendar</a>"#), "{user}");
    assert!(user.contains(&format!("href=\"http://localhost:3000/contacts/{ann}\"")), "{user}");

    let calendar =
        app.get_accept(&format!("/calendar/{ann}?month=2026-12"), "text/html").await.text().await.unwrap();
    assert!(calendar.contains("December 2026"));
    assert!(calendar.contains("?month=2026-11") && calendar.contains("?month=2027-01"), "pages by month");
    assert!(calendar.contains(&format!("action=\"/calendar/{ann}/new\"")), "a form to add an event");
    assert!(calendar.contains(&format!("/calendar/{ann}.ics")), "a subscription link");
    assert_eq!(app.get_accept(&format!("/calendar/{ann}?month=December"), "text/html").await.status(), 400);

    // Adding an event through the form redirects to its page.
    let created = app
        .post_form(
            &format!("/calendar/{ann}/new"),
            &[
                ("title", "Dinner"),
                ("date", "2026-12-05"),
                ("start_time", "19:00"),
                ("end_time", "21:00"),
                ("location", "Home"),
            ],
        )
        .await;
    assert_eq!(created.status(), 303);
    let event_path = created.headers()["location"]
        .to_str()
        .unwrap()
        .split_once("/event/")
        .map(|(_, id)| format!("/event/{id}"))
        .unwrap();
    let calendar =
        app.get_accept(&format!("/calendar/{ann}?month=2026-12"), "text/html").await.text().await.unwrap();
    assert!(calendar.contains("Dinner"));

    let invalid =
        app.post_form(&format!("/calendar/{ann}/new"), &[("title", "Bad"), ("date", "2026-02-30")]).await;
    assert_eq!(invalid.status(), 422);
    assert!(invalid.text().await.unwrap().contains("not a real date"));

    let page = app.get_accept(&event_path, "text/html").await.text().await.unwrap();
    assert!(page.contains("Dinner") && page.contains("Home") && page.contains("name=\"emails\""), "{page}");
    assert!(page.contains(&format!("action=\"{event_path}/invite\"")), "an invitation form: {page}");

    // Invite through the form; unknown addresses are named on the page.
    let unknown = app.post_form(&format!("{event_path}/invite"), &[("emails", "nobody@example.org")]).await;
    assert_eq!(unknown.status(), 422);
    assert!(unknown.text().await.unwrap().contains("nobody@example.org"));
    let invited = app.post_form(&format!("{event_path}/invite"), &[("emails", "ann@example.org")]).await;
    assert_eq!(invited.status(), 303);
    assert_eq!(app.get_json(&format!("{event_path}/participants")).await.1.as_array().unwrap().len(), 1);
    let page = app.get_accept(&event_path, "text/html").await.text().await.unwrap();
    assert!(
        page.contains(&format!("href=\"http://localhost:3000/contacts/{ann}\"")),
        "participant -> contact: {page}"
    );
    let removed = app.post_form(&format!("{event_path}/participants/{ann}/remove"), &[]).await;
    assert_eq!(removed.status(), 303);
    assert_eq!(app.get_json(&format!("{event_path}/participants")).await.1, json!([]));

    let edited = app
        .post_form(&format!("{event_path}/edit"), &[("title", "Late dinner"), ("date", "2026-12-06")])
        .await;
    assert_eq!(edited.status(), 303);
    assert_eq!(app.get_json(&event_path).await.1["title"], "Late dinner");
    let deleted = app.post_form(&format!("{event_path}/delete"), &[]).await;
    assert_eq!(deleted.status(), 303);
    assert_eq!(app.get_json(&event_path).await.0, 404);
    app.stop().await;
}

#[tokio::test]
async fn cross_site_form_posts_are_refused() {
    let feed = FeedServer::start(20).await;
    let ann = feed.create_contact("ann@example.org", "Ann", "Lee");
    let app = spawn_app(&feed).await;
    app.wait_for_user(ann).await;
    let response = app
        .http
        .post(app.url(&format!("/calendar/{ann}/new")))
        .header("origin", "http://evil.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(test_support::client::form_body(&[("title", "Spam"), ("date", "2026-01-01")]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(app.get_json(&format!("/calendar/{ann}")).await.1["items"], json!([]));
    app.stop().await;
}

#[tokio::test]
async fn the_json_endpoints_take_no_forms_and_change_nothing() {
    let feed = FeedServer::start(20).await;
    let ann = feed.create_contact("ann@example.org", "Ann", "Lee");
    let app = spawn_app(&feed).await;
    app.wait_for_user(ann).await;
    let event = app.create_event(ann, "Party").await;
    for (path, form) in [
        (format!("/calendar/{ann}"), &[("title", "Dinner"), ("date", "2026-12-05")][..]),
        (format!("/event/{event}/participants"), &[("emails", "ann@example.org")][..]),
    ] {
        let response = app.post_form(&path, form).await;
        assert_eq!(response.status(), 415, "{path}");
        assert_eq!(json_body(response).await["error"], "unsupported_media_type", "{path}");
    }
    let (_, calendar) = app.get_json(&format!("/calendar/{ann}")).await;
    assert_eq!(calendar["items"].as_array().unwrap().len(), 1, "no event was added");
    assert_eq!(app.get_json(&format!("/event/{event}/participants")).await.1, json!([]));
    app.stop().await;
}
