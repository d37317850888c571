use reqwest::StatusCode;

use crate::helpers::{TestApp, spawn_app};

const BROWSER: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

async fn html(app: &TestApp, path: &str) -> (StatusCode, String) {
    let response = app.get_with(path, &[("accept", BROWSER)]).await;
    let status = response.status();
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/html"), "{path}");
    (status, response.text().await.unwrap())
}

#[tokio::test]
async fn the_home_page_lists_contacts_with_a_search_box_and_a_feed_link() {
    let app = spawn_app().await;
    app.create("Jane", "Doe", "jane@example.org").await;
    app.create("John", "Roe", "john@example.org").await;
    let (status, page) = html(&app, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Doe, Jane") && page.contains("Roe, John"));
    assert!(page.contains(r#"type="search""#) && page.contains(r#"name="q""#));
    assert!(page.contains(r#"href="/feed""#));
    assert!(page.contains(r#"href="/contacts/new""#));

    let (_, header) = html(&app, "/").await;
    assert!(header.contains(r#"<a href="http://localhost:3002/">calendar</a>"#), "{header}");
    assert!(header.contains(r#"<a href="http://localhost:3003/">notifications</a>"#), "{header}");
    let jane = app.create("Jane", "Ölmann", "jane.o@example.org").await;
    let id = jane["id"].as_str().unwrap();
    let (_, contact) = html(&app, &format!("/contacts/{id}")).await;
    assert!(
        contact.contains(&format!(r#"href="http://localhost:3002/calendar/{id}""#)),
        "contact -> calendar: {contact}"
    );
    assert!(!contact.contains(&format!("<dd class=\"muted\">{id}")), "no raw id on the page");

    let (_, found) = html(&app, "/?q=roe").await;
    assert!(found.contains("Roe, John") && !found.contains("Doe, Jane"));
    assert!(found.contains(r#"value="roe""#), "the search box keeps the search");
}

#[tokio::test]
async fn the_home_page_pages_through_many_contacts() {
    let app = spawn_app().await;
    for i in 0..3 {
        app.create("Ann", &format!("Doe{i}"), &format!("ann{i}@example.org")).await;
    }
    let (_, page) = html(&app, "/?limit=2").await;
    assert!(page.contains("Doe0") && page.contains("Doe1") && !page.contains("Doe2"));
    let start =
        page.find(r#"rel="next""#).map(|i| page[..i].rfind("href=\"").unwrap() + 6).expect("a next link");
    let href = page[start..].split('"').next().unwrap().replace("&amp;", "&");
    let (_, second) = html(&app, &href).await;
    assert!(second.contains("Doe2") && !second.contains("Doe0"));
}

#[tokio::test]
async fn a_script_as_a_first_name_shows_as_text() {
    let app = spawn_app().await;
    let contact = app.create("<script>alert(1)</script>", "Doe", "x@example.org").await;
    for path in
        ["/".to_owned(), TestApp::contact_path(&contact), format!("{}/edit", TestApp::contact_path(&contact))]
    {
        let (_, page) = html(&app, &path).await;
        assert!(!page.contains("<script>alert(1)</script>"), "{path} runs the script");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{path} does not show the name");
    }
}

#[tokio::test]
async fn the_mail_link_names_only_the_contact_and_never_adds_headers() {
    let app = spawn_app().await;
    let contact = app.create("Mallory", "Doe", "x?cc=victim%40evil.example&body=hi@example.org").await;
    let (_, page) = html(&app, &TestApp::contact_path(&contact)).await;
    assert!(
        page.contains(r#"href="mailto:x%3Fcc%3Dvictim%2540evil.example%26body%3Dhi@example.org""#),
        "{page}"
    );
    assert!(!page.contains("mailto:x?"), "a raw ? would start the link's header fields: {page}");
}

#[tokio::test]
async fn browsers_get_pages_and_api_clients_get_json() {
    let app = spawn_app().await;
    let contact = app.create("Jane", "Doe", "jane@example.org").await;
    let path = TestApp::contact_path(&contact);
    for target in ["/contacts", path.as_str()] {
        let (status, page) = html(&app, target).await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("Jane"));
        for accept in [None, Some("application/json"), Some("*/*")] {
            let headers: Vec<(&'static str, &str)> = accept.map(|a| ("accept", a)).into_iter().collect();
            let response = app.get_with(target, &headers).await;
            assert_eq!(response.headers()["content-type"], "application/json", "{target} {accept:?}");
            assert_eq!(response.headers()["vary"], "accept");
        }
    }
}

#[tokio::test]
async fn creating_through_the_form_redirects_to_the_new_contact() {
    let app = spawn_app().await;
    let (status, form) = html(&app, "/contacts/new").await;
    assert_eq!(status, StatusCode::OK);
    assert!(form.contains(r#"method="post""#) && form.contains(r#"action="/contacts/new""#));

    let response = app
        .post_form(
            "/contacts/new",
            &[("firstname", " Jane "), ("lastname", "Doe"), ("email", "jane@example.org")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(&format!("{}contacts/", app.public_url)), "{location}");
    let contact = test_support::json_body(app.http.get(app.local(&location)).send().await.unwrap()).await;
    assert_eq!(contact["firstname"], "Jane");
}

#[tokio::test]
async fn form_errors_show_next_to_their_fields_and_keep_the_input() {
    let app = spawn_app().await;
    let response = app
        .post_form(
            "/contacts/new",
            &[("firstname", "  "), ("lastname", "O'Brien <b>"), ("email", "not-an-email")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = response.text().await.unwrap();
    assert!(page.contains(r#"id="firstname-error""#) && page.contains("must not be empty"), "{page}");
    assert!(page.contains(r#"id="email-error""#) && page.contains("must be an email address"));
    assert!(!page.contains(r#"id="lastname-error""#));
    assert!(page.contains(r#"value="O'Brien &lt;b&gt;""#), "the typed last name is kept: {page}");
    assert!(page.contains(r#"value="not-an-email""#));
    assert_eq!(app.store.read_head().await.unwrap().sequence, 0, "nothing was written");

    app.create("Jane", "Doe", "jane@example.org").await;
    let response = app
        .post_form("/contacts/new", &[("firstname", "J"), ("lastname", "D"), ("email", "Jane@example.org")])
        .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert!(response.text().await.unwrap().contains("already used by another contact"));
}

#[tokio::test]
async fn editing_and_deleting_work_through_forms() {
    let app = spawn_app().await;
    let contact = app.create("Jane", "Doe", "jane@example.org").await;
    let path = TestApp::contact_path(&contact);

    let (status, form) = html(&app, &format!("{path}/edit")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(form.contains(r#"value="Jane""#) && form.contains(r#"value="jane@example.org""#));

    let bad = app
        .post_form(
            &format!("{path}/edit"),
            &[("firstname", "Jane"), ("lastname", ""), ("email", "jane@example.org")],
        )
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text().await.unwrap().contains(r#"id="lastname-error""#));

    let response = app
        .post_form(
            &format!("{path}/edit"),
            &[("firstname", "Jane"), ("lastname", "Roe"), ("email", "jane@example.org")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"].to_str().unwrap(), contact["self"].as_str().unwrap());
    let (_, page) = html(&app, &path).await;
    assert!(page.contains("Roe"));

    let (_, confirm) = html(&app, &format!("{path}/delete")).await;
    assert!(confirm.contains(&format!(r#"action="{path}/delete""#)));
    let response = app.post_form(&format!("{path}/delete"), &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"].to_str().unwrap(), app.public_url);
    assert_eq!(app.get(&path).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_missing_contact_is_a_404_page() {
    let app = spawn_app().await;
    for path in ["/contacts/01900000-0000-7000-8000-000000000000", "/contacts/nope", "/contacts/nope/edit"] {
        let (status, page) = html(&app, path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(page.contains("Not found"));
    }
}

#[tokio::test]
async fn cross_site_form_posts_are_refused() {
    let app = spawn_app().await;
    let response = app
        .http
        .post(app.url("/contacts/new"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", "http://evil.example")
        .body("firstname=Eve&lastname=Evil&email=eve%40example.org")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.store.read_head().await.unwrap().sequence, 0);
}
