//! Applying effects to a state value: what the coordinator does in its database,
//! done in memory, so that tests and `kiln exec` can run whole pipelines.

use crate::effect::{Effect, JobTransition, NewJob};
use crate::failure_reason::FailureReason;
use crate::state::{Job, JobId, PipelineState};
use crate::status::Status;

/// An effect whose expectation does not hold for this state (another writer got there first).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    #[error("job {0} does not exist")]
    UnknownJob(u32),
    #[error("job {job} is {found}, expected {expected}")]
    JobStatusChanged { job: u32, expected: Status, found: Status },
    #[error("new job number {found} is taken or out of sequence, expected {expected}")]
    JobNumberTaken { expected: u32, found: u32 },
    #[error("job {0} was already retried")]
    AlreadyRetried(u32),
    #[error("new job refers to definition {0}, which does not exist")]
    UnknownDefinition(u32),
    #[error("pipeline is {found}, expected {expected}")]
    PipelineStatusChanged { expected: Status, found: Status },
}

/// Applies one effect, checking its expectation first. Effects that only ask the
/// coordinator to act outside this pipeline (downstream pipelines, resource
/// assignment) leave the state unchanged, except for the resource flag.
pub fn apply(state: &mut PipelineState, effect: &Effect) -> Result<(), ApplyError> {
    match effect {
        Effect::SetJobStatus(t) => apply_transition(state, t),
        Effect::CreateJob { job, replaces } => create_job(state, job, *replaces),
        Effect::SetJobVariables { job, variables } => {
            existing(state, *job)?.variables = variables.clone();
            Ok(())
        }
        Effect::TouchJob { job, at } => {
            existing(state, *job)?.updated_at = *at;
            Ok(())
        }
        Effect::SetPipelineStatus { from, to } => {
            if state.status != *from {
                return Err(ApplyError::PipelineStatusChanged { expected: *from, found: state.status });
            }
            state.status = *to;
            Ok(())
        }
        Effect::HoldResource { job, .. } => {
            existing(state, *job)?.holds_resource = true;
            Ok(())
        }
        Effect::ReleaseResource { job, .. } => {
            existing(state, *job)?.holds_resource = false;
            Ok(())
        }
        Effect::MarkAutoCanceled { .. }
        | Effect::TriggerDownstream { .. }
        | Effect::CancelChildPipelines { .. }
        | Effect::RequestResource { .. } => Ok(()),
    }
}

/// Applies effects in order, stopping at the first whose expectation fails.
pub fn apply_all<'a>(
    state: &mut PipelineState,
    effects: impl IntoIterator<Item = &'a Effect>,
) -> Result<(), ApplyError> {
    effects.into_iter().try_for_each(|e| apply(state, e))
}

fn existing(state: &mut PipelineState, id: JobId) -> Result<&mut Job, ApplyError> {
    state.job_mut(id).ok_or(ApplyError::UnknownJob(id.0))
}

fn apply_transition(state: &mut PipelineState, t: &JobTransition) -> Result<(), ApplyError> {
    let job = existing(state, t.job)?;
    if job.status != t.from {
        return Err(ApplyError::JobStatusChanged { job: t.job.0, expected: t.from, found: job.status });
    }
    job.status = t.to;
    job.updated_at = t.at;
    if t.from == Status::Scheduled {
        job.scheduled_at = None;
    }
    match t.to {
        Status::Pending => job.queued_at = Some(t.at),
        Status::Running => job.started_at = Some(t.at),
        Status::Scheduled => job.scheduled_at = t.scheduled_at,
        _ => {}
    }
    if matches!(t.to, Status::Success | Status::Failed | Status::Canceled) {
        job.finished_at = Some(t.at);
    }
    if t.to == Status::Failed {
        job.failure_reason = Some(t.failure_reason.unwrap_or(FailureReason::UnknownFailure));
        job.exit_code = t.exit_code;
        if t.force_allow_failure {
            job.allow_failure = true;
        }
    }
    if let Some(graceful) = t.graceful_cancel {
        job.graceful_cancel = graceful;
    }
    Ok(())
}

fn create_job(state: &mut PipelineState, new: &NewJob, replaces: Option<JobId>) -> Result<(), ApplyError> {
    let expected = state.next_job_id();
    if new.id != expected {
        return Err(ApplyError::JobNumberTaken { expected: expected.0, found: new.id.0 });
    }
    if state.definitions.get(new.definition.0 as usize).is_none() {
        return Err(ApplyError::UnknownDefinition(new.definition.0));
    }
    if let Some(old) = replaces {
        let old = existing(state, old)?;
        if old.retried {
            return Err(ApplyError::AlreadyRetried(old.id.0));
        }
        old.retried = true;
    }
    let mut job = Job::new(new.id, new.definition, new.allow_failure, new.at);
    job.enqueue_immediately = new.enqueue_immediately;
    job.variables = new.variables.clone();
    state.jobs.push(job);
    Ok(())
}
