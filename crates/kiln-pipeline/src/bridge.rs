//! Trigger jobs (`Ci::Bridge`): starting the downstream pipeline, and mirroring its
//! status with `strategy: depend`.

use crate::effect::Effect;
use crate::engine::{Ctx, Extra};
use crate::event::Rejected;
use crate::failure_reason::FailureReason;
use crate::machine::JobEvent;
use crate::state::{Job, JobId};
use crate::status::Status;

/// A pending trigger job runs and asks the coordinator to create its downstream
/// pipeline (`Ci::CreateDownstreamPipelineService` starts with `bridge.run`). The
/// `pending -> running` compare-and-set makes the trigger happen once.
pub(crate) fn start_step(ctx: &mut Ctx) {
    let pending: Vec<JobId> = ctx
        .state
        .current_jobs()
        .filter(|j| j.status == Status::Pending)
        .filter(|j| ctx.state.definition_of(j).is_some_and(|d| d.is_bridge()))
        .map(|j| j.id)
        .collect();
    for bridge in pending {
        if matches!(ctx.fire(bridge, JobEvent::Run, Extra::default()), Ok(true)) {
            ctx.emit(Effect::TriggerDownstream { bridge });
        }
    }
}

fn bridge_of(ctx: &Ctx, id: JobId) -> Result<(&Job, bool), Rejected> {
    let job = ctx.state.job(id).ok_or(Rejected::UnknownJob(id.0))?;
    let def = ctx.state.definition_of(job).ok_or(Rejected::UnknownJob(id.0))?;
    if !def.is_bridge() {
        return Err(Rejected::NotABridge(id.0));
    }
    Ok((job, def.is_dependent_bridge()))
}

/// The downstream pipeline exists: without `depend` the trigger job succeeds now; with
/// it, it keeps running until the downstream pipeline finishes. A trigger job that
/// was canceled meanwhile stays canceled (GitLab rescues the invalid transition).
pub(crate) fn created(ctx: &mut Ctx, id: JobId) -> Result<(), Rejected> {
    let (job, dependent) = bridge_of(ctx, id)?;
    if !dependent && job.status == Status::Running {
        ctx.fire(id, JobEvent::Succeed, Extra::default())?;
    }
    Ok(())
}

pub(crate) fn creation_failed(ctx: &mut Ctx, id: JobId, reason: FailureReason) -> Result<(), Rejected> {
    bridge_of(ctx, id)?;
    ctx.fire(id, JobEvent::Drop, Extra { failure: Some((reason, None)), ..Extra::default() }).map(drop)
}

/// `Ci::Bridge#inherit_status_from_downstream!`: only `depend` trigger jobs follow,
/// and only finished downstream statuses count.
pub(crate) fn downstream_status(ctx: &mut Ctx, id: JobId, status: Status) -> Result<(), Rejected> {
    let (_, dependent) = bridge_of(ctx, id)?;
    if !dependent {
        return Ok(());
    }
    let event = match status {
        Status::Success => JobEvent::InheritSuccess,
        Status::Canceled => JobEvent::InheritCanceled,
        Status::Failed | Status::Skipped => JobEvent::InheritFailed,
        _ => return Ok(()),
    };
    ctx.fire(id, event, Extra::default()).map(drop)
}
