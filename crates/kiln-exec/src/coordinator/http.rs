//! The runner API on loopback, as `../shared/docs/gitlab-runner-protocol.md`
//! describes it: job requests (long-polled), job updates, incremental logs,
//! artifact upload and download.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{patch, post, put};
use bytes::Bytes;
use kiln_api::headers;
use kiln_api::{JobRequest, JobState, UpdateJobRequest};
use kiln_pipeline::Status;
use tokio::io::AsyncWriteExt;

use super::Shared;
use super::artifacts::parse_dotenv_gzip;

/// How long a job request waits for a job before answering `204`.
const LONG_POLL: Duration = Duration::from_secs(30);

/// The routes under `/api/v4`.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/v4/jobs/request", post(request_job))
        .route("/api/v4/jobs/{id}", put(update_job))
        .route("/api/v4/jobs/{id}/trace", patch(patch_trace))
        .route("/api/v4/jobs/{id}/artifacts", post(upload_artifacts).get(download_artifacts))
        .layer(DefaultBodyLimit::disable())
        .with_state(shared)
}

fn with_status(code: StatusCode, status: Option<Status>) -> Response {
    let mut r = (code, code.as_u16().to_string()).into_response();
    if let Some(s) = status
        && let Ok(v) = HeaderValue::from_str(s.as_str())
    {
        r.headers_mut().insert(headers::JOB_STATUS, v);
    }
    r
}

fn job_token(headers: &HeaderMap, body_token: Option<&str>) -> String {
    headers
        .get(headers::JOB_TOKEN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| body_token.map(str::to_string))
        .unwrap_or_default()
}

async fn request_job(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let Ok(request) = serde_json::from_slice::<JobRequest>(&body) else {
        return (StatusCode::BAD_REQUEST, "400 Bad request").into_response();
    };
    if request.token != shared.runner_token {
        return with_status(StatusCode::FORBIDDEN, None);
    }
    let deadline = tokio::time::Instant::now() + LONG_POLL;
    loop {
        let notified = shared.changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let assigned = {
            let mut c = shared.lock();
            c.assign(&shared.ui)
        };
        if let Some(payload) = assigned {
            shared.changed.notify_waiters();
            return (StatusCode::CREATED, axum::Json(payload)).into_response();
        }
        if shared.lock().finished() {
            break;
        }
        tokio::select! {
            () = &mut notified => {}
            () = tokio::time::sleep_until(deadline) => break,
        }
    }
    let mut r = StatusCode::NO_CONTENT.into_response();
    r.headers_mut().insert(headers::LAST_UPDATE, HeaderValue::from_static("kiln-exec"));
    r
}

async fn update_job(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<u64>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(update) = serde_json::from_slice::<UpdateJobRequest>(&body) else {
        return (StatusCode::BAD_REQUEST, "400 Bad request").into_response();
    };
    let token = job_token(&headers, Some(&update.token));
    let answer = shared.update(|c| {
        let Some(job) = c.authorized(id, &token) else { return (StatusCode::FORBIDDEN, None) };
        let status = c.status(job);
        if !status.is_some_and(Status::is_executing) {
            return (StatusCode::FORBIDDEN, status);
        }
        match update.state {
            JobState::Success | JobState::Failed => {
                let success = update.state == JobState::Success;
                let reason = update.failure_reason.as_ref().map(|r| r.as_str().to_string());
                c.finish(job, success, reason.as_deref(), update.exit_code, &shared.ui);
                (StatusCode::OK, c.status(job))
            }
            JobState::Running | JobState::Pending => (StatusCode::OK, status),
            JobState::Unknown(_) => (StatusCode::BAD_REQUEST, status),
        }
    });
    with_status(answer.0, answer.1)
}

async fn patch_trace(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<u64>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let token = job_token(&headers, None);
    let Some(range) = headers.get("Content-Range").and_then(|v| v.to_str().ok()) else {
        return (StatusCode::BAD_REQUEST, "400 Bad request - Content-Range missing").into_response();
    };
    let Some((start, _)) = kiln_api::trace::parse_content_range(range) else {
        return (StatusCode::BAD_REQUEST, "400 Bad request - Content-Range invalid").into_response();
    };
    let (code, status, size) = {
        let mut c = shared.lock();
        let Some(job) = c.authorized(id, &token) else { return with_status(StatusCode::FORBIDDEN, None) };
        let status = c.status(job);
        if !status.is_some_and(Status::is_executing) {
            return with_status(StatusCode::FORBIDDEN, status);
        }
        match c.append_trace(job, start, body, &shared.ui) {
            Ok(size) => (StatusCode::ACCEPTED, status, size),
            Err(size) => (StatusCode::RANGE_NOT_SATISFIABLE, status, size),
        }
    };
    let mut r = with_status(code, status);
    if let Ok(v) = HeaderValue::from_str(&kiln_api::trace::range_header(size)) {
        r.headers_mut().insert("Range", v);
    }
    r
}

