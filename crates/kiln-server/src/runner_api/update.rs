//! `PUT /jobs/:id`: the runner's state updates (GitLab's
//! `Ci::UpdateBuildStateService`). `running` touches the job; `success` and
//! `failed` finish it through the state machine once the stored log is as long
//! as the runner says (until then `202` with `X-GitLab-Trace-Update-Interval`,
//! backing off exponentially, and after five minutes the update is accepted
//! anyway, as GitLab gives up waiting for chunks). Every answer carries
//! `Job-Status`, so a runner learns of `canceling` / `canceled` here too.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use kiln_api::headers;
use kiln_api::update::{JobState, UpdateJobRequest};
use kiln_pipeline::{Event, FailureReason};
use kiln_store::Millis;
use kiln_store::effects::ApplyOptions;
use kiln_store::jobs::JobRecord;

use super::auth::{self, plain, with_job_status};
use crate::app::App;
use crate::error::{ApiError, ApiResult};

/// GitLab stops waiting for the log after this long.
const FINAL_WAIT_LIMIT: Duration = Duration::from_secs(300);

pub(super) async fn update(
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
    let req: UpdateJobRequest = match auth::json_body(&body) {
        Ok(req) => req,
        Err(e) => return e.into_response(),
    };
    let token = auth::job_token(Some(&req.token), &headers_map, uri.query());
    let job = match auth::running_job(&app, id, &token).await {
        Ok(job) => job,
        Err(r) => return r.into_response(),
    };
    match apply(&app, &job, &req).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

/// Runs an event on the job's pipeline; a refused event is not an error here
/// (the job moved on, and `Job-Status` tells the runner).
async fn event(app: &App, job: &JobRecord, event: Event) -> ApiResult<()> {
    match app.store.handle_event(job.pipeline_id, &event, ApplyOptions::now()).await {
        Ok(_) | Err(kiln_store::Error::Rejected(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

async fn answer(app: &App, job: &JobRecord, status: StatusCode) -> ApiResult<Response> {
    let now = app.store.job(job.id).await?;
    Ok(with_job_status(plain(status), now.status))
}

async fn apply(app: &App, job: &JobRecord, req: &UpdateJobRequest) -> ApiResult<Response> {
    match &req.state {
        JobState::Pending => answer(app, job, StatusCode::OK).await,
        JobState::Running => {
            event(app, job, Event::JobUpdated { job: job.number }).await?;
            answer(app, job, StatusCode::OK).await
        }
        JobState::Success | JobState::Failed => finish(app, job, req).await,
        JobState::Unknown(_) => Err(ApiError::params("state does not have a valid value")),
    }
}

/// Exponential backoff from when the final update first came: 1, 2, 4, ... 64 s.
fn backoff(waited: Duration) -> u64 {
    let mut interval = 1u64;
    while interval < 64 && Duration::from_secs(interval * 2) <= waited {
        interval *= 2;
    }
    interval
}

async fn finish(app: &App, job: &JobRecord, req: &UpdateJobRequest) -> ApiResult<Response> {
    let trace = app.store.trace_info(job.id).await?;
    if req.output.bytesize > trace.size {
        let waited = app.runner.final_waiting(job.id);
        if waited < FINAL_WAIT_LIMIT {
            let response = answer(app, job, StatusCode::ACCEPTED).await?;
            let mut response = response;
            if let Ok(v) = HeaderValue::from_str(&backoff(waited).to_string()) {
                response.headers_mut().insert(headers::TRACE_UPDATE_INTERVAL, v);
            }
            return Ok(response);
        }
        tracing::warn!(
            job = job.id.0,
            stored = trace.size,
            reported = req.output.bytesize,
            "finishing a job whose log is incomplete"
        );
    }
    let checksum = if req.output.checksum.is_empty() { &req.checksum } else { &req.output.checksum };
    if !checksum.is_empty() && req.output.bytesize == trace.size && *checksum != trace.checksum() {
        tracing::warn!(job = job.id.0, runner = %checksum, stored = %trace.checksum(), "job log checksum differs");
    }
    let e = match &req.state {
        JobState::Success => Event::JobSucceeded { job: job.number },
        _ => {
            let reason = req
                .failure_reason
                .as_ref()
                .and_then(|r| FailureReason::from_name(r.as_str()))
                .unwrap_or(FailureReason::UnknownFailure);
            Event::JobFailed { job: job.number, reason, exit_code: req.exit_code }
        }
    };
    event(app, job, e).await?;
    crate::ci::quota::record_usage(app, job, Millis::now()).await;
    app.runner.forget(job.id);
    app.processing.notify_one();
    archive_later(app, job);
    answer(app, job, StatusCode::OK).await
}

/// Moves the finished job's log to the blob store in the background (reads
/// follow it either way).
pub(super) fn archive_later(app: &App, job: &JobRecord) {
    let app = app.clone();
    let id = job.id;
    tokio::spawn(async move {
        if let Err(e) = app.store.archive_trace(&app.blobs, id).await {
            tracing::warn!(job = id.0, error = %e, "cannot archive the job log");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_update_backoff_doubles_to_a_minute() {
        assert_eq!(backoff(Duration::ZERO), 1);
        assert_eq!(backoff(Duration::from_secs(2)), 2);
        assert_eq!(backoff(Duration::from_secs(5)), 4);
        assert_eq!(backoff(Duration::from_secs(200)), 64);
    }
}
