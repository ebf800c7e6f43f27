//! Time-driven decisions: delayed jobs that are due, and GitLab's server-side
//! limits (`Ci::StuckBuilds::*`, `Ci::TimedOutBuilds::DropRunningService`).
//!
//! GitLab 19 names these failures precisely (`stuck_pending_no_matching_runners`,
//! `no_updates_running`, `server_timeout_running`, ...); the older
//! `stuck_or_timeout_failure` and `job_execution_timeout` still match them in
//! `retry:when`. `job_execution_timeout` itself is what a runner reports when it
//! stops a job at its timeout.

use serde::{Deserialize, Serialize};

use crate::engine::{Ctx, Extra};
use crate::event::TickFacts;
use crate::failure_reason::FailureReason;
use crate::machine::JobEvent;
use crate::process::enqueue;
use crate::state::{JobId, Timestamp};
use crate::status::Status;

/// The limits, in seconds; the defaults are GitLab's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// A pending job no online runner can take fails after this long in the queue (1 hour).
    pub pending_without_runner: u64,
    /// Any pending job created and untouched this long fails (1 day).
    pub pending_outdated: u64,
    /// A running job without a runner update fails after this long (30 minutes).
    pub running_without_update: u64,
    /// A canceling job without a runner update is canceled after this long (30 minutes).
    pub canceling_without_update: u64,
    /// A running job fails this long after its own timeout has passed (15 minutes).
    pub timeout_grace: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            pending_without_runner: 3600,
            pending_outdated: 86_400,
            running_without_update: 1800,
            canceling_without_update: 1800,
            timeout_grace: 900,
        }
    }
}

fn reached(since: Timestamp, seconds: u64, now: Timestamp) -> bool {
    since.plus(seconds) <= now
}

pub(crate) fn tick(ctx: &mut Ctx, facts: &TickFacts) {
    let now = ctx.now;
    // `Ci::BuildScheduleWorker` at `scheduled_at`.
    let due: Vec<JobId> = ctx
        .state
        .current_jobs()
        .filter(|j| j.status == Status::Scheduled && j.scheduled_at.is_none_or(|at| at <= now))
        .map(|j| j.id)
        .collect();
    for id in due {
        enqueue(ctx, id, JobEvent::EnqueueScheduled);
    }

    let limits = facts.limits;
    let mut drops: Vec<(JobId, Option<FailureReason>)> = Vec::new();
    for job in &ctx.state.jobs {
        if ctx.state.definition_of(job).is_none_or(|d| d.is_bridge()) {
            continue;
        }
        let timeout = ctx.state.definition_of(job).map_or(0, |d| d.timeout);
        let reason = match job.status {
            Status::Pending => {
                if reached(job.created_at, limits.pending_outdated, now)
                    && reached(job.updated_at, limits.pending_outdated, now)
                {
                    Some(FailureReason::StuckPendingWithMatchingRunners)
                } else if job.queued_at.is_some_and(|q| reached(q, limits.pending_without_runner, now))
                    && facts.no_runner.contains(&job.id)
                {
                    Some(FailureReason::StuckPendingNoMatchingRunners)
                } else {
                    None
                }
            }
            Status::Running => {
                let started = job.started_at.unwrap_or(job.updated_at);
                if reached(started, timeout.saturating_add(limits.timeout_grace), now) {
                    Some(FailureReason::ServerTimeoutRunning)
                } else if reached(job.updated_at, limits.running_without_update, now) {
                    if facts.runner_lost.contains(&job.id) {
                        Some(FailureReason::RunnerSystemFailure)
                    } else {
                        Some(FailureReason::NoUpdatesRunning)
                    }
                } else {
                    None
                }
            }
            Status::Canceling => {
                if reached(job.created_at, limits.canceling_without_update, now)
                    && reached(job.updated_at, limits.canceling_without_update, now)
                {
                    // `drop` from canceling ends in canceled, without a reason.
                    drops.push((job.id, None));
                }
                None
            }
            _ => None,
        };
        if let Some(reason) = reason {
            drops.push((job.id, Some(reason)));
        }
    }
    for (id, reason) in drops {
        let extra = Extra { failure: reason.map(|r| (r, None)), ..Extra::default() };
        let _ = ctx.fire(id, JobEvent::Drop, extra);
    }
}
