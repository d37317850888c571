use crate::helpers::{ADMIN_PASSWORD, ADMIN_USER, TestApp, basic, id_of, notification};

#[tokio::test]
async fn the_pages_refuse_access_without_the_operator_credentials() {
    let app = TestApp::spawn().await;
    let id = id_of(&app.queue(&notification("ada@example.org", "Private", "Personal data")).await);
    let paths = ["/notifications".to_string(), format!("/notifications/{id}"), "/mailbox".to_string()];
    // HTTP Basic is no longer a way in: a browser without a session is sent to the login page.
    let wrong = [None, Some(basic(ADMIN_USER, ADMIN_PASSWORD)), Some(basic(ADMIN_USER, "wrong"))];
    for path in &paths {
        for authorization in &wrong {
            let mut request = app.http.get(app.url(path)).header("Accept", "text/html");
            if let Some(value) = authorization {
                request = request.header("Authorization", value);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 303, "{path} with {authorization:?}");
            let location = response.headers()["location"].to_str().unwrap().to_string();
            assert!(location.contains("/login?next="), "{location}");
            let text = response.text().await.unwrap();
            assert!(!text.contains("Personal data") && !text.contains("ada@example.org"));
        }
        let response = app
            .http
            .get(app.url(path))
            .header("Accept", "text/html")
            .bearer_auth("wrong")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{path}: a wrong token is refused, not redirected");
        let response = app.page(path).await;
        assert_eq!(response.status(), 200, "{path}");
    }
}

#[tokio::test]
async fn the_front_page_leads_to_the_job_list() {
    let app = TestApp::spawn().await;
    let response = app.http.get(app.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/notifications");
}

#[tokio::test]
async fn the_job_list_page_shows_status_and_filters_without_javascript() {
    let app = TestApp::spawn_with(|s| s.run_worker = false).await;
    app.queue(&notification("ada@example.org", "First <one>", "m")).await;
    app.delivery.step().await.unwrap();
    app.queue(&notification("bob@example.org", "Second", "m")).await;

    let html = app.page("/notifications").await.text().await.unwrap();
    assert!(html.contains("First &lt;one&gt;") && html.contains("Second"), "{html}");
    assert!(html.contains("badge sent") && html.contains("badge queued"), "{html}");
    assert!(html.contains("<form class=\"inline\" method=\"get\" action=\"/notifications\">"), "{html}");
    assert!(!html.contains("<script"), "no scripts");

    let html = app.page("/notifications?status=queued").await.text().await.unwrap();
    assert!(html.contains("Second") && !html.contains("First &lt;one&gt;"), "{html}");
    assert!(html.contains("<option value=\"queued\" selected>"), "{html}");
}

#[tokio::test]
async fn an_unknown_job_page_is_404() {
    let app = TestApp::spawn().await;
    let response = app.page("/notifications/01890000-0000-7000-8000-000000000000").await;
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn the_pages_name_the_smtp_server_with_its_port_and_no_credentials() {
    let server = test_support::smtp::SmtpServer::start().await;
    let app = TestApp::spawn_with(|s| {
        let url = server.url().replacen("smtp://", "smtp://mailer:s3cret@", 1);
        s.delivery.delivery =
            notifications::config::Delivery::Smtp { url: service_kit::config::Secret::new(url) };
    })
    .await;
    let html = app.page("/notifications").await.text().await.unwrap();
    let expected = format!("Sending through the SMTP server at 127.0.0.1:{}.", server.port());
    assert!(html.contains(&expected), "{expected} in {html}");
    assert!(!html.contains("s3cret") && !html.contains("mailer"), "{html}");
}
