//! `POST /notifications`, `GET /notifications`, `GET /notifications/{id}`: the JSON API.

use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use service_kit::db::now_millis;
use service_kit::error::{ErrorBody, Json, Path, Query};
use service_kit::negotiate;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{AppState, pages, private};
use crate::domain::{
    IdempotencyKey, Job, JobStatus, NewNotification, NotificationRequest, NotificationRequestSchema,
};
use crate::error::Error;
use crate::mail;
use crate::metrics;
use crate::store::Created;

/// Default and largest page size of `GET /notifications`.
const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 200;

static IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
static IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// A notification job.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JobView {
    pub id: Uuid,
    /// Absolute URL of this job.
    #[serde(rename = "self")]
    pub self_url: String,
    pub status: JobStatus,
    pub recipients: Vec<String>,
    pub subject: String,
    pub message: String,
    /// The `Message-ID` header, the same on every attempt.
    pub message_id: String,
    /// Attempts made so far (a claim by a worker counts as one).
    pub attempts: i64,
    pub max_attempts: u32,
    /// The reason of the last failed attempt, if any.
    pub last_error: Option<String>,
    /// While `queued`: not sent before this time (RFC 3339, UTC).
    pub next_attempt_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub sent_at: Option<String>,
}

/// A page of jobs, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JobList {
    pub items: Vec<JobView>,
    /// Absolute URL of the next (older) page, or `null` on the last page.
    pub next: Option<String>,
}

pub(crate) fn rfc3339(millis: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(millis)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl JobView {
    pub(crate) fn new(app: &AppState, job: &Job) -> Self {
        Self {
            id: job.id,
            self_url: app.url(&format!("notifications/{}", job.id)),
            status: job.status,
            recipients: job.notification.recipients().to_vec(),
            subject: job.notification.subject().to_string(),
            message: job.notification.body().to_string(),
            message_id: job.message_id.clone(),
            attempts: job.attempts,
            max_attempts: app.max_attempts,
            last_error: job.last_error.clone(),
            next_attempt_at: (job.status == JobStatus::Queued).then(|| rfc3339(job.next_attempt_at)),
            created_at: rfc3339(job.created_at),
            updated_at: rfc3339(job.updated_at),
            sent_at: job.sent_at.map(rfc3339),
        }
    }
}

/// A caller with a valid bearer token. Extracted before the body, so a request without one is
/// answered `401` whatever it carries.
#[derive(Debug)]
pub struct ApiClient;

impl FromRequestParts<AppState> for ApiClient {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if state.auth.is_api_client(&parts.headers) { Ok(Self) } else { Err(Error::Unauthorized) }
    }
}

