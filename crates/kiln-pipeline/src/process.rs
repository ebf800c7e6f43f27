//! One processing pass (`Ci::PipelineProcessing::AtomicProcessingService` with
//! `Ci::ProcessBuildService`): every `created` job whose stage or needs are complete
//! is started, made manual, scheduled or skipped.
//!
//! Stages are walked in order; inside a stage the created jobs are sorted so that a
//! job comes after the jobs it needs, and each decision is visible to the next one.

use std::collections::{BTreeMap, BTreeSet};

use crate::composite::Composite;
use crate::definition::When;
use crate::effect::Effect;
use crate::engine::{Ctx, Extra};
use crate::machine::JobEvent;
use crate::state::{JobId, PipelineState};
use crate::status::Status;

/// Runs one pass over the pipeline.
pub(crate) fn pass(ctx: &mut Ctx) {
    let by_name: BTreeMap<String, JobId> =
        ctx.state.current_by_name().into_iter().map(|(n, id)| (n.to_string(), id)).collect();
    let mut stages: BTreeMap<u32, Vec<JobId>> = BTreeMap::new();
    for job in ctx.state.current_jobs() {
        if let Some(def) = ctx.state.definition_of(job) {
            stages.entry(def.stage_index).or_default().push(job.id);
        }
    }
    // Everything before the current stage; stages never change once walked.
    let mut prior = Composite::new();
    for ids in stages.values() {
        let created: Vec<JobId> =
            ids.iter().copied().filter(|id| status(&ctx.state, *id) == Some(Status::Created)).collect();
        for id in dag_order(&ctx.state, &created) {
            let Some(previous) = previous_status(&ctx.state, id, &prior, &by_name) else { continue };
            if previous.is_complete() {
                process_job(ctx, id, previous);
            }
        }
        for id in ids {
            if let Some(job) = ctx.state.job(*id) {
                prior.add(job.status, job.allow_failure);
            }
        }
    }
}

fn status(state: &PipelineState, id: JobId) -> Option<Status> {
    state.job(id).map(|j| j.status)
}

/// What the job waits for: its needs (DAG) or every earlier stage. An empty set is
/// `success`: a job with `needs: []`, or whose optional needs are all absent, starts.
fn previous_status(
    state: &PipelineState,
    id: JobId,
    prior: &Composite,
    by_name: &BTreeMap<String, JobId>,
) -> Option<Status> {
    let job = state.job(id)?;
    let def = state.definition_of(job)?;
    let derived = match def.need_names() {
        Some(names) => {
            let needed: Composite = names
                .filter_map(|n| by_name.get(n))
                .filter_map(|id| state.job(*id))
                .map(|j| (j.status, j.allow_failure))
                .collect();
            needed.dag_status()
        }
        None => prior.status(),
    };
    Some(derived.unwrap_or(Status::Success))
}

/// `Ci::ProcessBuildService#execute`.
fn process_job(ctx: &mut Ctx, id: JobId, previous: Status) {
    let Some(job) = ctx.state.job(id) else { return };
    let Some(def) = ctx.state.definition_of(job) else { return };
    let valid: &[Status] = match def.when {
        When::OnSuccess | When::Manual | When::Delayed => {
            if def.is_dag() {
                &[Status::Success]
            } else {
                &[Status::Success, Status::Skipped]
            }
        }
        When::OnFailure => &[Status::Failed],
        When::Always => &[Status::Success, Status::Failed, Status::Skipped],
    };
    if !valid.contains(&previous) {
        let _ = ctx.fire(id, JobEvent::Skip, Extra::default());
        return;
    }
    if job.enqueue_immediately {
        enqueue(ctx, id, JobEvent::Enqueue);
    } else if def.is_schedulable() {
        let at = ctx.now.plus(def.start_in.unwrap_or(0));
        let _ = ctx.fire(id, JobEvent::Schedule, Extra { scheduled_at: Some(at), ..Extra::default() });
    } else if def.is_action() {
        let _ = ctx.fire(id, JobEvent::Actionize, Extra::default());
    } else {
        enqueue(ctx, id, JobEvent::Enqueue);
    }
}

/// Enqueues a job; one with a resource group waits for it, and the coordinator is
/// asked to run the group's assignment.
pub(crate) fn enqueue(ctx: &mut Ctx, id: JobId, event: JobEvent) -> bool {
    if !matches!(ctx.fire(id, event, Extra::default()), Ok(true)) {
        return false;
    }
    let waiting = ctx.state.job(id).filter(|j| j.status == Status::WaitingForResource);
    if let Some(group) =
        waiting.and_then(|j| ctx.state.definition_of(j)).and_then(|d| d.resource_group.clone())
    {
        ctx.emit(Effect::RequestResource { group });
    }
    true
}

/// Orders jobs so that each comes after the jobs it needs among `ids`
/// (GitLab's `Dag.order`, a depth-first topological sort in job order).
pub(crate) fn dag_order(state: &PipelineState, ids: &[JobId]) -> Vec<JobId> {
    let names: BTreeMap<&str, JobId> =
        ids.iter().filter_map(|id| state.job(*id)).map(|j| (state.name_of(j), j.id)).collect();
    let mut done = BTreeSet::new();
    let mut order = Vec::with_capacity(ids.len());
    for id in ids {
        visit(state, *id, &names, &mut done, &mut order);
    }
    order
}

fn visit(
    state: &PipelineState,
    root: JobId,
    names: &BTreeMap<&str, JobId>,
    done: &mut BTreeSet<JobId>,
    order: &mut Vec<JobId>,
) {
    // Iterative post-order, so a long chain of needs cannot overflow the stack;
    // `done` is marked on entry, which also stops at cycles.
    if !done.insert(root) {
        return;
    }
    let mut stack: Vec<(JobId, Vec<JobId>)> = vec![(root, children(state, root, names))];
    while let Some((id, pending)) = stack.last_mut() {
        if let Some(next) = pending.pop() {
            if done.insert(next) {
                let kids = children(state, next, names);
                stack.push((next, kids));
            }
        } else {
            order.push(*id);
            stack.pop();
        }
    }
}

fn children(state: &PipelineState, id: JobId, names: &BTreeMap<&str, JobId>) -> Vec<JobId> {
    let Some(def) = state.job(id).and_then(|j| state.definition_of(j)) else { return Vec::new() };
    let mut kids: Vec<JobId> =
        def.need_names().into_iter().flatten().filter_map(|n| names.get(n).copied()).collect();
    // Popped from the back: reverse so needs are visited in the order written.
    kids.reverse();
    kids
}
