//! Resource groups (`resource_group:`): one job at a time per group, across
//! pipelines. The queue spans pipelines, so it is an input: the coordinator lists the
//! group's jobs and [`next_to_assign`] says which one gets the free resource.

use serde::{Deserialize, Serialize};

use crate::effect::Effect;
use crate::engine::{Ctx, Extra};
use crate::event::Rejected;
use crate::machine::JobEvent;
use crate::state::{JobId, PipelineId, PipelineState};
use crate::status::Status;

/// `resource_group:process_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcessMode {
    /// Any waiting job, whichever comes.
    #[default]
    Unordered,
    /// The oldest pipeline first; its next job may still be `created` or `scheduled`,
    /// and then the resource waits for it.
    OldestFirst,
    /// The newest pipeline first, waiting for its upcoming job the same way.
    NewestFirst,
    /// The newest pipeline that has a job waiting now.
    NewestReadyFirst,
}

/// One job of a resource group, in any pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    pub pipeline: PipelineId,
    pub job: JobId,
    pub status: Status,
}

/// `Ci::ResourceGroup#upcoming_processables` followed by
/// `AssignResourceFromResourceGroupService`: the job that gets the resource, if it is
/// free and the first upcoming job is waiting for it.
pub fn next_to_assign(mode: ProcessMode, free: bool, candidates: &[Candidate]) -> Option<Candidate> {
    if !free {
        return None;
    }
    let waiting = |c: &&Candidate| c.status == Status::WaitingForResource;
    let upcoming =
        |c: &&Candidate| matches!(c.status, Status::Created | Status::Scheduled | Status::WaitingForResource);
    // Inside one pipeline, whatever is ready goes first, to avoid deadlocks.
    let rank = |c: &Candidate| (c.status != Status::WaitingForResource, c.job);
    let first = match mode {
        ProcessMode::Unordered => candidates.iter().filter(waiting).min_by_key(|c| (c.pipeline, c.job)),
        ProcessMode::OldestFirst => candidates.iter().filter(upcoming).min_by_key(|c| (c.pipeline, rank(c))),
        ProcessMode::NewestFirst => {
            candidates.iter().filter(upcoming).min_by_key(|c| (std::cmp::Reverse(c.pipeline), rank(c)))
        }
        ProcessMode::NewestReadyFirst => {
            candidates.iter().filter(waiting).min_by_key(|c| (std::cmp::Reverse(c.pipeline), c.job))
        }
    }?;
    (first.status == Status::WaitingForResource).then_some(*first)
}

/// This pipeline's jobs in `group`, as candidates for [`next_to_assign`].
pub fn candidates(state: &PipelineState, group: &str) -> Vec<Candidate> {
    state
        .jobs
        .iter()
        .filter(|j| state.definition_of(j).and_then(|d| d.resource_group.as_deref()) == Some(group))
        .map(|j| Candidate { pipeline: state.id, job: j.id, status: j.status })
        .collect()
}

/// The coordinator gave the job the resource: it becomes pending.
pub(crate) fn granted(ctx: &mut Ctx, id: JobId) -> Result<(), Rejected> {
    let job = ctx.state.job(id).ok_or(Rejected::UnknownJob(id.0))?;
    let group = ctx.state.definition_of(job).and_then(|d| d.resource_group.clone());
    let Some(group) = group else {
        return Err(Rejected::IllegalTransition { job: id.0, event: "assign_resource", from: job.status });
    };
    if job.status != Status::WaitingForResource {
        return Err(Rejected::IllegalTransition { job: id.0, event: "assign_resource", from: job.status });
    }
    ctx.emit(Effect::HoldResource { group, job: id });
    ctx.fire(id, JobEvent::EnqueueWaitingForResource, Extra::default()).map(drop)
}

/// A finished job frees its resource, and the group's queue moves on.
pub(crate) fn release_step(ctx: &mut Ctx) {
    let done: Vec<(JobId, String)> = ctx
        .state
        .jobs
        .iter()
        .filter(|j| j.holds_resource && j.status.is_complete())
        .filter_map(|j| Some((j.id, ctx.state.definition_of(j)?.resource_group.clone()?)))
        .collect();
    for (job, group) in done {
        ctx.emit(Effect::ReleaseResource { group: group.clone(), job });
        ctx.emit(Effect::RequestResource { group });
    }
}
