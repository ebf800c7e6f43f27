//! `PATCH /jobs/:id/trace`: incremental log upload. A patch is stored only when
//! its `Content-Range` start is the stored length (else `416` with `Range:
//! 0-<length>`, and the runner resends from there); the answer is `202` with
//! `Range`, `Job-Status` and `X-GitLab-Trace-Update-Interval` (3 s while someone
//! watches the log, 30 s otherwise). A log over the instance's limit fails the
//! job with `trace_size_exceeded`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use kiln_api::headers;
use kiln_api::trace::{parse_content_range, range_header};
use kiln_pipeline::{Event, FailureReason};
use kiln_store::effects::ApplyOptions;
use kiln_store::traces::Append;

use super::auth::{self, with_job_status};
use super::payload::drop_job;
use crate::app::App;
use crate::error::ApiError;

fn with_range(mut response: Response, size: u64) -> Response {
    if let Ok(v) = HeaderValue::from_str(&range_header(size)) {
        response.headers_mut().insert(axum::http::header::RANGE, v);
    }
    response
}

pub(super) async fn patch_trace(
    State(app): State<App>,
    Path(id): Path<String>,
    uri: Uri,
    headers_map: HeaderMap,
    body: Bytes,
) -> Response {
    let id = match auth::job_id(&id) {
        Ok(id) => id,
        Err(r) => return r.into_response(),
    };
    let token = auth::job_token(None, &headers_map, uri.query());
    let job = match auth::running_job(&app, id, &token).await {
        Ok(job) => job,
        Err(r) => return r.into_response(),
    };
    let Some(range) = headers_map.get(axum::http::header::CONTENT_RANGE).and_then(|v| v.to_str().ok()) else {
        return ApiError::bad_request("Missing header Content-Range").into_response();
    };
    let Some((start, _)) = parse_content_range(range) else {
        return ApiError::bad_request("Content-Range is invalid").into_response();
    };
    let limit = match app.runner.settings(&app.store).await {
        Ok(s) => u64::try_from(s.max_trace_size_bytes).unwrap_or(u64::MAX),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let outcome = match app.store.append_trace(job.id, start, &body, limit).await {
        Ok(outcome) => outcome,
        Err(e) => return ApiError::from(e).into_response(),
    };
    match outcome {
        Append::Appended(info) => {
            if app.runner.should_touch(job.id) {
                let event = Event::JobUpdated { job: job.number };
                if let Err(e) = app.store.handle_event(job.pipeline_id, &event, ApplyOptions::now()).await {
                    tracing::debug!(job = job.id.0, error = %e, "cannot touch the job");
                }
            }
            let mut response = with_range(StatusCode::ACCEPTED.into_response(), info.size);
            let interval = app.runner.update_interval(job.id).to_string();
            if let Ok(v) = HeaderValue::from_str(&interval) {
                response.headers_mut().insert(headers::TRACE_UPDATE_INTERVAL, v);
            }
            with_job_status(response, job.status)
        }
        Append::WrongOffset(info) => {
            let response = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            with_job_status(with_range(response, info.size), job.status)
        }
        Append::LimitExceeded(info) => {
            tracing::info!(job = job.id.0, size = info.size, limit, "job log over its limit");
            if let Err(e) = drop_job(&app, &job, FailureReason::TraceSizeExceeded).await {
                return e.into_response();
            }
            super::update::archive_later(&app, &job);
            let status = app.store.job(job.id).await.map_or(job.status, |j| j.status);
            with_job_status(ApiError::forbidden().into_response(), status)
        }
    }
}
