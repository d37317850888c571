//! Stored XSS and CSRF against the three real binaries, checked in headless Chromium: markup in
//! every field a page shows (a contact's names and e-mail typed into contacts' form, an event's
//! title, description and location, a notification's subject, message and recipients, the names
//! calendar learned from the feed) stays text, runs nothing and creates no element; and every
//! form of every service refuses a post from another site and changes nothing.

#![allow(clippy::unwrap_used)]

use axum::response::Html;
use fantoccini::{Client, Locator};
use serde_json::json;
use system_tests::api::{Contact, text};
use system_tests::browser::{fill, open_until_shown, submit, text_of, with_browser};
use system_tests::prometheus::value;
use system_tests::{Mail, PATIENCE, TestSystem};
use test_support::wait_until;

const FIRST: &str = "<img src=x onerror=alert('first')>";
const LAST: &str = "\"><svg onload=alert('last')>";
/// A valid address: a quoted local part may hold markup.
const EMAIL: &str = "\"<script>alert('email')</script>\"@example.org";
const TITLE: &str = "<script>alert('title')</script>";
const DESCRIPTION: &str = "<iframe src=javascript:alert('description')></iframe>";
const LOCATION: &str = "'><img src=x onerror=alert('location')>";
const SUBJECT: &str = "<svg/onload=alert('subject')>";
const MESSAGE: &str = "<script>alert('message')</script>";
/// The characters an address that can be sent may hold that mean something in HTML.
const RECIPIENT: &str = "o'neil&co@example.org";

/// The page at `url` shows each of `texts`, has no element a payload could have made, and
/// opened no alert.
async fn inert(browser: &Client, url: &str, texts: &[&str]) {
    browser.goto(url).await.unwrap();
    let body = text_of(browser, "body").await;
    for text in texts {
        assert!(body.contains(text), "{url} shows {text:?} as text; it shows:\n{body}");
    }
    for tag in ["img", "svg", "script", "iframe"] {
        let found = browser.find_all(Locator::Css(tag)).await.unwrap();
        assert!(found.is_empty(), "{url} has a {tag} element");
    }
    assert!(browser.get_alert_text().await.is_err(), "{url} opened an alert");
}

