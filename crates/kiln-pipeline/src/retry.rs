//! Retries: which jobs may be retried, automatic retries (`retry:`), cloning a job
//! (`Ci::RetryJobService`), and resetting the skipped jobs after it
//! (`Ci::ResetSkippedJobsService`).

use std::collections::BTreeSet;

use crate::effect::{Effect, NewJob};
use crate::engine::{Ctx, Extra};
use crate::failure_reason::{FailureReason, RetryOn};
use crate::machine::JobEvent;
use crate::process::dag_order;
use crate::state::{Job, JobId, JobVariable, PipelineState};
use crate::status::Status;

/// `retryable?`: a finished (or canceling) job that was not retried yet. A trigger job
/// that failed because of a pipeline loop or the depth limit is not.
pub fn is_retryable(state: &PipelineState, job: &Job) -> bool {
    if job.retried || job.failure_reason == Some(FailureReason::DeploymentRejected) {
        return false;
    }
    let bridge = state.definition_of(job).is_some_and(|d| d.is_bridge());
    if bridge
        && job.status == Status::Failed
        && matches!(
            job.failure_reason,
            Some(FailureReason::PipelineLoopDetected | FailureReason::ReachedMaxDescendantPipelinesDepth)
        )
    {
        return false;
    }
    matches!(job.status, Status::Success | Status::Failed | Status::Canceled | Status::Canceling)
}

/// How many jobs with this job's name were retried in the pipeline (GitLab's `retries_count`).
pub fn retries_count(state: &PipelineState, job: &Job) -> u32 {
    let name = state.name_of(job);
    let n = state.jobs.iter().filter(|j| j.retried && state.name_of(j) == name).count();
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// `Gitlab::Ci::Build::AutoRetry#allowed?` for a failed build.
pub fn auto_retry_allowed(state: &PipelineState, job: &Job) -> bool {
    let Some(def) = state.definition_of(job) else { return false };
    if def.is_bridge() || job.status != Status::Failed || !is_retryable(state, job) {
        return false;
    }
    let reason = job.failure_reason.unwrap_or(FailureReason::UnknownFailure);
    let retry = &def.retry;
    let max = if reason.never_auto_retried() {
        0
    } else {
        // `when` defaults to `always`, unless only `exit_codes` is given.
        let default_when = if retry.exit_codes.is_none() { vec![RetryOn::Always] } else { Vec::new() };
        let when = retry.when.as_ref().unwrap_or(&default_when);
        let on_reason = when.iter().any(|w| w.matches(reason));
        let on_exit_code =
            job.exit_code.is_some_and(|c| retry.exit_codes.as_ref().is_some_and(|e| e.contains(&c)));
        match retry.max {
            Some(max) if on_reason || on_exit_code => max,
            _ => reason.default_retries(),
        }
    };
    max > 0 && max > retries_count(state, job)
}

/// Retries every failed build that `retry:` covers (GitLab does this right after the
/// failure; deriving it from the state makes it survive a crash in between).
pub(crate) fn auto_retry_step(ctx: &mut Ctx) {
    let due: Vec<JobId> =
        ctx.state.current_jobs().filter(|j| auto_retry_allowed(&ctx.state, j)).map(|j| j.id).collect();
    for id in due {
        retry_job(ctx, id, RetryOptions { enqueue_if_actionable: true, variables: None, runnable: true });
    }
}

#[derive(Debug, Clone)]
pub(crate) struct RetryOptions {
    /// Retries of manual and delayed jobs start at once instead of waiting again.
    pub(crate) enqueue_if_actionable: bool,
    /// Variables for the new job; `None` keeps the old job's.
    pub(crate) variables: Option<Vec<JobVariable>>,
    /// False when no runner can take the new job: it fails with `ci_quota_exceeded`.
    pub(crate) runnable: bool,
}

/// Clones a job; the old one is marked retried. Returns the new job.
pub(crate) fn clone_job(ctx: &mut Ctx, old: JobId, options: &RetryOptions) -> Option<JobId> {
    let job = ctx.state.job(old)?;
    let def = ctx.state.definition_of(job)?;
    let id = ctx.state.next_job_id();
    let new = NewJob {
        id,
        definition: job.definition,
        allow_failure: def.allow_failure,
        enqueue_immediately: options.enqueue_if_actionable && def.is_action(),
        variables: options.variables.clone().unwrap_or_else(|| job.variables.clone()),
        at: ctx.now,
    };
    ctx.emit(Effect::CreateJob { job: new, replaces: Some(old) });
    Some(id)
}

/// `Ci::RetryJobService#retry_job`.
pub(crate) fn retry_job(ctx: &mut Ctx, old: JobId, options: RetryOptions) -> Option<JobId> {
    let new = clone_job(ctx, old, &options)?;
    if !options.runnable {
        let extra = Extra { failure: Some((FailureReason::CiQuotaExceeded, None)), ..Extra::default() };
        let _ = ctx.fire(new, JobEvent::Drop, extra);
        return Some(new);
    }
    reset_skipped(ctx, &[old]);
    Some(new)
}

/// `Ci::ResetSkippedJobsService`: skipped jobs in later stages, and skipped jobs that
/// need the given ones (directly or not), go back to `created` to be processed again.
pub(crate) fn reset_skipped(ctx: &mut Ctx, jobs: &[JobId]) {
    let state = &ctx.state;
    let Some(min_stage) = jobs
        .iter()
        .filter_map(|id| state.job(*id))
        .filter_map(|j| state.definition_of(j))
        .map(|d| d.stage_index)
        .min()
    else {
        return;
    };
    let mut names: BTreeSet<String> =
        jobs.iter().filter_map(|id| state.job(*id)).map(|j| state.name_of(j).to_string()).collect();
    // Grow the set of names by everything that needs a name in it.
    loop {
        let more: Vec<String> = state
            .current_jobs()
            .filter(|j| !names.contains(state.name_of(j)))
            .filter(|j| {
                state
                    .definition_of(j)
                    .and_then(|d| d.need_names())
                    .is_some_and(|mut n| n.any(|n| names.contains(n)))
            })
            .map(|j| state.name_of(j).to_string())
            .collect();
        if more.is_empty() {
            break;
        }
        names.extend(more);
    }
    let mut by_stage: std::collections::BTreeMap<u32, Vec<JobId>> = std::collections::BTreeMap::new();
    for job in state.current_jobs().filter(|j| j.status == Status::Skipped) {
        let Some(def) = state.definition_of(job) else { continue };
        if def.stage_index > min_stage || names.contains(def.name.as_str()) {
            by_stage.entry(def.stage_index).or_default().push(job.id);
        }
    }
    let ordered: Vec<JobId> = by_stage.values().flat_map(|ids| dag_order(state, ids)).collect();
    for id in ordered {
        let _ = ctx.fire(id, JobEvent::Process, Extra::default());
    }
}
