//! The entry point: `(state, event, now) -> (state, effects)`, and the working
//! context every decision runs in. Effects are applied to a working copy as they
//! are decided, so later decisions in the same call see earlier ones, exactly as
//! GitLab's processing updates its status collection while it walks the jobs.

use serde::{Deserialize, Serialize};

use crate::actions;
use crate::apply::apply;
use crate::composite::Composite;
use crate::definition::OnJobFailure;
use crate::effect::{Effect, JobTransition};
use crate::event::{CancelRequest, Event, Rejected};
use crate::failure_reason::FailureReason;
use crate::machine::{JobEvent, job_target, pipeline_target};
use crate::process as processing;
use crate::retry;
use crate::state::{JobId, PipelineState, Timestamp};
use crate::status::Status;

/// The result of a call: the state after the effects, and the effects in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub state: PipelineState,
    pub effects: Vec<Effect>,
}

/// Handles one event and processes the pipeline until nothing more changes.
///
/// Pure and idempotent: the result depends only on `state`, `event` and `now`, and
/// `handle(outcome.state, Event::Process, now)` yields no effects. A refused event
/// (for example retrying a running job) returns `Err` and changes nothing.
pub fn handle(state: &PipelineState, event: &Event, now: Timestamp) -> Result<Outcome, Rejected> {
    state.validate()?;
    let mut ctx = Ctx::new(state.clone(), now);
    actions::dispatch(&mut ctx, event)?;
    ctx.settle();
    // `on_job_failure: all` cancels after processing has seen the failure, as GitLab's
    // asynchronous cancel worker does; a cancel can cause no further failures, so
    // this runs at most once or twice.
    for _ in 0..4 {
        if !std::mem::take(&mut ctx.cancel_for_failure) {
            break;
        }
        let request = CancelRequest { interruptible_only: false, cascade: true, auto_canceled_by: None };
        // Nothing left to cancel is fine here.
        let _ = actions::cancel_pipeline(&mut ctx, request);
        ctx.settle();
    }
    Ok(Outcome { state: ctx.state, effects: ctx.effects })
}

/// Processes the pipeline as it is: `handle(state, &Event::Process, now)`.
pub fn process(state: &PipelineState, now: Timestamp) -> Result<Outcome, Rejected> {
    handle(state, &Event::Process, now)
}

/// Extra data for a job transition.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Extra {
    pub(crate) failure: Option<(FailureReason, Option<i32>)>,
    pub(crate) scheduled_at: Option<Timestamp>,
    pub(crate) graceful_cancel: Option<bool>,
}

pub(crate) struct Ctx {
    pub(crate) state: PipelineState,
    pub(crate) effects: Vec<Effect>,
    pub(crate) now: Timestamp,
    /// A job failed that makes `on_job_failure: all` cancel the pipeline.
    pub(crate) cancel_for_failure: bool,
}

impl Ctx {
    fn new(state: PipelineState, now: Timestamp) -> Ctx {
        Ctx { state, effects: Vec::new(), now, cancel_for_failure: false }
    }

    /// Records an effect and applies it to the working state. The effects decided
    /// here always match the working state, so applying cannot fail.
    pub(crate) fn emit(&mut self, effect: Effect) {
        if apply(&mut self.state, &effect).is_ok() {
            self.effects.push(effect);
        }
    }

    /// Fires a state machine event on a job. `Ok(false)` when the job is already in
    /// the target status (GitLab's loopback), `Err` when the event is illegal now.
    pub(crate) fn fire(&mut self, id: JobId, event: JobEvent, extra: Extra) -> Result<bool, Rejected> {
        let job = self.state.job(id).ok_or(Rejected::UnknownJob(id.0))?;
        let def = self.state.definition_of(job).ok_or(Rejected::UnknownJob(id.0))?;
        let from = job.status;
        let to = job_target(event, from, def, job.graceful_cancel).ok_or(Rejected::IllegalTransition {
            job: id.0,
            event: event.name(),
            from,
        })?;
        if to == from {
            return Ok(false);
        }
        let (failure_reason, exit_code, force_allow_failure) = match (to, extra.failure) {
            (Status::Failed, failure) => {
                let (reason, code) = failure.unwrap_or((FailureReason::UnknownFailure, None));
                let allowed_code = code.is_some_and(|c| def.allow_failure_exit_codes.contains(&c));
                (Some(reason), code, allowed_code && !job.allow_failure)
            }
            _ => (None, None, false),
        };
        let transition = JobTransition {
            job: id,
            from,
            to,
            at: self.now,
            failure_reason,
            exit_code,
            force_allow_failure,
            scheduled_at: if to == Status::Scheduled { extra.scheduled_at } else { None },
            graceful_cancel: extra.graceful_cancel,
        };
        self.emit(Effect::SetJobStatus(transition));
        if to == Status::Failed {
            self.note_failure(id);
        }
        Ok(true)
    }

    /// GitLab's `after_transition any => :failed` on processables: a failure that may
    /// not fail and will not be retried cancels the pipeline under `on_job_failure: all`.
    fn note_failure(&mut self, id: JobId) {
        if self.state.settings.on_job_failure != OnJobFailure::All {
            return;
        }
        let Some(job) = self.state.job(id) else { return };
        let Some(def) = self.state.definition_of(job) else { return };
        if job.allow_failure {
            return;
        }
        let will_retry = !def.is_bridge() && retry::auto_retry_allowed(&self.state, job);
        if !will_retry {
            self.cancel_for_failure = true;
        }
    }

    /// Processes until nothing changes, then derives the pipeline status.
    pub(crate) fn settle(&mut self) {
        let bound = self.state.jobs.len().saturating_mul(4).saturating_add(8);
        for _ in 0..bound {
            let before = self.effects.len();
            retry::auto_retry_step(self);
            crate::resource_group::release_step(self);
            processing::pass(self);
            crate::bridge::start_step(self);
            if self.effects.len() == before {
                break;
            }
        }
        self.update_pipeline_status();
    }

    fn update_pipeline_status(&mut self) {
        let composite: Composite = self.state.current_jobs().map(|j| (j.status, j.allow_failure)).collect();
        let derived = composite.status().unwrap_or(Status::Success);
        let from = self.state.status;
        if let Some(to) = pipeline_target(from, derived) {
            self.emit(Effect::SetPipelineStatus { from, to });
        }
    }
}
