//! Blobs (logs, artifacts) as the REST API serves and removes them: a job's log
//! (live chunks or the archived blob), its artifacts archive, and deletions
//! that follow the rows that named the blobs.

use axum::body::Body;
use futures::StreamExt;
use kiln_store::BuildId;
use kiln_store::artifacts::ArtifactType;
use kiln_store::jobs::JobRecord;

use crate::app::App;
use crate::error::{ApiError, ApiResult};

/// Deletes blob keys in the background; a key that cannot be deleted now is
/// logged (the rows are gone, so nothing serves it any more).
pub(crate) fn delete_later(app: &App, keys: Vec<String>) {
    if keys.is_empty() {
        return;
    }
    let app = app.clone();
    tokio::spawn(async move {
        for key in keys {
            if let Err(e) = app.blobs.delete(&key).await {
                tracing::warn!(key = %key, error = %e, "cannot delete blob");
            }
        }
    });
}

/// How much of a log one read takes while it is sent.
const TRACE_PIECE: u64 = 1024 * 1024;

/// A job's log as stored when asked (empty when there is none), read a piece at
/// a time as the response goes out: a 96 MiB log read whole took 300 MiB of the
/// server's memory (the chunk rows, the log, and its copy). The first piece is
/// read before answering, so a failing read is still an error status. Reading
/// marks the log as watched, so its runner sends updates more often.
pub(crate) async fn job_trace(app: &App, job: BuildId) -> ApiResult<Body> {
    app.runner.watch(job);
    let size = app.store.trace_info(job).await?.size;
    let first = app.store.read_trace(&app.blobs, job, 0, size.min(TRACE_PIECE)).await?;
    let app = app.clone();
    let rest = futures::stream::try_unfold(first.len() as u64, move |offset| {
        let app = app.clone();
        async move {
            if offset >= size {
                return Ok(None);
            }
            let piece =
                app.store.read_trace(&app.blobs, job, offset, (size - offset).min(TRACE_PIECE)).await?;
            // Erased meanwhile: end here rather than loop.
            if piece.is_empty() {
                return Ok::<_, kiln_store::Error>(None);
            }
            let next = offset + piece.len() as u64;
            Ok(Some((piece, next)))
        }
    });
    Ok(Body::from_stream(futures::stream::once(async move { Ok(first) }).chain(rest)))
}

/// Deletes a job's log and artifacts (erase).
pub(crate) async fn delete_job_blobs(app: &App, job: BuildId) {
    if let Ok(artifacts) = app.store.job_artifacts(job).await {
        for artifact in artifacts {
            if let Err(e) = app.store.delete_artifact(&app.blobs, artifact.id).await {
                tracing::warn!(job = job.0, error = %e, "cannot delete artifact");
            }
        }
    }
    if let Err(e) = app.store.delete_trace(job).await {
        tracing::warn!(job = job.0, error = %e, "cannot delete job log");
    }
    if let Err(e) = app.blobs.delete(&kiln_store::traces::blob_key(job)).await {
        tracing::debug!(job = job.0, error = %e, "no archived log to delete");
    }
}

/// The job's artifacts archive, streamed.
pub(crate) async fn artifacts_archive(app: &App, job: &JobRecord) -> ApiResult<axum::response::Response> {
    match app.store.job_artifact(job.id, ArtifactType::Archive).await {
        Ok(a) => Ok(crate::runner_api::stream_blob(app, &a.blob_key, &a.file_name, a.size).await),
        Err(kiln_store::Error::NotFound(_)) => Err(ApiError::not_found("Artifact")),
        Err(e) => Err(e.into()),
    }
}