#[derive(Debug, serde::Deserialize)]
struct UploadQuery {
    #[serde(default)]
    artifact_type: Option<String>,
    #[serde(default)]
    artifact_format: Option<String>,
}

async fn upload_artifacts(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<u64>,
    Query(query): Query<UploadQuery>,
    headers: HeaderMap,
    mut multipart: Multipart,
) -> Response {
    let token = job_token(&headers, None);
    let (job, dir) = {
        let c = shared.lock();
        let Some(job) = c.authorized(id, &token) else { return with_status(StatusCode::FORBIDDEN, None) };
        if !c.status(job).is_some_and(Status::is_executing) {
            return with_status(StatusCode::FORBIDDEN, c.status(job));
        }
        (job, c.artifacts_dir.join(id.to_string()))
    };
    let mut artifact_type = query.artifact_type.unwrap_or_else(|| "archive".into());
    let mut stored: Option<(std::path::PathBuf, u64)> = None;
    while let Ok(Some(mut field)) = multipart.next_field().await {
        match field.name() {
            Some("artifact_type") => {
                if let Ok(t) = field.text().await {
                    artifact_type = t;
                }
            }
            Some("artifact_format") | Some("expire_in") | Some("token") => {
                let _ = field.text().await;
            }
            Some(kiln_api::artifacts::UPLOAD_FILE_FIELD) => {
                let name = field
                    .file_name()
                    .map(|n| n.rsplit('/').next().unwrap_or(n).to_string())
                    .filter(|n| !n.is_empty() && n != "." && n != "..")
                    .unwrap_or_else(|| "artifacts.zip".into());
                let sub = dir.join(&artifact_type);
                if tokio::fs::create_dir_all(&sub).await.is_err() {
                    return (StatusCode::INTERNAL_SERVER_ERROR, "failed to store the artifact")
                        .into_response();
                }
                let path = sub.join(&name);
                let Ok(mut file) = tokio::fs::File::create(&path).await else {
                    return (StatusCode::INTERNAL_SERVER_ERROR, "failed to store the artifact")
                        .into_response();
                };
                let mut size = 0u64;
                loop {
                    match field.chunk().await {
                        Ok(Some(chunk)) => {
                            size += chunk.len() as u64;
                            if file.write_all(&chunk).await.is_err() {
                                return (StatusCode::INTERNAL_SERVER_ERROR, "failed to store the artifact")
                                    .into_response();
                            }
                        }
                        Ok(None) => break,
                        Err(_) => return (StatusCode::BAD_REQUEST, "400 Bad request").into_response(),
                    }
                }
                let _ = file.flush().await;
                stored = Some((path, size));
            }
            _ => {}
        }
    }
    let Some((path, size)) = stored else {
        return (StatusCode::BAD_REQUEST, "400 Bad request - file is missing").into_response();
    };
    let _ = query.artifact_format;
    let dotenv = if artifact_type == "dotenv" {
        let bytes = tokio::fs::read(&path).await.unwrap_or_default();
        match parse_dotenv_gzip(&bytes) {
            Ok(vars) => Some(vars),
            Err(e) => {
                return (
                    StatusCode::BAD_REQUEST,
                    axum::Json(serde_json::json!({ "message": e.to_string() })),
                )
                    .into_response();
            }
        }
    } else {
        None
    };
    shared.update(|c| {
        if let Some(record) = c.records.get_mut(&job) {
            if artifact_type == "archive" {
                record.archive = Some((path, size));
            }
            if let Some(vars) = dotenv {
                record.dotenv = vars;
            }
        }
    });
    (StatusCode::CREATED, "201").into_response()
}

async fn download_artifacts(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<u64>,
    headers: HeaderMap,
) -> Response {
    let token = job_token(&headers, None);
    let archive = {
        let c = shared.lock();
        // The running job's token may read any job of its pipeline.
        let Some(reader) = c.job_by_token(&token) else { return with_status(StatusCode::FORBIDDEN, None) };
        if !c.status(reader).is_some_and(Status::is_executing) {
            return with_status(StatusCode::FORBIDDEN, None);
        }
        c.job_of(id).and_then(|j| c.records.get(&j)).and_then(|r| r.archive.clone())
    };
    let Some((path, size)) = archive else {
        return (StatusCode::NOT_FOUND, axum::Json(serde_json::json!({ "message": "404 Not Found" })))
            .into_response();
    };
    let Ok(file) = tokio::fs::File::open(&path).await else {
        return (StatusCode::NOT_FOUND, axum::Json(serde_json::json!({ "message": "404 Not Found" })))
            .into_response();
    };
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert("Content-Type", HeaderValue::from_static("application/zip"));
    if let Ok(v) = HeaderValue::from_str(&size.to_string()) {
        r.headers_mut().insert("Content-Length", v);
    }
    r
}
