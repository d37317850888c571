//! The system used the way a person uses it, in a real browser: contacts' pages to create, find
//! and edit a contact; calendar's pages to see the user, add an event and invite someone;
//! from a contact to their calendar, from the event's invitation to its job at notifications and
//! back, from a participant to their contact; notifications' mailbox page
//! (mailbox mode) to read the invitation. Every main page is saved
//! as a screenshot under `target/artifacts/screenshots/`.

#![allow(clippy::unwrap_used)]

use fantoccini::Locator;
use system_tests::browser::{
    click_and_wait, fill, follow_link, open_until_found, open_until_shown, screenshot, submit, text_of,
    with_browser,
};
use system_tests::{Mail, TestSystem};

#[tokio::test]
async fn a_contact_made_in_the_browser_gets_an_event_whose_invitation_is_readable_in_the_mailbox() {
    with_browser(|browser| async move {
        let mut system = TestSystem::start(Mail::Mailbox).await;
        system_tests::browser::log_in_everywhere(&browser, &system).await;
        let decoy = system.create_contact("Zed", "Decoy", "zed@example.org").await;
        let guest = system.create_contact("Gina", "Guest", "gina@example.org").await;

        // contacts: create through the form.
        browser.goto(&system.public_url(&system.contacts, "contacts/new")).await.unwrap();
        let form = "form[action='/contacts/new']";
        fill(&browser, form, "firstname", "Hanna").await;
        fill(&browser, form, "lastname", "Host").await;
        fill(&browser, form, "email", "hanna@example.org").await;
        submit(&browser, form).await;
        assert_eq!(text_of(&browser, "h1").await, "Hanna Host", "the new contact's page");
        let contact_url = browser.current_url().await.unwrap();
        let id = contact_url.path().trim_start_matches("/contacts/").to_string();
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "redirected to the contact's page: {contact_url}");

        // contacts: find it by search.
        browser.goto(&system.public_url(&system.contacts, "")).await.unwrap();
        fill(&browser, "form[role=search]", "q", "host").await;
        submit(&browser, "form[role=search]").await;
        let results = text_of(&browser, "table").await;
        assert!(results.contains("Host, Hanna") && results.contains("hanna@example.org"), "{results}");
        assert!(!results.contains(&decoy.email), "the search shows only matches: {results}");
        screenshot(&browser, "contacts-list").await;

        // contacts: edit it.
        follow_link(&browser, "Host, Hanna").await;
        follow_link(&browser, "Edit").await;
        let form = format!("form[action='/contacts/{id}/edit']");
        fill(&browser, &form, "lastname", "Hostess").await;
        fill(&browser, &form, "email", "hanna.hostess@example.org").await;
        submit(&browser, &form).await;
        assert_eq!(text_of(&browser, "h1").await, "Hanna Hostess");
        assert!(text_of(&browser, "dl.fields").await.contains("hanna.hostess@example.org"));
        screenshot(&browser, "contact-page").await;

        // contacts -> calendar: the contact page links to their calendar at calendar, which
        // shows it once it has them from the feed.
        let to_calendar = browser
            .find(Locator::Css(&format!("a[href$='/calendar/{id}']")))
            .await
            .unwrap_or_else(|e| panic!("the contact page links to their calendar: {e}"));
        click_and_wait(&browser, &to_calendar).await;
        let calendar_url = browser.current_url().await.unwrap();
        assert_eq!(
            calendar_url.port(),
            Some(system.calendar.port),
            "the link leads to calendar: {calendar_url}"
        );
        open_until_shown(&browser, calendar_url.as_str(), "Hanna Hostess’s calendar").await;

        // calendar: the user appears with the changed name, and the guest too.
        open_until_shown(&browser, &system.public_url(&system.calendar, "users"), "Hanna Hostess").await;
        open_until_shown(&browser, &system.public_url(&system.calendar, "users"), &guest.email).await;
        let users = text_of(&browser, "table").await;
        assert!(users.contains("hanna.hostess@example.org"), "{users}");
        screenshot(&browser, "calendar-users").await;

        // calendar: add an event through the month page's form.
        let calendar_link = browser.find(Locator::Css(&format!("a[href='/calendar/{id}']"))).await.unwrap();
        click_and_wait(&browser, &calendar_link).await;
        assert_eq!(text_of(&browser, "h1").await, "Hanna Hostess’s calendar");
        let form = format!("form[action='/calendar/{id}/new']");
        fill(&browser, &form, "title", "Garden party").await;
        fill(&browser, &form, "location", "The garden").await;
        submit(&browser, &form).await;
        assert_eq!(text_of(&browser, "h1").await, "Garden party", "the new event's page");
        let event_url = browser.current_url().await.unwrap();
        let event_id = event_url.path().trim_start_matches("/event/").to_string();
        follow_link(&browser, "Hanna Hostess").await;
        let month = text_of(&browser, "table.month").await;
        assert!(month.contains("Garden party"), "the month shows the event: {month}");
        screenshot(&browser, "calendar-month").await;

        // calendar: invite the guest from the event page.
        browser.goto(event_url.as_str()).await.unwrap();
        let form = format!("form[action='/event/{event_id}/invite']");
        fill(&browser, &form, "emails", &guest.email).await;
        submit(&browser, &form).await;
        let participants = text_of(&browser, "table").await;
        assert!(participants.contains("Gina Guest") && participants.contains(&guest.email), "{participants}");
        open_until_found(&browser, event_url.as_str(), "span.badge.sent").await;
        screenshot(&browser, "event-page").await;

        // calendar -> notifications and back: the invitation links to its job, whose message
        // links to the event.
        follow_link(&browser, "the job").await;
        let job = text_of(&browser, "body").await;
        assert!(
            job.contains("Invitation: Garden party") && job.contains(&guest.email),
            "the job's page: {job}"
        );
        let back = browser
            .find(Locator::Css(&format!("a[href='{}']", event_url.as_str())))
            .await
            .unwrap_or_else(|e| panic!("the job's page links to {event_url}: {e}"));
        click_and_wait(&browser, &back).await;
        assert_eq!(text_of(&browser, "h1").await, "Garden party", "back on the event's page");

        // calendar -> contacts: the participant links to their contact.
        follow_link(&browser, "in contacts").await;
        assert_eq!(text_of(&browser, "h1").await, "Gina Guest", "the participant's contact page");
        let contact_url = browser.current_url().await.unwrap();
        assert_eq!(contact_url.port(), Some(system.contacts.port), "at contacts: {contact_url}");

        // notifications: the operator (logged in above) reads the invitation in the mailbox.
        let mailbox = system.public_url(&system.notifications, "mailbox");
        open_until_shown(&browser, &mailbox, "Invitation: Garden party").await;
        let rows = text_of(&browser, "table").await;
        assert!(rows.contains(&guest.email), "the mailbox shows the recipient: {rows}");
        screenshot(&browser, "notifications-mailbox").await;
        let job_link = browser.find(Locator::Css("table a[href^='/notifications/']")).await.unwrap();
        click_and_wait(&browser, &job_link).await;
        let message = text_of(&browser, "body").await;
        assert!(message.contains("Hanna Hostess invites you to \"Garden party\""), "{message}");
        assert!(
            message.contains(&format!("Details: {}", event_url.as_str())),
            "the stored e-mail links to the event page: {message}"
        );
        screenshot(&browser, "notifications-message").await;
        system.stop().await;
    })
    .await;
}
