//! `refs/pipelines/<id>`: GitLab's persistent ref, which keeps a pipeline's
//! commit fetchable when its branch moves on or is deleted. Runners fetch it (the
//! payload's refspecs name it), so it must exist before any job of the pipeline
//! is handed out: it is made when the pipeline is created and made again, if
//! missing, when a job of it is claimed (a crash between the pipeline's row and
//! the ref, or a repository restored from a backup, loses nothing).
//! Unlike GitLab, Kiln keeps the ref when the pipeline finishes, so a later retry
//! needs no recreation; deleting a pipeline deletes it.

use kiln_git::Oid;
use kiln_pipeline::PipelineId;
use kiln_store::ProjectId;

use crate::app::App;

fn name(pipeline: PipelineId) -> String {
    format!("refs/pipelines/{}", pipeline.0)
}

/// Points the pipeline's ref at `sha`, unless it already does.
pub(crate) async fn ensure(app: &App, project: ProjectId, pipeline: PipelineId, sha: &str) {
    let Ok(oid) = Oid::parse(sha) else { return };
    let repo = app.repos.get(project);
    let name = name(pipeline);
    let result = match repo.resolve_ref(&name).await {
        Ok(Some(current)) if current == oid => return,
        Ok(current) => repo.update_ref(&name, &oid, current.as_ref()).await,
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        tracing::warn!(pipeline = pipeline.0, error = %e, "cannot write the pipeline's persistent ref");
    }
}

/// Removes the ref of a deleted pipeline.
pub(crate) async fn remove(app: &App, project: ProjectId, pipeline: PipelineId) {
    if let Err(e) = app.repos.get(project).delete_ref(&name(pipeline)).await {
        tracing::debug!(pipeline = pipeline.0, error = %e, "no persistent ref to delete");
    }
}
