//! The services' HTTP APIs as a user with curl would call them, with the checks every test
//! repeats (status codes, JSON bodies, paging).

use harness::process::ServiceProcess;
use reqwest::StatusCode;
use serde_json::{Value, json};
use test_support::{json_body, wait_until};

use crate::{PATIENCE, TestSystem};

/// A contact as contacts answered it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Contact {
    pub id: String,
    pub email: String,
}

/// contacts' JSON API. Borrows only the client and the contacts process, so a test can create
/// contacts while it restarts another service.
#[derive(Debug, Clone, Copy)]
pub struct ContactsApi<'a> {
    pub http: &'a reqwest::Client,
    pub contacts: &'a ServiceProcess,
}

impl ContactsApi<'_> {
    /// `POST /contacts`; expects `201`.
    pub async fn create(&self, firstname: &str, lastname: &str, email: &str) -> Contact {
        let response = self
            .http
            .post(self.contacts.url("contacts"))
            .json(&json!({"firstname": firstname, "lastname": lastname, "email": email}))
            .send()
            .await
            .expect("POST /contacts");
        let status = response.status();
        let body = json_body(response).await;
        assert_eq!(status, StatusCode::CREATED, "POST /contacts for {email}: {body}");
        Contact { id: text(&body, "id"), email: text(&body, "email") }
    }

    /// `PUT /contacts/{id}` with `changes`; expects `200`.
    pub async fn update(&self, id: &str, changes: Value) -> Value {
        let response = self
            .http
            .put(self.contacts.url(&format!("contacts/{id}")))
            .json(&changes)
            .send()
            .await
            .expect("PUT /contacts/{id}");
        let status = response.status();
        let body = json_body(response).await;
        assert_eq!(status, StatusCode::OK, "PUT /contacts/{id}: {body}");
        body
    }

    /// `DELETE /contacts/{id}`; expects `204`.
    pub async fn delete(&self, id: &str) {
        let response = self
            .http
            .delete(self.contacts.url(&format!("contacts/{id}")))
            .send()
            .await
            .expect("DELETE /contacts/{id}");
        assert_eq!(response.status(), StatusCode::NO_CONTENT, "DELETE /contacts/{id}");
    }
}

