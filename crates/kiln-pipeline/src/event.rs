//! Events: everything that can happen to a pipeline, and why an event can be refused.
//!
//! Runner reports, user actions, the coordinator's timer and downstream pipelines
//! all arrive as one closed enum; [`crate::handle`] turns an event into effects.

use serde::{Deserialize, Serialize};

use crate::failure_reason::FailureReason;
use crate::limits::Limits;
use crate::state::{JobId, JobVariable, PipelineId, StateError};
use crate::status::Status;

/// How a pipeline cancel is scoped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CancelRequest {
    /// Cancel only interruptible jobs (`auto_cancel:on_new_commit: interruptible`).
    pub interruptible_only: bool,
    /// Also cancel child pipelines (a user's cancel does; auto-cancel of redundant
    /// pipelines handles each pipeline of the family itself).
    pub cascade: bool,
    /// The newer pipeline that made this one redundant.
    pub auto_canceled_by: Option<PipelineId>,
}

/// Facts the coordinator gathers for a timer tick.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TickFacts {
    pub limits: Limits,
    /// Pending jobs that no online runner can take.
    pub no_runner: Vec<JobId>,
    /// Running jobs whose runner has not been heard from (no job request, no update,
    /// no log) since their last update: when such a job runs out of
    /// `running_without_update`, the runner is gone, not just the job's updates, and the
    /// job fails with `runner_system_failure` so that `retry: when: runner_system_failure`
    /// sends it to another runner.
    #[serde(default)]
    pub runner_lost: Vec<JobId>,
}

/// Something that happened to the pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// Process the pipeline as it is (after creation, or after any change).
    Process,
    /// A runner took a pending job.
    JobRunning {
        job: JobId,
        graceful_cancel: bool,
    },
    /// A runner reported progress (trace or state update) without finishing.
    JobUpdated {
        job: JobId,
    },
    JobSucceeded {
        job: JobId,
    },
    /// The job failed; runners report the reason, the coordinator may drop jobs too.
    JobFailed {
        job: JobId,
        reason: FailureReason,
        exit_code: Option<i32>,
    },
    CancelJob {
        job: JobId,
    },
    /// Finish a job stuck in `canceling` without waiting for its runner.
    ForceCancelJob {
        job: JobId,
    },
    CancelPipeline(CancelRequest),
    /// Fail every cancelable job with `reason` (user blocked, project deleted, ...).
    DropPipeline {
        reason: FailureReason,
    },
    /// Retry one finished job. `runnable` is false when no runner could take the new
    /// job (compute quota exhausted): it then fails with `ci_quota_exceeded`.
    RetryJob {
        job: JobId,
        variables: Vec<JobVariable>,
        runnable: bool,
    },
    /// Retry every failed or canceled job and reprocess the skipped ones.
    RetryPipeline,
    /// Play a manual job ("run now" for a delayed one); a finished manual job is retried.
    PlayJob {
        job: JobId,
        variables: Vec<JobVariable>,
    },
    /// Turn a delayed job back into a manual one.
    UnscheduleJob {
        job: JobId,
    },
    /// Time passed: start delayed jobs that are due and apply the server-side limits.
    Tick(TickFacts),
    /// The coordinator assigned the job's resource group resource to it.
    ResourceGranted {
        job: JobId,
    },
    DownstreamCreated {
        bridge: JobId,
    },
    DownstreamCreationFailed {
        bridge: JobId,
        reason: FailureReason,
    },
    /// The downstream pipeline of a trigger job changed status.
    DownstreamStatus {
        bridge: JobId,
        status: Status,
    },
    /// Jobs of a new pipeline that no runner will take (compute quota): they fail at once.
    DropNotRunnable {
        jobs: Vec<JobId>,
        reason: FailureReason,
    },
}

/// Why an event was refused. Refusing changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    #[error("inconsistent pipeline state: {0}")]
    State(#[from] StateError),
    #[error("job {0} does not exist")]
    UnknownJob(u32),
    #[error("job {job} cannot `{event}` while {from}")]
    IllegalTransition { job: u32, event: &'static str, from: Status },
    #[error("job {0} is not retryable")]
    NotRetryable(u32),
    #[error("job {0} is not playable")]
    NotPlayable(u32),
    #[error("job {0} is not cancelable")]
    NotCancelable(u32),
    #[error("pipeline has no cancelable job")]
    PipelineNotCancelable,
    #[error("job {0} is not a trigger job")]
    NotABridge(u32),
    #[error("job {0} was retried and no longer counts")]
    Retried(u32),
}
