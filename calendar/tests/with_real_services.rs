//! calendar against the real contacts and notifications services, each in-process on a free
//! port with its own fresh database: the feed contract and the notification contract as the
//! other services actually implement them.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use calendar::config::Settings;
use serde_json::{Value, json};
use test_support::{TestDb, http_client, json_body, wait_until};
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn calendar_follows_real_contacts_and_invites_through_real_notifications() {
    service_kit::telemetry::init_for_tests();
    let token = CancellationToken::new();
    let client = http_client();

    let contacts_db = TestDb::new().await;
    let contacts =
        contacts::startup::Application::build(contacts::config::Settings::for_tests(&contacts_db.url))
            .await
            .unwrap();
    let contacts_url = format!("http://127.0.0.1:{}", contacts.port());
    let contacts_task = tokio::spawn(contacts.run_until_stopped(token.clone()));

    let notifications_db = TestDb::new().await;
    let notifications = notifications::startup::Application::build(
        notifications::config::Settings::for_tests(&notifications_db.url),
    )
    .await
    .unwrap();
    let notifications_url = format!("http://127.0.0.1:{}", notifications.port());
    let notifications_task = tokio::spawn(notifications.run_until_stopped(token.clone()));

    let calendar_db = TestDb::new().await;
    let mut settings =
        Settings::for_tests(&calendar_db.url, url::Url::parse(&format!("{contacts_url}/feed")).unwrap());
    settings.notifications.service = Some(url::Url::parse(&format!("{notifications_url}/")).unwrap());
    settings.notifications.token = service_kit::config::Secret::new("test-token");
    let calendar = calendar::startup::Application::build(settings).await.unwrap();
    let calendar_url = format!("http://127.0.0.1:{}", calendar.port());
    let calendar_task = tokio::spawn(calendar.run_until_stopped(token.clone()));

    let create = |firstname: &'static str, email: &'static str| {
        let client = client.clone();
        let url = format!("{contacts_url}/contacts");
        async move {
            let response = client
                .post(url)
                .json(&json!({"firstname": firstname, "lastname": "Tester", "email": email}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 201);
            json_body(response).await["id"].as_str().unwrap().to_string()
        }
    };
    let user_in_calendar = |id: String| {
        let client = client.clone();
        let url = format!("{calendar_url}/users/{id}");
        async move {
            let response = client.get(url).header("accept", "application/json").send().await.unwrap();
            if response.status() == 200 { Some(json_body(response).await) } else { None }
        }
    };

    let ann = create("Ann", "ann@example.org").await;
    let bob = create("Bob", "bob@example.org").await;
    let seen: Value = wait_until("ann in calendar", WAIT, || user_in_calendar(ann.clone())).await;
    assert_eq!(seen["email"], "ann@example.org");
    wait_until("bob in calendar", WAIT, || user_in_calendar(bob.clone())).await;

    let changed = client
        .put(format!("{contacts_url}/contacts/{bob}"))
        .json(&json!({"lastname": "Renamed"}))
        .send()
        .await
        .unwrap();
    assert!(changed.status().is_success(), "{}", changed.status());
    wait_until("bob renamed in calendar", WAIT, || async {
        user_in_calendar(bob.clone()).await.filter(|u| u["lastname"] == "Renamed")
    })
    .await;

    let event = client
        .post(format!("{calendar_url}/calendar/{ann}"))
        .json(&json!({"title": "Kick-off", "day": 5, "month": 1, "year": 2027}))
        .send()
        .await
        .unwrap();
    assert_eq!(event.status(), 201);
    let event = json_body(event).await;
    let invited = client
        .post(format!("{}/participants", event["self"].as_str().unwrap().replace("localhost", "127.0.0.1")))
        .json(&json!(["bob@example.org"]))
        .send()
        .await
        .unwrap();
    assert_eq!(invited.status(), 200);
    let jobs = wait_until("the invitation at notifications", WAIT, || async {
        let response = client
            .get(format!("{notifications_url}/notifications"))
            .bearer_auth("test-token")
            .send()
            .await
            .unwrap();
        let body = json_body(response).await;
        body["items"].as_array().filter(|items| !items.is_empty()).cloned()
    })
    .await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["recipients"], json!(["bob@example.org"]));
    assert_eq!(jobs[0]["subject"], "Invitation: Kick-off");

    let deleted = client.delete(format!("{contacts_url}/contacts/{ann}")).send().await.unwrap();
    assert!(deleted.status().is_success(), "{}", deleted.status());
    wait_until("ann gone from calendar", WAIT, || async {
        user_in_calendar(ann.clone()).await.is_none().then_some(())
    })
    .await;

    token.cancel();
    for task in [calendar_task, contacts_task, notifications_task] {
        task.await.unwrap().unwrap();
    }
}

/// A measurement, not a test: `POST /contacts` at the real contacts to the user being visible
/// in calendar, median of 100. Run with
/// `cargo test -p calendar --test with_real_services -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "a measurement; prints figures"]
async fn measure_propagation_from_post_contacts_to_calendar() {
    let token = CancellationToken::new();
    let client = http_client();
    let contacts_db = TestDb::new().await;
    let contacts =
        contacts::startup::Application::build(contacts::config::Settings::for_tests(&contacts_db.url))
            .await
            .unwrap();
    let contacts_url = format!("http://127.0.0.1:{}", contacts.port());
    let contacts_task = tokio::spawn(contacts.run_until_stopped(token.clone()));
    let calendar_db = TestDb::new().await;
    let settings =
        Settings::for_tests(&calendar_db.url, url::Url::parse(&format!("{contacts_url}/feed")).unwrap());
    let calendar = calendar::startup::Application::build(settings).await.unwrap();
    let calendar_url = format!("http://127.0.0.1:{}", calendar.port());
    let calendar_task = tokio::spawn(calendar.run_until_stopped(token.clone()));

    let mut delays = Vec::new();
    for i in 0..101 {
        let started = std::time::Instant::now();
        let response = client
            .post(format!("{contacts_url}/contacts"))
            .json(&json!({"firstname": "M", "lastname": "M", "email": format!("m{i}@example.org")}))
            .send()
            .await
            .unwrap();
        let id = json_body(response).await["id"].as_str().unwrap().to_string();
        loop {
            let response = client
                .get(format!("{calendar_url}/users/{id}"))
                .header("accept", "application/json")
                .send()
                .await
                .unwrap();
            if response.status() == 200 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
            assert!(started.elapsed() < WAIT, "contact {i} never arrived");
        }
        // The first one also waits for the follower's first poll; it is not counted.
        if i > 0 {
            delays.push(started.elapsed());
        }
    }
    delays.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    eprintln!(
        "POST /contacts to visible in calendar over {} contacts: median {:.1} ms, p90 {:.1} ms, max {:.1} ms",
        delays.len(),
        ms(delays[delays.len() / 2]),
        ms(delays[delays.len() * 9 / 10]),
        ms(delays[delays.len() - 1])
    );
    token.cancel();
    calendar_task.await.unwrap().unwrap();
    contacts_task.await.unwrap().unwrap();
}
