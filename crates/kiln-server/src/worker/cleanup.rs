//! The artifact expiry loop (GitLab's `ExpireBuildArtifactsWorker`): deletes
//! artifacts whose `expire_at` has passed, the row first and then its blob, in
//! batches so one round never holds the database for long.
//!
//! Replicas may sweep at once: a row another replica already deleted is
//! `NotFound` here and simply skipped. A blob whose deletion fails after its
//! row is gone is logged; nothing serves it any more.

use std::time::Duration;

use kiln_store::Millis;
use tokio::sync::watch;

use crate::app::App;

/// Pause between rounds.
const POLL: Duration = Duration::from_secs(10);
/// Artifacts read and deleted per batch.
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
    let mut removed = 0;
    for _ in 0..MAX_BATCHES {
        if *stop.borrow() {
            break;
        }
        let batch = match app.store.expired_artifacts(Millis::now(), BATCH).await {
            Ok(batch) => batch,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read expired artifacts");
                break;
            }
        };
        let mut progressed = false;
        for artifact in &batch {
            match app.store.delete_artifact(&app.blobs, artifact.id).await {
                Ok(()) => {
                    removed += 1;
                    progressed = true;
                }
                Err(kiln_store::Error::NotFound(_)) => progressed = true,
                Err(e) => {
                    tracing::warn!(artifact = artifact.id.0, key = %artifact.blob_key, error = %e, "cannot delete expired artifact");
                }
            }
        }
        // A short batch was the last; a batch where nothing could be deleted
        // would only come back the same, so wait for the next round.
        if i64::try_from(batch.len()).unwrap_or(i64::MAX) < BATCH || !progressed {
            break;
        }
    }
    removed
}
