use reqwest::StatusCode;
use serde_json::json;
use test_support::json_body;

use crate::helpers::{TestApp, spawn_app};

#[tokio::test]
async fn creating_a_contact_answers_201_with_an_absolute_location_and_a_self_link() {
    let app = spawn_app().await;
    let response = app
        .post_json("/contacts", &json!({"firstname": "Jane", "lastname": "Doe", "email": "jane@example.org"}))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let body = json_body(response).await;
    let id = body["id"].as_str().unwrap();
    assert_eq!(location, format!("{}contacts/{id}", app.public_url));
    assert_eq!(body["self"], location);
    assert_eq!(body["firstname"], "Jane");
    assert_eq!(body["lastname"], "Doe");
    assert_eq!(body["email"], "jane@example.org");
    assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 7, "new ids are UUIDv7");

    let fetched = json_body(app.get(&format!("/contacts/{id}")).await).await;
    assert_eq!(fetched, body);
}

#[tokio::test]
async fn names_are_trimmed_and_any_script_is_kept() {
    let app = spawn_app().await;
    let body = app.create("  Zoë ", " 山田 ", " jane@example.org ").await;
    assert_eq!(body["firstname"], "Zoë");
    assert_eq!(body["lastname"], "山田");
    assert_eq!(body["email"], "jane@example.org");
}

