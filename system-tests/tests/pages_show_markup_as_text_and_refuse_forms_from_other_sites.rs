//! The pages' defences, checked in a real browser: user data that looks like markup is shown as
//! text and never runs, and a form that another site posts to the services is refused.

#![allow(clippy::unwrap_used)]

use axum::response::Html;
use fantoccini::{Client, Locator};
use serde_json::json;
use system_tests::api::text;
use system_tests::browser::{fill, open_until_shown, submit, text_of, with_browser};
use system_tests::prometheus::value;
use system_tests::{Mail, PATIENCE, TestSystem};
use test_support::wait_until;

const MARKUP_NAME: &str = "<img src=x onerror=alert(1)>";
const MARKUP_TITLE: &str = "<script>alert(2)</script>";

/// The page shows `expected` as text, created no `img` or `script` element, and opened no alert.
async fn shows_markup_as_text(browser: &Client, page: &str, expected: &str) {
    let body = text_of(browser, "body").await;
    assert!(body.contains(expected), "{page} shows {expected:?} as text: {body}");
    for tag in ["img", "script"] {
        let found = browser.find_all(Locator::Css(tag)).await.unwrap();
        assert!(found.is_empty(), "{page} has no {tag} element");
    }
    assert!(browser.get_alert_text().await.is_err(), "{page} opened no alert");
}

#[tokio::test]
async fn a_contact_named_like_markup_shows_as_text_and_runs_nothing_on_any_page() {
    with_browser(|browser| async move {
        let mut system = TestSystem::start(Mail::Mailbox).await;
        let host = system.create_contact("Hal", "Host", "hal@example.org").await;

        browser.goto(&system.public_url(&system.contacts, "contacts/new")).await.unwrap();
        let form = "form[action='/contacts/new']";
        fill(&browser, form, "firstname", MARKUP_NAME).await;
        fill(&browser, form, "lastname", "Markup").await;
        fill(&browser, form, "email", "markup@example.org").await;
        submit(&browser, form).await;
        shows_markup_as_text(&browser, "the contact's page", &format!("{MARKUP_NAME} Markup")).await;
        let id = browser.current_url().await.unwrap().path().trim_start_matches("/contacts/").to_string();

        browser.goto(&system.public_url(&system.contacts, "")).await.unwrap();
        shows_markup_as_text(&browser, "the contacts list", &format!("Markup, {MARKUP_NAME}")).await;
        browser.goto(&system.public_url(&system.contacts, &format!("contacts/{id}/edit"))).await.unwrap();
        let field = browser.find(Locator::Css("input[name=firstname]")).await.unwrap();
        assert_eq!(
            field.prop("value").await.unwrap().as_deref(),
            Some(MARKUP_NAME),
            "the edit form keeps the text"
        );

        let users = system.public_url(&system.calendar, "users");
        open_until_shown(&browser, &users, MARKUP_NAME).await;
        shows_markup_as_text(&browser, "calendar's users", &format!("{MARKUP_NAME} Markup")).await;
        browser.goto(&system.public_url(&system.calendar, &format!("calendar/{id}"))).await.unwrap();
        shows_markup_as_text(&browser, "the calendar page", &format!("{MARKUP_NAME} Markup’s calendar"))
            .await;

        let event = system.create_event(&host.id, json!({"title": MARKUP_TITLE, "date": "2027-04-01"})).await;
        system.invite_ok(&text(&event, "id"), &["markup@example.org"]).await;
        browser
            .goto(&system.public_url(&system.calendar, &format!("event/{}", text(&event, "id"))))
            .await
            .unwrap();
        shows_markup_as_text(&browser, "the event page", MARKUP_TITLE).await;
        shows_markup_as_text(&browser, "the event page", &format!("{MARKUP_NAME} Markup")).await;

        let mailbox = system.public_url(&system.notifications, "mailbox").replacen(
            "http://",
            &format!("http://{}:{}@", system.admin_user, system.admin_password),
            1,
        );
        open_until_shown(&browser, &mailbox, &format!("Invitation: {MARKUP_TITLE}")).await;
        shows_markup_as_text(&browser, "the mailbox", &format!("Invitation: {MARKUP_TITLE}")).await;
        system.stop().await;
    })
    .await;
}

/// Serves `page` at `/` on a free port of 127.0.0.1 (a site other than `localhost`); returns the
/// page's URL.
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

async fn refused_requests(
    system: &TestSystem,
    service: &harness::process::ServiceProcess,
    route: &str,
) -> f64 {
    let metrics = system.metrics(service).await;
    value(&metrics, "http_requests_total", &[("method", "POST"), ("route", route), ("status", "403")])
        .unwrap_or(0.0)
}

#[tokio::test]
async fn a_form_posted_from_another_site_is_refused_with_403_and_changes_nothing() {
    with_browser(|browser| async move {
        let mut system = TestSystem::start(Mail::Mailbox).await;
        let victim = system.create_contact("Vic", "Tim", "vic@example.org").await;
        system.wait_for_users(&[&victim]).await;
        let event = system.create_event(&victim.id, json!({"title": "Private", "date": "2027-04-02"})).await;
        let event_id = text(&event, "id");

        let attacks = [
            (
                "contacts",
                "/contacts/new",
                system.public_url(&system.contacts, "contacts/new"),
                vec![("firstname", "Mallory"), ("lastname", "Evil"), ("email", "mallory@example.org")],
            ),
            (
                "calendar",
                "/event/{id}/participants",
                system.public_url(&system.calendar, &format!("event/{event_id}/participants")),
                vec![("emails", "vic@example.org")],
            ),
        ];
        for (name, route, action, fields) in attacks {
            let service = if name == "contacts" { &system.contacts } else { &system.calendar };
            let foreign = serve_foreign_page(auto_submitting_form(&action, &fields)).await;
            browser.goto(&foreign).await.unwrap();
            wait_until(&format!("the browser to post the foreign form to {name}"), PATIENCE, || async {
                (browser.current_url().await.unwrap().as_str() == action).then_some(())
            })
            .await;
            let answer = text_of(&browser, "body").await;
            assert!(answer.contains("cross-site request refused"), "{name} refuses the form: {answer}");
            assert_eq!(refused_requests(&system, service, route).await, 1.0, "{name} answered 403");
        }

        assert_eq!(system.all_contacts().await, vec![victim.clone()], "no contact was created");
        let participants = system
            .http
            .get(system.calendar.url(&format!("event/{event_id}/participants")))
            .send()
            .await
            .unwrap();
        assert_eq!(test_support::json_body(participants).await, json!([]), "nobody was invited");
        assert!(system.notification_jobs().await.is_empty(), "no invitation was sent");
        system.stop().await;
    })
    .await;
}
