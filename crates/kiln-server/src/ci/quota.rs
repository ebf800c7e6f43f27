//! The optional compute quota of a top-level namespace (GitLab's "compute
//! minutes"): minutes per calendar month (UTC) of jobs on instance runners, each
//! minute weighted by the runner's cost factor. When a namespace has used its
//! minutes, the builds of its new pipelines (and retries) that only instance
//! runners could take fail at creation with `ci_quota_exceeded`, as GitLab's
//! `DropNotRunnableBuildsService` does; projects with runners of their own keep
//! running.

use chrono::{DateTime, Utc};
use kiln_pipeline::{Event, FailureReason, PipelineId};
use kiln_store::effects::ApplyOptions;
use kiln_store::jobs::{JobFilter, JobRecord};
use kiln_store::projects::Project;
use kiln_store::runners::{RunnerFilter, RunnerType};
use kiln_store::{Millis, NamespaceId, Page};

use crate::app::App;

/// The month usage is counted in (`2026-12`).
fn month(at: Millis) -> String {
    DateTime::<Utc>::from_timestamp_millis(at.0).unwrap_or_default().format("%Y-%m").to_string()
}

/// The top-level namespace above a project: quotas and usage live there.
async fn root_namespace(app: &App, project: &Project) -> kiln_store::Result<NamespaceId> {
    let lineage = app.store.namespace_lineage(project.namespace_id).await?;
    Ok(lineage.first().map_or(project.namespace_id, |n| n.id))
}

/// Whether the project's namespace has used up its minutes this month.
async fn exceeded(app: &App, project: &Project) -> kiln_store::Result<bool> {
    let root = root_namespace(app, project).await?;
    let Some(minutes) = app.store.namespace_quota(root).await? else { return Ok(false) };
    let used = app.store.compute_usage(root, &month(Millis::now())).await?;
    #[allow(clippy::cast_precision_loss)] // minutes per month are far below 2^52
    Ok(used >= minutes as f64 * 60.0)
}

/// Whether runners other than instance runners serve the project: a group
/// runner of a group above it, or a runner assigned to it.
async fn has_own_runners(app: &App, project: &Project) -> kiln_store::Result<bool> {
    let one = Page { offset: 0, limit: 1 };
    let assigned = RunnerFilter { project: Some(project.id), ..RunnerFilter::default() };
    if !app.store.list_runners(&assigned, one).await?.items.is_empty() {
        return Ok(true);
    }
    for group in app.store.namespace_lineage(project.namespace_id).await? {
        let filter = RunnerFilter { group: Some(group.id), ..RunnerFilter::default() };
        if !app.store.list_runners(&filter, one).await?.items.is_empty() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether new jobs of this project could be taken by some runner: false when
/// only instance runners could, and the quota is used up.
pub(crate) async fn runnable(app: &App, project: &Project) -> bool {
    match exceeded(app, project).await {
        Ok(false) => true,
        Ok(true) => has_own_runners(app, project).await.unwrap_or(true),
        Err(e) => {
            tracing::warn!(project = project.id.0, error = %e, "cannot read the compute quota");
            true
        }
    }
}

/// Fails the builds of a new pipeline with `ci_quota_exceeded` when no runner
/// will take them.
pub(crate) async fn drop_not_runnable(app: &App, project: &Project, pipeline: PipelineId) {
    if runnable(app, project).await {
        return;
    }
    let filter = JobFilter { pipeline: Some(pipeline), bridge: Some(false), ..JobFilter::default() };
    let Ok(jobs) = app.store.list_jobs(&filter, Page::all()).await else { return };
    let jobs: Vec<_> = jobs.items.iter().filter(|j| !j.status.is_complete()).map(|j| j.number).collect();
    if jobs.is_empty() {
        return;
    }
    let event = Event::DropNotRunnable { jobs, reason: FailureReason::CiQuotaExceeded };
    if let Err(e) = app.store.handle_event(pipeline, &event, ApplyOptions::now()).await {
        tracing::warn!(pipeline = pipeline.0, error = %e, "cannot drop jobs over the compute quota");
    }
}

/// Counts the minutes of a job that ended at `finished` against its namespace
/// when an instance runner ran it (project and group runners are the
/// namespace's own machines). `job` is the record as it was while running, so
/// the final update needs no second read of the job on its way out.
pub(crate) async fn record_usage(app: &App, job: &JobRecord, finished: Millis) {
    let (Some(runner), Some(started)) = (job.runner_id, job.started_at) else {
        return;
    };
    let Ok(runner) = app.store.runner(runner).await else { return };
    if runner.runner_type != RunnerType::InstanceType {
        return;
    }
    let Ok(project) = app.store.project(job.project_id).await else { return };
    let Ok(root) = root_namespace(app, &project).await else { return };
    #[allow(clippy::cast_precision_loss)] // job durations in ms are far below 2^52
    let seconds = (finished.0 - started.0).max(0) as f64 / 1000.0 * runner.cost_factor;
    if let Err(e) = app.store.add_compute_usage(root, &month(finished), seconds).await {
        tracing::warn!(job = job.id.0, error = %e, "cannot record compute usage");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_months_are_utc_calendar_months() {
        assert_eq!(month(Millis(1_798_761_599_000)), "2026-12");
        assert_eq!(month(Millis(1_798_761_600_000)), "2027-01");
    }
}
