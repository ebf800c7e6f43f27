//! Events from runners and people: job reports, cancel, retry, play, unschedule,
//! drop. Each checks what GitLab checks (`cancelable?`, `retryable?`, `playable?`)
//! and refuses otherwise.

use crate::definition::{BridgeTarget, JobKind};
use crate::effect::Effect;
use crate::engine::{Ctx, Extra};
use crate::event::{CancelRequest, Event, Rejected};
use crate::failure_reason::FailureReason;
use crate::machine::JobEvent;
use crate::process::enqueue;
use crate::retry::{self, RetryOptions};
use crate::state::{Job, JobId, JobVariable};
use crate::status::Status;
use crate::{bridge, limits};

pub(crate) fn dispatch(ctx: &mut Ctx, event: &Event) -> Result<(), Rejected> {
    let none = Extra::default();
    match event {
        Event::Process => Ok(()),
        Event::JobRunning { job, graceful_cancel } => {
            let extra = Extra { graceful_cancel: Some(*graceful_cancel), ..none };
            ctx.fire(*job, JobEvent::Run, extra).map(drop)
        }
        Event::JobUpdated { job } => {
            let j = job_of(ctx, *job)?;
            if !j.status.is_executing() {
                return Err(Rejected::IllegalTransition { job: job.0, event: "update", from: j.status });
            }
            ctx.emit(Effect::TouchJob { job: *job, at: ctx.now });
            Ok(())
        }
        Event::JobSucceeded { job } => ctx.fire(*job, JobEvent::Succeed, none).map(drop),
        Event::JobFailed { job, reason, exit_code } => {
            let extra = Extra { failure: Some((*reason, *exit_code)), ..none };
            ctx.fire(*job, JobEvent::Drop, extra).map(drop)
        }
        Event::CancelJob { job } => cancel_job(ctx, *job),
        Event::ForceCancelJob { job } => ctx.fire(*job, JobEvent::ForceCancel, none).map(drop),
        Event::CancelPipeline(request) => cancel_pipeline(ctx, *request),
        Event::DropPipeline { reason } => {
            drop_pipeline(ctx, *reason);
            Ok(())
        }
        Event::RetryJob { job, variables, runnable } => retry_one(ctx, *job, variables, *runnable),
        Event::RetryPipeline => {
            retry_pipeline(ctx);
            Ok(())
        }
        Event::PlayJob { job, variables } => play(ctx, *job, variables),
        Event::UnscheduleJob { job } => ctx.fire(*job, JobEvent::Unschedule, none).map(drop),
        Event::Tick(facts) => {
            limits::tick(ctx, facts);
            Ok(())
        }
        Event::ResourceGranted { job } => crate::resource_group::granted(ctx, *job),
        Event::DownstreamCreated { bridge } => bridge::created(ctx, *bridge),
        Event::DownstreamCreationFailed { bridge, reason } => bridge::creation_failed(ctx, *bridge, *reason),
        Event::DownstreamStatus { bridge, status } => bridge::downstream_status(ctx, *bridge, *status),
        Event::DropNotRunnable { jobs, reason } => drop_not_runnable(ctx, jobs, *reason),
    }
}

fn job_of(ctx: &Ctx, id: JobId) -> Result<&Job, Rejected> {
    ctx.state.job(id).ok_or(Rejected::UnknownJob(id.0))
}

/// A user's cancel of one job: `cancelable?` is active or created, and not canceling.
fn cancel_job(ctx: &mut Ctx, id: JobId) -> Result<(), Rejected> {
    let job = job_of(ctx, id)?;
    let cancelable =
        (job.status.is_active() || job.status == Status::Created) && job.status != Status::Canceling;
    if !cancelable {
        return Err(Rejected::NotCancelable(id.0));
    }
    ctx.fire(id, JobEvent::Cancel, Extra::default()).map(drop)
}

/// `Ci::CancelPipelineService#force_execute`: every job in a cancelable status
/// (not manual ones, not canceling ones) is canceled.
pub(crate) fn cancel_pipeline(ctx: &mut Ctx, request: CancelRequest) -> Result<(), Rejected> {
    let cancelable: Vec<JobId> =
        ctx.state.jobs.iter().filter(|j| j.status.is_cancelable()).map(|j| j.id).collect();
    if cancelable.is_empty() {
        return Err(Rejected::PipelineNotCancelable);
    }
    if let Some(by) = request.auto_canceled_by {
        ctx.emit(Effect::MarkAutoCanceled { by });
    }
    for id in cancelable {
        let interruptible =
            ctx.state.job(id).and_then(|j| ctx.state.definition_of(j)).is_some_and(|d| d.interruptible);
        if request.interruptible_only && !interruptible {
            continue;
        }
        let _ = ctx.fire(id, JobEvent::Cancel, Extra::default());
    }
    let has_children = ctx
        .state
        .definitions
        .iter()
        .any(|d| matches!(d.kind, JobKind::Bridge { target: BridgeTarget::Child, .. }));
    if request.cascade && has_children {
        ctx.emit(Effect::CancelChildPipelines { auto_canceled_by: request.auto_canceled_by });
    }
    Ok(())
}

