//! Authentication of runner calls (the `glrt-` token in the body) and job calls
//! (the `glcbt-` token in the body, the `JOB-TOKEN` header or `?token=`), and the
//! small response shapes the runner endpoints share.

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use kiln_api::headers;
use kiln_pipeline::Status;
use kiln_store::jobs::JobRecord;
use kiln_store::runners::Runner;
use kiln_store::{BuildId, Millis};
use serde::de::DeserializeOwned;

use crate::app::App;
use crate::error::{ApiError, ApiResult};

/// A JSON body, or Grape's 400 for one that does not parse.
pub(super) fn json_body<T: DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    if body.is_empty() {
        return Err(ApiError::params("token is missing"));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(&format!("invalid JSON body: {e}")))
}

/// The runner a token authenticates, or GitLab's `403 Forbidden`.
pub(super) async fn runner(app: &App, token: &str) -> ApiResult<Runner> {
    if token.is_empty() {
        return Err(ApiError::params("token is missing"));
    }
    match app.store.runner_by_token(token, Millis::now()).await {
        Ok(runner) => Ok(runner),
        Err(kiln_store::Error::NotFound(_)) => Err(ApiError::forbidden()),
        Err(e) => Err(e.into()),
    }
}

/// The job token of a request: the body's `token`, else the `JOB-TOKEN` header,
/// else `?token=` / `?job_token=`.
pub(super) fn job_token(body_token: Option<&str>, headers_map: &HeaderMap, query: Option<&str>) -> String {
    if let Some(t) = body_token.filter(|t| !t.is_empty()) {
        return t.to_string();
    }
    if let Some(t) = headers_map.get(headers::JOB_TOKEN).and_then(|v| v.to_str().ok()) {
        return t.trim().to_string();
    }
    if let Some(q) = query {
        for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
            if k == "token" || k == "job_token" {
                return v.into_owned();
            }
        }
    }
    String::new()
}

/// Why a job call is refused.
pub(super) enum JobDenied {
    /// Unknown token, or a token of another job: `403`.
    Forbidden,
    /// The job is no longer running: `403` with its status in `Job-Status`.
    NotRunning(Status),
}

impl IntoResponse for JobDenied {
    fn into_response(self) -> Response {
        match self {
            JobDenied::Forbidden => ApiError::forbidden().into_response(),
            JobDenied::NotRunning(status) => with_job_status(ApiError::forbidden().into_response(), status),
        }
    }
}

/// A refused runner-API call.
pub(super) enum Denied {
    Api(ApiError),
    Job(JobDenied),
}

impl From<ApiError> for Denied {
    fn from(e: ApiError) -> Denied {
        Denied::Api(e)
    }
}

impl From<kiln_store::Error> for Denied {
    fn from(e: kiln_store::Error) -> Denied {
        Denied::Api(e.into())
    }
}

impl IntoResponse for Denied {
    fn into_response(self) -> Response {
        match self {
            Denied::Api(e) => e.into_response(),
            Denied::Job(j) => j.into_response(),
        }
    }
}

/// The job `id` if `token` is its job token, whatever its status.
pub(super) async fn job_of_token(app: &App, id: BuildId, token: &str) -> Result<JobRecord, Denied> {
    if token.is_empty() {
        return Err(Denied::Job(JobDenied::Forbidden));
    }
    match app.store.job_by_token(token).await {
        Ok(job) if job.id == id => Ok(job),
        Ok(_) | Err(kiln_store::Error::NotFound(_)) => Err(Denied::Job(JobDenied::Forbidden)),
        Err(e) => Err(e.into()),
    }
}

/// The running (or canceling) job `id` whose token `token` is, as GitLab's
/// `authenticate_job!`: other statuses answer 403 with `Job-Status`.
pub(super) async fn running_job(app: &App, id: BuildId, token: &str) -> Result<JobRecord, Denied> {
    let job = job_of_token(app, id, token).await?;
    if !is_executing(job.status) {
        return Err(Denied::Job(JobDenied::NotRunning(job.status)));
    }
    Ok(job)
}

pub(super) fn is_executing(status: Status) -> bool {
    matches!(status, Status::Running | Status::Canceling)
}

/// A job id from the path; anything else is Grape's 400.
pub(super) fn job_id(raw: &str) -> Result<BuildId, Denied> {
    raw.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .map(BuildId)
        .ok_or_else(|| ApiError::params("id is invalid").into())
}

/// Adds `Job-Status: <status>`.
pub(super) fn with_job_status(mut response: Response, status: Status) -> Response {
    if let Ok(v) = HeaderValue::from_str(status.as_str()) {
        response.headers_mut().insert(headers::JOB_STATUS, v);
    }
    response
}

/// GitLab's plain numeric body (`body "200"` in Grape) with that status.
pub(super) fn plain(status: StatusCode) -> Response {
    let body = status.as_u16().to_string();
    (status, [(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response()
}
