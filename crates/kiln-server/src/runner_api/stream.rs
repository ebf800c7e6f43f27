//! `GET /projects/:id/jobs/:job_id/trace/stream?offset=N`: a job's log as
//! Server-Sent Events while it grows, for the web UI. Each `log` event is JSON
//! `{"offset": <start>, "content": "<text>"}`; an `end` event with the job's
//! status closes the stream once the job is done and everything was sent.
//! Reading wakes on the store's trace updates (this replica) and looks again
//! every second (appends that reached another replica). A watcher makes the
//! runner send its log every 3 s instead of 30.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use kiln_store::BuildId;
use serde::Deserialize;
use tokio::sync::broadcast;

use crate::access::{self, Action};
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::http::auth::Caller;

/// Bytes per event at most.
const READ: u64 = 64 * 1024;

#[derive(Debug, Deserialize)]
pub(super) struct StreamQuery {
    #[serde(default)]
    offset: u64,
}

pub(super) async fn stream(
    State(app): State<App>,
    caller: Caller,
    Path((id, job_id)): Path<(String, String)>,
    Query(query): Query<StreamQuery>,
) -> ApiResult<Response> {
    caller.require_authenticated()?;
    let access = access::project(&app, &caller, &id).await?;
    access.require(Action::ReadBuilds)?;
    let job_id = job_id.parse::<i64>().map_err(|_| ApiError::params("job_id is invalid"))?;
    let job = app.store.job(BuildId(job_id)).await?;
    if job.project_id != access.project.id || job.bridge {
        return Err(ApiError::not_found("Job"));
    }
    let updates = app.store.trace_updates();
    let events = log_events(app, job.id, query.offset, updates);
    Ok(Sse::new(events).keep_alive(KeepAlive::default()).into_response())
}

struct Reader {
    app: App,
    job: BuildId,
    offset: u64,
    updates: broadcast::Receiver<(BuildId, u64)>,
    done: bool,
}

fn log_events(
    app: App,
    job: BuildId,
    offset: u64,
    updates: broadcast::Receiver<(BuildId, u64)>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let reader = Reader { app, job, offset, updates, done: false };
    futures::stream::unfold(reader, |mut r| async move {
        if r.done {
            return None;
        }
        loop {
            r.app.runner.watch(r.job);
            let bytes = match r.app.store.read_trace(&r.app.blobs, r.job, r.offset, READ).await {
                Ok(bytes) => bytes,
                Err(e) => {
                    tracing::debug!(job = r.job.0, error = %e, "log stream read failed");
                    r.done = true;
                    return Some((Ok(Event::default().event("error").data("log unavailable")), r));
                }
            };
            if !bytes.is_empty() {
                let start = r.offset;
                r.offset += bytes.len() as u64;
                let data = serde_json::json!({"offset": start, "content": String::from_utf8_lossy(&bytes)});
                return Some((Ok(Event::default().event("log").data(data.to_string())), r));
            }
            let status = r.app.store.job(r.job).await.map(|j| j.status);
            if let Ok(status) = status
                && status.is_complete()
            {
                // Appends are committed before the status changes: nothing more will come.
                r.done = true;
                let data = serde_json::json!({"status": status.as_str(), "size": r.offset});
                return Some((Ok(Event::default().event("end").data(data.to_string())), r));
            }
            wait_growth(&mut r).await;
        }
    })
}

/// Waits until this job's log grows here, or a second passes.
async fn wait_growth(r: &mut Reader) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    loop {
        match tokio::time::timeout_at(deadline, r.updates.recv()).await {
            Ok(Ok((job, size))) if job == r.job && size > r.offset => return,
            Ok(Ok(_)) => {}
            Ok(Err(broadcast::error::RecvError::Lagged(_))) => return,
            Ok(Err(broadcast::error::RecvError::Closed)) | Err(_) => return,
        }
    }
}
