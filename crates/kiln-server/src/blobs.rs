//! Blobs (logs, artifacts) as the REST API serves and removes them: a job's log
//! (live chunks or the archived blob), its artifacts archive, and deletions
//! that follow the rows that named the blobs.

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

/// A job's log as stored so far (empty when there is none). Reading it marks
/// the log as watched, so its runner sends updates more often.
pub(crate) async fn job_trace(app: &App, job: BuildId) -> ApiResult<Vec<u8>> {
    app.runner.watch(job);
    let info = app.store.trace_info(job).await?;
    Ok(app.store.read_trace(&app.blobs, job, 0, info.size).await?.to_vec())
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
