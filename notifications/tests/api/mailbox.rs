use crate::helpers::{TestApp, id_of, notification};

#[tokio::test]
async fn in_mailbox_mode_the_rendered_message_is_stored_and_readable_in_the_browser() {
    let app = TestApp::spawn().await;
    let job = app
        .queue(&notification(
            "ada@example.org",
            "<script>alert('subject')</script> & Grüße",
            "Hello <b>Ada</b>,\n<img src=x onerror=alert(1)>",
        ))
        .await;
    let id = id_of(&job);
    let sent = app.wait_for_status(&id, "sent").await;
    assert_eq!(sent["attempts"], 1);

    let page = app.page(&format!("/notifications/{id}")).await;
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert_eq!(page.headers()["cache-control"], "no-store");
    let html = page.text().await.unwrap();
    assert!(!html.contains("<script>alert"), "user data is escaped");
    assert!(!html.contains("<img src=x"), "user data is escaped");
    assert!(html.contains("&lt;script&gt;alert('subject')&lt;/script&gt; &amp; Grüße"), "{html}");
    assert!(html.contains("Hello &lt;b&gt;Ada&lt;/b&gt;,\n&lt;img src=x onerror=alert(1)&gt;"), "{html}");
    // The stored message, exactly as it would be sent.
    assert!(html.contains("Stored message"), "{html}");
    assert!(html.contains(&format!("Message-ID: &lt;{id}@localhost&gt;")), "{html}");
    assert!(html.contains("From: Notifications &lt;notifications@localhost&gt;"), "{html}");
    assert!(html.contains("To: ada@example.org"), "{html}");
    assert!(
        html.contains("Subject: &lt;script&gt;alert('subject')&lt;/script&gt; &amp; =?utf-8?b?"),
        "{html}"
    );
    assert!(html.contains("MIME-Version: 1.0"), "{html}");

    let mailbox = app.page("/mailbox").await;
    assert_eq!(mailbox.status(), 200);
    let html = mailbox.text().await.unwrap();
    assert!(html.contains(&format!("href=\"/notifications/{id}\"")), "{html}");
    assert!(html.contains("&lt;script&gt;"), "{html}");
}

#[tokio::test]
async fn an_empty_mailbox_says_so() {
    let app = TestApp::spawn().await;
    let html = app.page("/mailbox").await.text().await.unwrap();
    assert!(html.contains("No messages stored."), "{html}");
    assert!(html.contains("Mailbox mode"), "{html}");
}