/// Queue a notification.
///
/// Stores the job and answers `202` once it is committed; the worker sends it in the
/// background. With an `Idempotency-Key`, repeating the request returns the same job (and sends
/// nothing more); the same key with a different notification is `409`.
#[utoipa::path(
    post,
    path = "/notifications",
    tag = "notifications",
    request_body = NotificationRequestSchema,
    params(
        ("Idempotency-Key" = Option<String>, Header, pattern = r"^[\x21-\x7E]{1,255}$",
            description = "Makes retries safe: 1 to 255 visible ASCII characters, unique per notification"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 202, description = "The job is stored and will be sent", body = JobView,
            headers(("Location" = String, description = "Absolute URL of the job"))),
        (status = 400, description = "Malformed JSON or Idempotency-Key", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 409, description = "Idempotency-Key used for a different notification", body = ErrorBody),
        (status = 413, description = "Body over 512 KiB", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
        (status = 422, description = "A field is invalid (named in `field`)", body = ErrorBody),
    )
)]
pub async fn create(
    State(app): State<AppState>,
    _client: ApiClient,
    headers: HeaderMap,
    Json(request): Json<NotificationRequest>,
) -> Result<Response, Error> {
    let key = idempotency_key(&headers)?;
    let notification = NewNotification::parse(request).map_err(Error::Invalid)?;
    let id = Uuid::now_v7();
    let message_id = mail::message_id(id, &app.mail_from);
    match app.store.create(id, &notification, key.as_ref(), &message_id, now_millis()).await? {
        Created::New(job) => {
            metrics::job_created();
            app.wake.notify_one();
            if let Err(e) = app.store.announce_new_job().await {
                // Other replicas still find the job at their next poll.
                tracing::warn!(error = %e, "cannot notify other replicas of the new job");
            }
            tracing::info!(job = %job.id, recipients = job.notification.recipients().len(), "job queued");
            Ok(accepted(&app, &job, false))
        }
        Created::Replay(job) => Ok(accepted(&app, &job, true)),
        Created::KeyConflict => Err(Error::IdempotencyConflict),
    }
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<IdempotencyKey>, Error> {
    let mut values = headers.get_all(&IDEMPOTENCY_KEY).iter();
    let Some(value) = values.next() else { return Ok(None) };
    if values.next().is_some() {
        return Err(Error::SeveralIdempotencyKeys);
    }
    IdempotencyKey::parse(value.as_bytes()).map(Some).map_err(Error::InvalidIdempotencyKey)
}

fn accepted(app: &AppState, job: &Job, replayed: bool) -> Response {
    let view = JobView::new(app, job);
    let mut response = (StatusCode::ACCEPTED, axum::Json(&view)).into_response();
    let headers = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(&view.self_url) {
        headers.insert(header::LOCATION, location);
    }
    if replayed {
        headers.insert(IDEMPOTENT_REPLAYED.clone(), HeaderValue::from_static("true"));
    }
    private(response)
}

/// Query of `GET /notifications`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only jobs with this status.
    pub status: Option<JobStatus>,
    /// Jobs per page (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// Where the page starts: copy it from the `next` link; its format may change.
    #[param(pattern = r"^[1-9][0-9]{0,17}$")]
    pub cursor: Option<String>,
}

impl ListParams {
    pub(crate) fn limit(&self) -> Result<u32, Error> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(_) => Err(Error::InvalidLimit { max: MAX_LIMIT }),
        }
    }

    pub(crate) fn cursor(&self) -> Result<Option<i64>, Error> {
        match self.cursor.as_deref() {
            None => Ok(None),
            Some(raw) => raw.parse::<i64>().ok().filter(|n| *n > 0).map(Some).ok_or(Error::UnknownCursor),
        }
    }
}

/// List jobs, newest first.
#[utoipa::path(
    get,
    path = "/notifications",
    tag = "notifications",
    params(ListParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of jobs", body = JobList),
        (status = 400, description = "Invalid status, limit or cursor", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
    )
)]
pub async fn list(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<ListParams>,
) -> Result<Response, Error> {
    if negotiate::wants_html(&headers) {
        return pages::job_list(&app, &headers, &params).await;
    }
    if !app.auth.is_api_client(&headers) {
        return Ok(private(Error::Unauthorized.into_response()));
    }
    let limit = params.limit()?;
    let page = app.store.list(params.status, params.cursor()?, limit).await?;
    let next = page.next.map(|seq| next_link(&app, "notifications", params.status, limit, seq));
    let items = page.items.iter().map(|job| JobView::new(&app, job)).collect();
    Ok(private(axum::Json(JobList { items, next }).into_response()))
}

pub(crate) fn next_link(
    app: &AppState,
    path: &str,
    status: Option<JobStatus>,
    limit: u32,
    cursor: i64,
) -> String {
    let mut url = app.url(path);
    url.push_str(&format!("?limit={limit}&cursor={cursor}"));
    if let Some(status) = status {
        url.push_str(&format!("&status={}", status.as_str()));
    }
    url
}

/// One job.
#[utoipa::path(
    get,
    path = "/notifications/{id}",
    tag = "notifications",
    params(("id" = Uuid, Path, description = "The job id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The job", body = JobView),

        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 404, description = "No such job (or not a job id)", body = ErrorBody),
    )
)]
pub async fn show(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
) -> Result<Response, Error> {
    if negotiate::wants_html(&headers) {
        return pages::job(&app, &headers, id).await;
    }
    if !app.auth.is_api_client(&headers) {
        return Ok(private(Error::Unauthorized.into_response()));
    }
    match app.store.get(id).await? {
        Some(job) => Ok(private(axum::Json(JobView::new(&app, &job)).into_response())),
        None => Err(Error::NotFound),
    }
}
