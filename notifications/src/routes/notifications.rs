//! The notification jobs: `POST /notifications` (JSON only), and `GET /notifications` and
//! `GET /notifications/{id}`, which answer JSON to API clients and a page to browsers
//! ([`representation`] decides). All need credentials (see `service_kit::auth`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use service_kit::auth::Caller;
use service_kit::db::now_millis;
use service_kit::error::{ErrorBody, Json, Path, Query};
use service_kit::negotiate;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::listing::ListParams;
use super::private::private;
use super::state::AppState;
use crate::domain::{
    IdempotencyKey, Job, JobStatus, NewNotification, NotificationRequest, NotificationRequestSchema,
};
use crate::error::Error;
use crate::links::Links;
use crate::store::Created;
use crate::{mail, metrics, templates};

static IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
static IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// The routes of this resource, with their OpenAPI descriptions.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create, list)).routes(routes!(show))
}

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
    /// The message's other parts, as accepted (their content is in the message itself).
    pub attachments: Vec<PartView>,
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

/// One of a job's other parts.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PartView {
    /// As stored: lower case, `charset=utf-8` on text, the `method` kept.
    pub content_type: String,
    /// Present on attachments; absent on alternative renderings of the message.
    pub filename: Option<String>,
    /// The content's size in bytes.
    pub size: usize,
}

/// A page of jobs, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JobList {
    pub items: Vec<JobView>,
    /// Absolute URL of the next (older) page, or `null` on the last page.
    pub next: Option<String>,
}

fn rfc3339(millis: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(millis)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl JobView {
    fn new(links: &Links, max_attempts: u32, job: &Job) -> Self {
        Self {
            id: job.id,
            self_url: links.job(job.id),
            status: job.status,
            recipients: job.notification.recipients().to_vec(),
            subject: job.notification.subject().to_string(),
            message: job.notification.body().to_string(),
            attachments: job
                .notification
                .parts()
                .iter()
                .map(|p| PartView {
                    content_type: p.content_type.clone(),
                    filename: p.filename.clone(),
                    size: p.size(),
                })
                .collect(),
            message_id: job.message_id.clone(),
            attempts: job.attempts,
            max_attempts,
            last_error: job.last_error.clone(),
            next_attempt_at: (job.status == JobStatus::Queued).then(|| rfc3339(job.next_attempt_at)),
            created_at: rfc3339(job.created_at),
            updated_at: rfc3339(job.updated_at),
            sent_at: job.sent_at.map(rfc3339),
        }
    }

    fn of(app: &AppState, job: &Job) -> Self {
        Self::new(&app.links, app.max_attempts, job)
    }
}

/// How a `GET` of a job or of the jobs is answered.
enum Representation {
    /// JSON, for API clients.
    Json,
    /// The operator's page, for a browser.
    Page,
}

/// The one place this resource chooses between JSON and HTML: a browser (`Accept: text/html`)
/// gets the page, anything else JSON. Both need credentials (the [`Caller`] argument of the
/// handlers; the auth layer refuses requests without them).
fn representation(headers: &HeaderMap) -> Representation {
    if negotiate::wants_html(headers) { Representation::Page } else { Representation::Json }
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
        (status = 413, description = "Body over 1 MiB", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
        (status = 422, description = "A field is invalid (named in `field`)", body = ErrorBody),
    )
)]
pub async fn create(
    State(app): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Json(request): Json<NotificationRequest>,
) -> Result<Response, Error> {
    let key = idempotency_key(&headers)?.map(|key| key.scoped_to(&caller.id));
    let notification = NewNotification::parse(request, &app.addresses).map_err(Error::Invalid)?;
    let recipients = u32::try_from(notification.recipients().len()).unwrap_or(u32::MAX);
    if let Err(refused) = app.quotas.admit(&caller.id, recipients, std::time::Instant::now()) {
        metrics::quota_refused(refused.limit);
        tracing::warn!(caller = %caller.id, quota = metrics::quota_label(refused.limit), "quota reached, job refused");
        return Err(Error::QuotaExceeded(refused));
    }
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
    let view = JobView::of(app, job);
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
    _caller: Caller,
    headers: HeaderMap,
    Query(params): Query<ListParams>,
) -> Result<Response, Error> {
    let representation = representation(&headers);
    let limit = params.limit()?;
    let page = app.store.list(params.status, params.cursor()?, limit).await?;
    Ok(match representation {
        Representation::Page => private(templates::job_list(&app.pages, &page, limit, params.status)),
        Representation::Json => {
            let next = page.next.map(|seq| app.links.jobs_page(limit, seq, params.status));
            let items = page.items.iter().map(|job| JobView::of(&app, job)).collect();
            private(axum::Json(JobList { items, next }))
        }
    })
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
    _caller: Caller,
    headers: HeaderMap,
    Path(raw_id): Path<String>,
) -> Result<Response, Error> {
    let representation = representation(&headers);
    // One spelling per job: other spellings of the id are no job's URL.
    let id = match (service_kit::id::parse_canonical(&raw_id), &representation) {
        (Some(id), _) => id,
        (None, Representation::Json) => return Err(Error::NotFound),
        (None, Representation::Page) => {
            return Ok(private((StatusCode::NOT_FOUND, templates::job_not_found(&app.pages))));
        }
    };
    let job = app.store.get(id).await?;
    match (representation, job) {
        (Representation::Json, Some(job)) => Ok(private(axum::Json(JobView::of(&app, &job)))),
        (Representation::Json, None) => Err(Error::NotFound),
        (Representation::Page, Some(job)) => {
            let stored = app.store.mailbox_message(id).await?;
            Ok(private(templates::job(&app.pages, &job, stored)))
        }
        (Representation::Page, None) => {
            Ok(private((StatusCode::NOT_FOUND, templates::job_not_found(&app.pages))))
        }
    }
}
