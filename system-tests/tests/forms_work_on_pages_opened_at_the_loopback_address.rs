//! The services announce themselves as `http://localhost:PORT/` (the default `PUBLIC_URL`),
//! but people also open them as `http://127.0.0.1:PORT/`. Forms must work either way.

#![allow(clippy::unwrap_used)]

use system_tests::browser::{fill, submit, text_of, with_browser};
use system_tests::{Mail, TestSystem};

#[tokio::test]
async fn a_contact_can_be_created_from_the_form_of_a_page_opened_at_127_0_0_1() {
    with_browser(|browser| async move {
        let mut system = TestSystem::start(Mail::Mailbox).await;
        system_tests::browser::log_in_everywhere(&browser, &system).await;
        browser.goto(&system.contacts.url("contacts/new")).await.unwrap();
        let form = "form[action='/contacts/new']";
        fill(&browser, form, "firstname", "Lou").await;
        fill(&browser, form, "lastname", "Loopback").await;
        fill(&browser, form, "email", "lou@example.org").await;
        submit(&browser, form).await;
        assert_eq!(text_of(&browser, "h1").await, "Lou Loopback", "the new contact's page");
        system.stop().await;
    })
    .await;
}

#[tokio::test]
async fn an_event_can_be_added_from_the_form_of_a_calendar_page_opened_at_127_0_0_1() {
    with_browser(|browser| async move {
        let mut system = TestSystem::start(Mail::Mailbox).await;
        system_tests::browser::log_in_everywhere(&browser, &system).await;
        let owner = system.create_contact("Lou", "Loopback", "lou@example.org").await;
        system.wait_for_users(&[&owner]).await;
        browser.goto(&system.calendar.url(&format!("calendar/{}", owner.id))).await.unwrap();
        let form = format!("form[action='/calendar/{}/new']", owner.id);
        fill(&browser, &form, "title", "Loop party").await;
        submit(&browser, &form).await;
        assert_eq!(text_of(&browser, "h1").await, "Loop party", "the new event's page");
        system.stop().await;
    })
    .await;
}