#[tokio::test]
async fn a_partial_update_changes_only_the_given_fields() {
    let app = spawn_app().await;
    let contact = app.create("Jane", "Doe", "jane@example.org").await;
    let path = TestApp::contact_path(&contact);

    let response = app.put_json(&path, &json!({"lastname": "Roe"})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let updated = json_body(response).await;
    assert_eq!(updated["firstname"], "Jane");
    assert_eq!(updated["lastname"], "Roe");
    assert_eq!(updated["email"], "jane@example.org");
    assert_eq!(json_body(app.get(&path).await).await, updated);

    let response = app.put_json(&path, &json!({})).await;
    assert_eq!(response.status(), StatusCode::OK, "an empty update changes nothing and is fine");
    assert_eq!(json_body(response).await, updated);
}

#[tokio::test]
async fn a_deleted_contact_is_gone() {
    let app = spawn_app().await;
    let contact = app.create("Jane", "Doe", "jane@example.org").await;
    let path = TestApp::contact_path(&contact);
    assert_eq!(app.delete(&path).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.get(&path).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.delete(&path).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.put_json(&path, &json!({"firstname": "x"})).await.status(), StatusCode::NOT_FOUND);
    // The address is free again.
    app.create("Jane", "Doe", "jane@example.org").await;
}

#[tokio::test]
async fn a_second_contact_with_the_same_email_in_any_case_is_a_conflict() {
    let app = spawn_app().await;
    app.create("Jane", "Doe", "jane@example.org").await;
    let response = app
        .post_json("/contacts", &json!({"firstname": "J", "lastname": "D", "email": "JANE@Example.org"}))
        .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let body = json_body(response).await;
    assert_eq!(body["error"], "conflict");
    assert_eq!(body["field"], "email");

    let other = app.create("John", "Roe", "john@example.org").await;
    let response = app.put_json(&TestApp::contact_path(&other), &json!({"email": "jane@example.org"})).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let unchanged = json_body(app.get(&TestApp::contact_path(&other)).await).await;
    assert_eq!(unchanged["email"], "john@example.org");

    // Changing the case of one's own address is not a conflict.
    let response = app.put_json(&TestApp::contact_path(&other), &json!({"email": "John@Example.org"})).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn look_alike_addresses_are_one_address_and_invisible_characters_are_refused() {
    let app = spawn_app().await;
    app.create("Zoë", "Doe", "zo\u{eb}@example.org").await;
    let jane = app.create("Jane", "Doe", "jane@example.org").await;
    for twin in
        ["zoe\u{308}@example.org", "\u{FF4A}\u{FF41}\u{FF4E}\u{FF45}@example.org", "jane@\u{FF45}xample.org"]
    {
        let response =
            app.post_json("/contacts", &json!({"firstname": "T", "lastname": "Win", "email": twin})).await;
        assert_eq!(response.status(), StatusCode::CONFLICT, "{twin:?}");
    }
    let decomposed = app.create("Zoë", "Roe", "zoe\u{308}.roe@example.org").await;
    assert_eq!(decomposed["email"], "zo\u{eb}.roe@example.org", "stored in NFC");
    for invisible in ["jane\u{200B}@example.org", "ja\u{2060}ne@example.org", "jane@exa\u{00AD}mple.org"] {
        let response = app
            .post_json("/contacts", &json!({"firstname": "T", "lastname": "Win", "email": invisible}))
            .await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{invisible:?}");
        assert_eq!(json_body(response).await["field"], "email");
    }
    let unchanged = json_body(app.get(&TestApp::contact_path(&jane)).await).await;
    assert_eq!(unchanged["email"], "jane@example.org");
}

#[tokio::test]
async fn the_list_is_in_name_order_and_pages_with_a_cursor() {
    let app = spawn_app().await;
    for (first, last) in
        [("Carl", "Young"), ("Anna", "Adams"), ("Bert", "adams"), ("Dora", "Miller"), ("Eve", "Brown")]
    {
        app.create(first, last, &format!("{}@example.org", first.to_lowercase())).await;
    }
    let mut names = Vec::new();
    let mut next = Some(app.url("/contacts?limit=2"));
    let mut pages = 0;
    while let Some(url) = next {
        let url = if url.starts_with(&app.public_url) { app.local(&url) } else { url };
        let page = json_body(app.http.get(&url).send().await.unwrap()).await;
        assert!(page["items"].as_array().unwrap().len() <= 2);
        for item in page["items"].as_array().unwrap() {
            names.push(format!(
                "{} {}",
                item["firstname"].as_str().unwrap(),
                item["lastname"].as_str().unwrap()
            ));
        }
        next = page["next"].as_str().map(str::to_owned);
        pages += 1;
    }
    assert_eq!(pages, 3);
    assert_eq!(names, ["Anna Adams", "Bert adams", "Eve Brown", "Dora Miller", "Carl Young"]);
}

#[tokio::test]
async fn search_matches_every_word_in_names_and_email_in_any_case() {
    let app = spawn_app().await;
    app.create("Jane", "Doe", "jane@example.org").await;
    app.create("John", "Doe", "jd@corp.example").await;
    app.create("Zoë", "Smith", "zoe@example.org").await;
    let names = |body: serde_json::Value| -> Vec<String> {
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["firstname"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(json_body(app.get("/contacts?q=doe").await).await), ["Jane", "John"]);
    assert_eq!(names(json_body(app.get("/contacts?q=DOE%20jane").await).await), ["Jane"]);
    assert_eq!(names(json_body(app.get("/contacts?q=corp.example").await).await), ["John"]);
    assert_eq!(names(json_body(app.get("/contacts?q=ZOË").await).await), ["Zoë"]);
    assert!(names(json_body(app.get("/contacts?q=%25").await).await).is_empty(), "% is literal");
    assert!(names(json_body(app.get("/contacts?q=_").await).await).is_empty(), "_ is literal");
    assert_eq!(names(json_body(app.get("/contacts?q=%20").await).await).len(), 3, "a blank search lists all");
}

#[tokio::test]
async fn search_ignores_accents_and_case_and_names_sort_as_people_read_them() {
    let app = spawn_app().await;
    app.create("Jürgen", "Ölmann", "j@example.org").await;
    app.create("Siobhán", "Ní Bhriain", "s@example.org").await;
    app.create("Pat", "Ray-Smith", "p@example.org").await;
    app.create("Ann", "Adams", "a@example.org").await;
    let lastnames = |body: serde_json::Value| -> Vec<String> {
        body["items"].as_array().unwrap().iter().map(|i| i["lastname"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(lastnames(json_body(app.get("/contacts?q=olmann").await).await), ["Ölmann"]);
    assert_eq!(lastnames(json_body(app.get("/contacts?q=JURGEN").await).await), ["Ölmann"]);
    assert_eq!(lastnames(json_body(app.get("/contacts?q=siobhan").await).await), ["Ní Bhriain"]);
    // A decomposed search (o + combining diaeresis) finds the composed name.
    assert_eq!(lastnames(json_body(app.get("/contacts?q=O%CC%88lmann").await).await), ["Ölmann"]);
    assert_eq!(
        lastnames(json_body(app.get("/contacts").await).await),
        ["Adams", "Ní Bhriain", "Ölmann", "Ray-Smith"],
        "Ö sorts with O, not after every ASCII letter"
    );
}

#[tokio::test]
async fn search_pages_keep_the_search() {
    let app = spawn_app().await;
    for i in 0..3 {
        app.create("Ann", &format!("Doe{i}"), &format!("ann{i}@example.org")).await;
    }
    app.create("Bob", "Other", "bob@example.org").await;
    let first = json_body(app.get("/contacts?q=ann&limit=2").await).await;
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let next = first["next"].as_str().unwrap();
    assert!(next.contains("q=ann") && next.contains("limit=2"), "{next}");
    let second = json_body(app.http.get(app.local(next)).send().await.unwrap()).await;
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert_eq!(second["items"][0]["lastname"], "Doe2");
    assert!(second["next"].is_null());
}

#[tokio::test]
async fn head_answers_wherever_get_does() {
    let app = spawn_app().await;
    let contact = app.create("Jane", "Doe", "jane@example.org").await;
    for path in ["/contacts".to_owned(), TestApp::contact_path(&contact), "/feed".into(), "/".into()] {
        let response = app.http.head(app.url(&path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "HEAD {path}");
        assert!(response.text().await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn undeclared_methods_answer_405_with_allow() {
    let app = spawn_app().await;
    let contact = app.create("Jane", "Doe", "jane@example.org").await;
    for (method, path) in [
        (reqwest::Method::PATCH, TestApp::contact_path(&contact)),
        (reqwest::Method::DELETE, "/contacts".into()),
        (reqwest::Method::POST, "/feed".into()),
    ] {
        let response = app.http.request(method.clone(), app.url(&path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert!(response.headers().contains_key("allow"));
        assert_eq!(json_body(response).await["error"], "method_not_allowed");
    }
}

#[tokio::test]
async fn the_openapi_document_describes_every_json_endpoint() {
    let app = spawn_app().await;
    let doc = json_body(app.get("/openapi.json").await).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = &doc["paths"];
    for (path, methods) in [
        ("/contacts", &["get", "post"][..]),
        ("/contacts/{id}", &["get", "put", "delete"][..]),
        ("/feed", &["get"][..]),
        ("/feed/archive/{page}", &["get"][..]),
    ] {
        for method in methods {
            assert!(paths[path][method].is_object(), "{method} {path} missing");
        }
    }
    let schemas = &doc["components"]["schemas"];
    assert_eq!(schemas["NewContactBody"]["additionalProperties"], false);
    assert_eq!(schemas["ContactPatch"]["additionalProperties"], false);
}