/// `Ci::DropPipelineService`: every cancelable job fails with `reason`.
fn drop_pipeline(ctx: &mut Ctx, reason: FailureReason) {
    let targets: Vec<JobId> =
        ctx.state.jobs.iter().filter(|j| j.status.is_cancelable()).map(|j| j.id).collect();
    for id in targets {
        let _ = ctx.fire(id, JobEvent::Drop, Extra { failure: Some((reason, None)), ..Extra::default() });
    }
}

/// EE's `DropNotRunnableBuildsService`: builds of a new pipeline that no runner will take.
/// GitLab runs it before the first processing, when every build is `created`; a build
/// that processing already made pending has not been taken either, so it fails too.
fn drop_not_runnable(ctx: &mut Ctx, jobs: &[JobId], reason: FailureReason) -> Result<(), Rejected> {
    for id in jobs {
        let job = job_of(ctx, *id)?;
        let is_build = ctx.state.definition_of(job).is_some_and(|d| !d.is_bridge());
        if is_build && matches!(job.status, Status::Created | Status::Pending) {
            let _ =
                ctx.fire(*id, JobEvent::Drop, Extra { failure: Some((reason, None)), ..Extra::default() });
        }
    }
    Ok(())
}

fn retry_one(ctx: &mut Ctx, id: JobId, variables: &[JobVariable], runnable: bool) -> Result<(), Rejected> {
    let job = job_of(ctx, id)?;
    if !retry::is_retryable(&ctx.state, job) {
        return Err(Rejected::NotRetryable(id.0));
    }
    let variables = (!variables.is_empty()).then(|| variables.to_vec());
    retry::retry_job(ctx, id, RetryOptions { enqueue_if_actionable: true, variables, runnable });
    Ok(())
}

/// `Ci::RetryPipelineService`: clone failed and canceled jobs (they wait again, manual
/// ones become manual again), then send the skipped ones back to processing.
fn retry_pipeline(ctx: &mut Ctx) {
    let failed: Vec<JobId> = ctx
        .state
        .current_jobs()
        .filter(|j| matches!(j.status, Status::Failed | Status::Canceled | Status::Canceling))
        .filter(|j| retry::is_retryable(&ctx.state, j))
        .map(|j| j.id)
        .collect();
    let options = RetryOptions { enqueue_if_actionable: false, variables: None, runnable: true };
    for id in failed {
        retry::clone_job(ctx, id, &options);
    }
    let skipped: Vec<JobId> =
        ctx.state.current_jobs().filter(|j| j.status == Status::Skipped).map(|j| j.id).collect();
    for id in skipped {
        let _ = ctx.fire(id, JobEvent::Process, Extra::default());
    }
}

/// `Ci::PlayBuildService` / `Ci::PlayBridgeService`.
fn play(ctx: &mut Ctx, id: JobId, variables: &[JobVariable]) -> Result<(), Rejected> {
    let job = job_of(ctx, id)?;
    if job.retried {
        return Err(Rejected::Retried(id.0));
    }
    let def = ctx.state.definition_of(job).ok_or(Rejected::UnknownJob(id.0))?;
    if !def.is_action() {
        return Err(Rejected::NotPlayable(id.0));
    }
    let status = job.status;
    if def.is_bridge() {
        if status != Status::Manual {
            return Err(Rejected::NotPlayable(id.0));
        }
        ctx.fire(id, JobEvent::BridgePending, Extra::default())?;
        retry::reset_skipped(ctx, &[id]);
        return Ok(());
    }
    if matches!(status, Status::Manual | Status::Scheduled) {
        if job.variables != variables {
            ctx.emit(Effect::SetJobVariables { job: id, variables: variables.to_vec() });
        }
        enqueue(ctx, id, JobEvent::Enqueue);
        retry::reset_skipped(ctx, &[id]);
        Ok(())
    } else if retry::is_retryable(&ctx.state, job) {
        let variables = (!variables.is_empty()).then(|| variables.to_vec());
        retry::retry_job(ctx, id, RetryOptions { enqueue_if_actionable: true, variables, runnable: true });
        Ok(())
    } else {
        Err(Rejected::NotPlayable(id.0))
    }
}