#[tokio::test]
async fn markup_in_every_field_shows_as_text_and_runs_nothing_on_any_page() {
    with_browser(|browser| async move {
        let mut system = TestSystem::start(Mail::Mailbox).await;
        system_tests::browser::log_in_everywhere(&browser, &system).await;
        // The marked contact is typed into contacts' own form, as a person would.
        browser.goto(&system.public_url(&system.contacts, "contacts/new")).await.unwrap();
        let form = "form[action='/contacts/new']";
        fill(&browser, form, "firstname", FIRST).await;
        fill(&browser, form, "lastname", LAST).await;
        fill(&browser, form, "email", EMAIL).await;
        submit(&browser, form).await;
        let created = browser.current_url().await.unwrap();
        let id = created.path().strip_prefix("/contacts/").unwrap_or_else(|| panic!("at {created}")).to_string();
        let marked = Contact { id, email: EMAIL.to_string() };
        let guest = system.create_contact("Gus", "Guest", "gus@example.org").await;
        system.wait_for_users(&[&marked, &guest]).await;
        let event = system
            .create_event(
                &marked.id,
                json!({"title": TITLE, "date": "2027-04-01", "description": DESCRIPTION, "location": LOCATION}),
            )
            .await;
        let event_id = text(&event, "id");
        system.invite_ok(&event_id, &["gus@example.org", EMAIL]).await;
        let response = system
            .http
            .post(system.notifications.url("notifications"))
            .bearer_auth(&system.token)
            .json(&json!({"recipients": [RECIPIENT, "gus@example.org"], "subject": SUBJECT, "message": MESSAGE}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202);
        let job = test_support::json_body(response).await;

        let contacts = |path: &str| system.public_url(&system.contacts, path);
        let calendar = |path: &str| system.public_url(&system.calendar, path);
        let notifications = |path: &str| system.public_url(&system.notifications, path);
        let id = &marked.id;
        inert(&browser, &contacts(""), &[FIRST, LAST, EMAIL]).await;
        inert(&browser, &contacts(&format!("contacts/{id}")), &[FIRST, LAST, EMAIL]).await;
        inert(&browser, &contacts(&format!("contacts/{id}/delete")), &[FIRST, LAST, EMAIL]).await;
        inert(&browser, &contacts(&format!("contacts/{id}/edit")), &[]).await;
        for (name, expected) in [("firstname", FIRST), ("lastname", LAST), ("email", EMAIL)] {
            let field = browser.find(Locator::Css(&format!("input[name={name}]"))).await.unwrap();
            assert_eq!(field.prop("value").await.unwrap().as_deref(), Some(expected), "the edit form keeps {name}");
        }
        inert(&browser, &calendar("users"), &[FIRST, LAST, EMAIL]).await;
        inert(&browser, &calendar(&format!("users/{id}")), &[FIRST, LAST, EMAIL]).await;
        inert(&browser, &calendar(&format!("calendar/{id}?month=2027-04")), &[FIRST, LAST, TITLE]).await;
        inert(&browser, &calendar(&format!("event/{event_id}")), &[TITLE, DESCRIPTION, LOCATION, FIRST, LAST, EMAIL])
            .await;
        open_until_shown(&browser, &notifications("mailbox"), &format!("Invitation: {TITLE}")).await;
        open_until_shown(&browser, &notifications("mailbox"), SUBJECT).await;
        inert(&browser, &notifications("mailbox"), &[&format!("Invitation: {TITLE}"), SUBJECT, RECIPIENT]).await;
        inert(&browser, &notifications("notifications"), &[&format!("Invitation: {TITLE}"), SUBJECT, RECIPIENT]).await;
        inert(&browser, &notifications(&format!("notifications/{}", text(&job, "id"))), &[SUBJECT, MESSAGE, RECIPIENT])
            .await;
        system.stop().await;
    })
    .await;
}

/// Serves `page` at `/` on a free port of 127.0.0.1 (a site other than `localhost`, where the
/// services' pages are); returns the page's URL.
async fn serve_foreign_page(page: String) -> String {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let url = format!("http://127.0.0.1:{}/", listener.local_addr().unwrap().port());
    let app = axum::Router::new().route("/", axum::routing::get(move || async move { Html(page) }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// A page that posts a form to `action` as soon as it loads.
fn auto_submitting_form(action: &str, fields: &[(&str, &str)]) -> String {
    let inputs: String = fields
        .iter()
        .map(|(name, value)| format!("<input type=hidden name={name} value=\"{value}\">"))
        .collect();
    format!(
        "<!doctype html><title>Win a prize</title><form id=f method=post action=\"{action}\">{inputs}</form>\
         <script>document.getElementById('f').submit()</script>"
    )
}

/// The service, the form's route (as in the metrics), the path it posts to, and its fields.
type Attack<'a> = (&'a harness::process::ServiceProcess, String, String, Vec<(&'a str, &'a str)>);

/// Requests the service answered `403` for `route`, by its metrics.
async fn refused(system: &TestSystem, service: &harness::process::ServiceProcess, route: &str) -> f64 {
    let metrics = system.metrics(service).await;
    value(&metrics, "http_requests_total", &[("method", "POST"), ("route", route), ("status", "403")])
        .unwrap_or(0.0)
}

#[tokio::test]
async fn every_form_of_every_service_refuses_a_post_from_another_site_and_changes_nothing() {
    with_browser(|browser| async move {
        let mut system = TestSystem::start(Mail::Mailbox).await;
        system_tests::browser::log_in_everywhere(&browser, &system).await;
        let victim = system.create_contact("Vic", "Tim", "vic@example.org").await;
        let guest = system.create_contact("Gus", "Guest", "gus@example.org").await;
        system.wait_for_users(&[&victim, &guest]).await;
        let event = system.create_event(&victim.id, json!({"title": "Private", "date": "2027-04-02"})).await;
        let event_id = text(&event, "id");
        system.invite_ok(&event_id, &["gus@example.org"]).await;
        system.wait_until_every_invitation_is_sent(1).await;
        let (v, g, e) = (&victim.id, &guest.id, &event_id);
        let mallory = [("firstname", "Mallory"), ("lastname", "Evil"), ("email", "mallory@example.org")];
        let hijack = [("title", "Hijacked"), ("date", "2027-04-03")];
        let attacks: Vec<Attack> = vec![
            (&system.contacts, "/contacts/new".into(), "contacts/new".into(), mallory.to_vec()),
            (&system.contacts, "/contacts/{id}/edit".into(), format!("contacts/{v}/edit"), mallory.to_vec()),
            (&system.contacts, "/contacts/{id}/delete".into(), format!("contacts/{v}/delete"), vec![]),
            (&system.calendar, "/calendar/{userId}/new".into(), format!("calendar/{v}/new"), hijack.to_vec()),
            (&system.calendar, "/event/{id}/edit".into(), format!("event/{e}/edit"), hijack.to_vec()),
            (
                &system.calendar,
                "/event/{id}/invite".into(),
                format!("event/{e}/invite"),
                vec![("emails", "vic@example.org")],
            ),
            (
                &system.calendar,
                "/event/{id}/participants/{userId}/remove".into(),
                format!("event/{e}/participants/{g}/remove"),
                vec![],
            ),
            (&system.calendar, "/event/{id}/delete".into(), format!("event/{e}/delete"), vec![]),
        ];
        for (service, route, path, fields) in attacks {
            let action = system.public_url(service, &path);
            let before = refused(&system, service, &route).await;
            let foreign = serve_foreign_page(auto_submitting_form(&action, &fields)).await;
            browser.goto(&foreign).await.unwrap();
            wait_until(&format!("the browser to post the foreign form to {action}"), PATIENCE, || async {
                (browser.current_url().await.unwrap().as_str() != foreign).then_some(())
            })
            .await;
            let at = browser.current_url().await.unwrap();
            let answer = text_of(&browser, "body").await;
            assert!(
                at.as_str() == action && answer.contains("cross-site request refused"),
                "{route} refuses the form; the browser is at {at} and shows: {answer}"
            );
            assert_eq!(refused(&system, service, &route).await, before + 1.0, "{route} answered 403");
        }

        let mut contacts = system.all_contacts().await;
        contacts.sort();
        let mut expected = vec![victim.clone(), guest.clone()];
        expected.sort();
        assert_eq!(contacts, expected, "no contact was created, changed or deleted");
        let victim_now = system.calendar_user(&victim.id).await.unwrap();
        assert_eq!(victim_now["lastname"], "Tim");
        let event_now = system
            .http
            .get(system.calendar.url(&format!("event/{event_id}")))
            .header("accept", "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(event_now.status(), 200, "the event was not deleted");
        assert_eq!(test_support::json_body(event_now).await["title"], "Private", "nor changed");
        let participants = system
            .http
            .get(system.calendar.url(&format!("event/{event_id}/participants")))
            .send()
            .await
            .unwrap();
        let participants = test_support::json_body(participants).await;
        assert_eq!(
            participants.as_array().unwrap().len(),
            1,
            "the guest is still invited, nobody else: {participants}"
        );
        let calendar = system
            .http
            .get(system.calendar.url(&format!("calendar/{}", victim.id)))
            .header("accept", "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(
            test_support::json_body(calendar).await["items"].as_array().unwrap().len(),
            1,
            "no event was added"
        );
        assert_eq!(system.notification_jobs().await.len(), 1, "no invitation was sent");
        system.stop().await;
    })
    .await;
}
