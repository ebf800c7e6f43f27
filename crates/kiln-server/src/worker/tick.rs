//! Time-driven work, every few seconds: delayed jobs that are due, the
//! server-side limits (stuck pending jobs, running jobs without updates,
//! timeouts), and bridges that mirror a downstream pipeline's status.

use std::time::Duration;

use kiln_pipeline::{Event, Limits, Status, TickFacts};
use kiln_store::Millis;
use kiln_store::effects::ApplyOptions;
use kiln_store::jobs::{JobFilter, JobRef};
use kiln_store::runners::CONTACT_RESOLUTION_MS;

use crate::app::App;
use crate::ci::downstream;

/// The limits as configured.
fn limits(app: &App) -> Limits {
    Limits {
        pending_without_runner: app.config.limits.stuck_pending_timeout.as_secs(),
        running_without_update: app.config.limits.running_no_update_timeout.as_secs(),
        ..Limits::default()
    }
}

pub(crate) async fn tick(app: &App) {
    let now = Millis::now();
    let limits = limits(app);
    let mut pipelines = std::collections::BTreeSet::new();
    if let Ok(due) = app.store.due_scheduled_jobs(now, 100).await {
        pipelines.extend(due.iter().map(|j| j.pipeline));
    }
    let oldest_limit =
        limits.pending_without_runner.min(limits.running_without_update).min(limits.timeout_grace);
    let before = Millis(now.0 - i64::try_from(oldest_limit).unwrap_or(i64::MAX).saturating_mul(1000));
    let statuses = [Status::Pending, Status::Running, Status::Canceling];
    let stale = app.store.stale_jobs(&statuses, before, 200).await.unwrap_or_default();
    pipelines.extend(stale.iter().map(|j| j.pipeline));
    let (no_runner, runner_lost) = runner_facts(app, &stale, now, &limits).await;
    for pipeline in pipelines {
        let of = |jobs: &[JobRef]| jobs.iter().filter(|j| j.pipeline == pipeline).map(|j| j.number).collect();
        let facts = TickFacts { limits, no_runner: of(&no_runner), runner_lost: of(&runner_lost) };
        match app.store.handle_event(pipeline, &Event::Tick(facts), ApplyOptions::now()).await {
            Ok(_) | Err(kiln_store::Error::NotFound(_) | kiln_store::Error::Rejected(_)) => {}
            Err(e) => tracing::warn!(pipeline = pipeline.0, error = %e, "tick failed"),
        }
    }
    // Bridges waiting for their downstream pipeline.
    let waiting = JobFilter {
        bridge: Some(true),
        statuses: vec![Status::Running, Status::Pending],
        ..JobFilter::default()
    };
    if let Ok(bridges) = app.store.list_jobs(&waiting, kiln_store::Page { offset: 0, limit: 200 }).await {
        for bridge in bridges.items {
            if let Some(child) = bridge.downstream_pipeline_id
                && let Ok(child) = app.store.pipeline(child).await
            {
                downstream::report_status(app, &child).await;
            }
        }
    }
}

/// GitLab's `Ci::Runner::ONLINE_CONTACT_TIMEOUT`: a runner heard from this recently
/// is online, and may still take a pending job that matches it.
const ONLINE_CONTACT_MS: i64 = 2 * 3600 * 1000;

/// A running job's runner counts as lost when its manager has not been heard from
/// for the job's no-update limit, but never sooner than this: contact is written at
/// most once a [`CONTACT_RESOLUTION_MS`] and a busy runner keeps its jobs alive
/// every 30 s, so a shorter silence proves nothing.
const MIN_LOST_MS: i64 = CONTACT_RESOLUTION_MS + 30_000;

/// Of the stale jobs, the pending ones that no online runner could take, and the
/// running ones whose runner has gone silent (see [`TickFacts`]).
async fn runner_facts(
    app: &App,
    stale: &[JobRef],
    now: Millis,
    limits: &Limits,
) -> (Vec<JobRef>, Vec<JobRef>) {
    let online_since = Millis(now.0 - ONLINE_CONTACT_MS);
    let silence =
        i64::try_from(limits.running_without_update).unwrap_or(i64::MAX / 1000).saturating_mul(1000);
    let lost_before = Millis(now.0 - silence.max(MIN_LOST_MS));
    let (mut pending, mut lost) = (Vec::new(), Vec::new());
    for job_ref in stale {
        let Ok(job) = app.store.job(job_ref.build).await else { continue };
        match job.status {
            Status::Pending => pending.push(*job_ref),
            Status::Running => {
                let contacted = match (job.runner_id, job.runner_manager_id) {
                    (Some(runner), Some(manager)) => app
                        .store
                        .runner_managers(runner)
                        .await
                        .ok()
                        .and_then(|ms| ms.into_iter().find(|m| m.id == manager))
                        .and_then(|m| m.contacted_at),
                    // The runner (or its manager) was deleted under the job.
                    _ => None,
                };
                if contacted.is_none_or(|at| at < lost_before) {
                    lost.push(*job_ref);
                }
            }
            _ => {}
        }
    }
    let ids: Vec<_> = pending.iter().map(|j| j.build).collect();
    // When the runners cannot be read, no job is dropped for want of one.
    let orphans: std::collections::HashSet<_> = app
        .store
        .jobs_without_online_runner(&ids, online_since)
        .await
        .unwrap_or_default()
        .into_iter()
        .collect();
    let no_runner = pending.into_iter().filter(|j| orphans.contains(&j.build)).collect();
    (no_runner, lost)
}

/// How often the tick runs.
pub(crate) const EVERY: Duration = Duration::from_secs(2);