impl TestSystem {
    pub fn contacts_api(&self) -> ContactsApi<'_> {
        ContactsApi { http: &self.http, contacts: &self.contacts }
    }

    /// `POST /contacts` at contacts; expects `201`.
    pub async fn create_contact(&self, firstname: &str, lastname: &str, email: &str) -> Contact {
        self.contacts_api().create(firstname, lastname, email).await
    }

    /// `PUT /contacts/{id}` with `changes`; expects `200`.
    pub async fn update_contact(&self, id: &str, changes: Value) -> Value {
        self.contacts_api().update(id, changes).await
    }

    /// `DELETE /contacts/{id}`; expects `204`.
    pub async fn delete_contact(&self, id: &str) {
        self.contacts_api().delete(id).await
    }

    /// `GET /users/{id}` at calendar: the user, or `None` on `404`.
    pub async fn calendar_user(&self, id: &str) -> Option<Value> {
        let response = get_json(&self.http, &self.calendar.url(&format!("users/{id}"))).await;
        match response.status() {
            StatusCode::OK => Some(json_body(response).await),
            StatusCode::NOT_FOUND => None,
            other => {
                panic!("GET /users/{id} answered {other}: {}", response.text().await.unwrap_or_default())
            }
        }
    }

    /// Waits until calendar's replica has user `id` and `accept` takes it.
    pub async fn wait_for_user(&self, id: &str, what: &str, accept: impl Fn(&Value) -> bool) -> Value {
        wait_until(what, PATIENCE, || async { self.calendar_user(id).await.filter(|u| accept(u)) }).await
    }

    /// Waits until calendar knows every one of `contacts` with its current e-mail.
    pub async fn wait_for_users(&self, contacts: &[&Contact]) {
        for contact in contacts {
            self.wait_for_user(&contact.id, &format!("{} in calendar", contact.email), |u| {
                u["email"] == contact.email.as_str()
            })
            .await;
        }
    }

    /// `POST /calendar/{owner}` with a JSON event; expects `201` and returns the event.
    pub async fn create_event(&self, owner: &str, event: Value) -> Value {
        let response = self
            .http
            .post(self.calendar.url(&format!("calendar/{owner}")))
            .json(&event)
            .send()
            .await
            .expect("POST /calendar/{owner}");
        let status = response.status();
        let body = json_body(response).await;
        assert_eq!(status, StatusCode::CREATED, "POST /calendar/{owner}: {body}");
        body
    }

    /// `POST /event/{id}/participants` with a JSON array of e-mails (and an `x-request-id`
    /// when given); the response as it came.
    pub async fn invite(
        &self,
        event_id: &str,
        emails: &[&str],
        request_id: Option<&str>,
    ) -> reqwest::Response {
        let mut request =
            self.http.post(self.calendar.url(&format!("event/{event_id}/participants"))).json(&emails);
        if let Some(id) = request_id {
            request = request.header("x-request-id", id);
        }
        request.send().await.expect("POST /event/{id}/participants")
    }

    /// As [`Self::invite`], expecting `200`; returns the participants (user URLs).
    pub async fn invite_ok(&self, event_id: &str, emails: &[&str]) -> Vec<String> {
        let response = self.invite(event_id, emails, None).await;
        let status = response.status();
        let body = json_body(response).await;
        assert_eq!(status, StatusCode::OK, "inviting {emails:?}: {body}");
        body.as_array()
            .expect("a JSON array of participants")
            .iter()
            .map(|u| u.as_str().expect("user URLs").to_string())
            .collect()
    }

    /// Every contact at contacts (`GET /contacts`, following `next` to the last page).
    pub async fn all_contacts(&self) -> Vec<Contact> {
        let items = all_pages(&self.http, &self.contacts.url("contacts?limit=200")).await;
        items.iter().map(|c| Contact { id: text(c, "id"), email: text(c, "email") }).collect()
    }

    /// Every user in calendar's replica (`GET /users`, following `next` to the last page).
    pub async fn all_users(&self) -> Vec<Contact> {
        all_users(&self.http, &self.calendar).await
    }

    /// Every job at notifications (`GET /notifications` with the token, all pages).
    pub async fn notification_jobs(&self) -> Vec<Value> {
        all_pages_as(&self.http, &self.notifications.url("notifications?limit=200"), Some(&self.token)).await
    }

    /// Waits until delivery has come to rest: calendar's outbox has nothing pending and
    /// notifications holds `jobs` jobs, every one `sent`. Nothing is left anywhere that could
    /// still send a message, so what the SMTP server holds then is final. Returns the jobs.
    pub async fn wait_until_every_invitation_is_sent(&self, jobs: usize) -> Vec<Value> {
        wait_until(
            &format!("calendar's outbox empty and {jobs} job(s) sent by notifications"),
            PATIENCE,
            || async {
                let pending =
                    crate::prometheus::value(&self.metrics(&self.calendar).await, "outbox_pending", &[]);
                if pending != Some(0.0) {
                    return None;
                }
                let all = self.notification_jobs().await;
                (all.len() == jobs && all.iter().all(|j| j["status"] == "sent")).then_some(all)
            },
        )
        .await
    }

    /// The service's `/metrics` text.
    pub async fn metrics(&self, service: &ServiceProcess) -> String {
        let response = self.http.get(service.url("metrics")).send().await.expect("GET /metrics");
        assert_eq!(response.status(), StatusCode::OK, "GET /metrics at {}", service.name());
        response.text().await.expect("metrics text")
    }
}

/// Every user in `calendar`'s replica, as [`TestSystem::all_users`].
pub async fn all_users(http: &reqwest::Client, calendar: &ServiceProcess) -> Vec<Contact> {
    let items = all_pages(http, &calendar.url("users?limit=200")).await;
    items.iter().map(|u| Contact { id: text(u, "id"), email: text(u, "email") }).collect()
}

/// A `GET` asking for JSON.
pub async fn get_json(http: &reqwest::Client, url: &str) -> reqwest::Response {
    get_json_as(http, url, None).await
}

/// A `GET` asking for JSON, with a bearer token when given.
pub async fn get_json_as(http: &reqwest::Client, url: &str, bearer: Option<&str>) -> reqwest::Response {
    let mut request = http.get(url).header("accept", "application/json");
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

/// The items of every page of a list endpoint, starting at `first` and following `next`.
pub async fn all_pages(http: &reqwest::Client, first: &str) -> Vec<Value> {
    all_pages_as(http, first, None).await
}

/// As [`all_pages`], with a bearer token on every request.
pub async fn all_pages_as(http: &reqwest::Client, first: &str, bearer: Option<&str>) -> Vec<Value> {
    let mut items = Vec::new();
    let mut url = Some(first.to_string());
    while let Some(current) = url {
        let response = get_json_as(http, &current, bearer).await;
        let status = response.status();
        let page = json_body(response).await;
        assert_eq!(status, StatusCode::OK, "GET {current}: {page}");
        items.extend(page["items"].as_array().expect("a list page has items").iter().cloned());
        url = page["next"].as_str().map(str::to_string);
        assert!(items.len() < 100_000, "paging does not end");
    }
    items
}

/// A string field of a JSON object.
pub fn text(value: &Value, field: &str) -> String {
    value[field].as_str().unwrap_or_else(|| panic!("no string {field:?} in {value}")).to_string()
}
