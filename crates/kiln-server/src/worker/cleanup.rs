//! The artifact expiry loop (GitLab's `ExpireBuildArtifactsWorker`): deletes
//! artifacts whose `expire_at` has passed, the row first and then its blob, in
//! batches so one round never holds the database for long.
//!
//! As GitLab does with its default "keep artifacts from the most recent
//! successful jobs" (pipelines are created with their artifacts locked, and a
//! pipeline that succeeds unlocks the older ones of its ref), an expired
//! artifact stays until a newer pipeline on its ref has succeeded. The sweep
//! pages through expired artifacts by `(expire_at, id)`, so kept ones never
//! block the rest.
//!
//! Replicas may sweep at once: a row another replica already deleted is
//! `NotFound` here and simply skipped. A blob whose deletion fails after its
//! row is gone is logged; nothing serves it any more.

use std::collections::HashMap;
use std::time::Duration;

use kiln_pipeline::{PipelineId, Status};
use kiln_store::artifacts::Artifact;
use kiln_store::pipelines::PipelineFilter;
use kiln_store::{Millis, Page, ProjectId};
use tokio::sync::watch;

use crate::app::App;

/// Pause between rounds.
const POLL: Duration = Duration::from_secs(10);
/// Artifacts read per batch.
const BATCH: i64 = 100;
/// Batches per round, so a huge backlog yields to the next round (and to
/// shutdown) instead of running unbounded.
const MAX_BATCHES: usize = 50;

pub(crate) async fn run(app: App, mut stop: watch::Receiver<bool>) {
    loop {
        let removed = sweep(&app, &stop).await;
        if removed > 0 {
            tracing::info!(removed, "expired artifacts deleted");
        }
        tokio::select! {
            () = tokio::time::sleep(POLL) => {}
            _ = stop.changed() => return,
        }
    }
}

/// One round: up to [`MAX_BATCHES`] batches; returns how many artifacts went.
pub(crate) async fn sweep(app: &App, stop: &watch::Receiver<bool>) -> usize {
    let now = Millis::now();
    let mut keeper = Keeper::new(app);
    let mut after = None;
    let mut removed = 0;
    for _ in 0..MAX_BATCHES {
        if *stop.borrow() {
            break;
        }
        let batch = match app.store.expired_artifacts_after(now, after, BATCH).await {
            Ok(batch) => batch,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read expired artifacts");
                break;
            }
        };
        let Some(last) = batch.last() else { break };
        after = last.expire_at.map(|t| (t, last.id));
        for artifact in &batch {
            match keeper.keeps(artifact).await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(artifact = artifact.id.0, error = %e, "cannot check whether an artifact is kept");
                    continue;
                }
            }
            match app.store.delete_artifact(&app.blobs, artifact.id).await {
                Ok(()) => removed += 1,
                Err(kiln_store::Error::NotFound(_)) => {}
                Err(e) => {
                    tracing::warn!(artifact = artifact.id.0, key = %artifact.blob_key, error = %e, "cannot delete expired artifact");
                }
            }
        }
        if i64::try_from(batch.len()).unwrap_or(i64::MAX) < BATCH || after.is_none() {
            break;
        }
    }
    removed
}

/// Which pipelines' artifacts stay: those with no newer successful pipeline
/// on their ref, looked up once per pipeline and ref in a round.
struct Keeper<'a> {
    app: &'a App,
    /// Pipeline → whether its artifacts are kept.
    pipelines: HashMap<PipelineId, bool>,
    latest: HashMap<(ProjectId, String), Option<PipelineId>>,
}

impl<'a> Keeper<'a> {
    fn new(app: &'a App) -> Keeper<'a> {
        Keeper { app, pipelines: HashMap::new(), latest: HashMap::new() }
    }

    async fn keeps(&mut self, artifact: &Artifact) -> kiln_store::Result<bool> {
        let job = match self.app.store.job(artifact.job_id).await {
            Ok(job) => job,
            Err(kiln_store::Error::NotFound(_)) => return Ok(false),
            Err(e) => return Err(e),
        };
        if let Some(kept) = self.pipelines.get(&job.pipeline_id) {
            return Ok(*kept);
        }
        let pipeline = self.app.store.pipeline(job.pipeline_id).await?;
        let key = (pipeline.project_id, pipeline.ref_name.clone());
        let latest = match self.latest.get(&key) {
            Some(latest) => *latest,
            None => {
                let filter = PipelineFilter {
                    project: Some(pipeline.project_id),
                    ref_name: Some(pipeline.ref_name.clone()),
                    status: Some(Status::Success),
                    ..PipelineFilter::default()
                };
                let newest = self.app.store.list_pipelines(&filter, Page::new(1, 1)).await?;
                let latest = newest.items.first().map(|p| p.id);
                self.latest.insert(key, latest);
                latest
            }
        };
        let kept = latest.is_none_or(|newest| newest.0 <= pipeline.id.0);
        self.pipelines.insert(pipeline.id, kept);
        Ok(kept)
    }
}
