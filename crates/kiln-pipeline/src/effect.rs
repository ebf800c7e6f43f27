//! Effects: what the coordinator must persist or do after a call.
//!
//! # Contract
//!
//! Every effect is a compare-and-set against the state it was computed from:
//! `SetJobStatus` names the status it expects (`from`), `CreateJob` names the number
//! the new job must get and the job it replaces, `SetPipelineStatus` names the
//! pipeline's current status. The coordinator applies the effects of one call in
//! order, in one transaction, and aborts the transaction when any expectation does
//! not hold (another replica got there first); it then reloads the state and asks
//! again. Because every decision is a function of the persisted state (plus the
//! event and `now`), asking again converges: processing a processed state yields no
//! effects.

use serde::{Deserialize, Serialize};

use crate::failure_reason::FailureReason;
use crate::state::{DefinitionId, JobId, JobVariable, PipelineId, Timestamp};
use crate::status::Status;

/// One job status change, with the data that goes with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobTransition {
    pub job: JobId,
    /// The status the job must have now (compare-and-set).
    pub from: Status,
    pub to: Status,
    pub at: Timestamp,
    /// Set when `to` is `failed`.
    pub failure_reason: Option<FailureReason>,
    pub exit_code: Option<i32>,
    /// The failure's exit code is in `allow_failure:exit_codes`: the job's
    /// `allow_failure` becomes true.
    pub force_allow_failure: bool,
    /// Set when `to` is `scheduled`.
    pub scheduled_at: Option<Timestamp>,
    /// Set when a runner takes the job: whether it runs `after_script` on cancel.
    pub graceful_cancel: Option<bool>,
}

/// A job to insert (a retry, or a play of a finished manual job).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewJob {
    /// Must equal the number of job records the pipeline has (unique per pipeline).
    pub id: JobId,
    pub definition: DefinitionId,
    pub allow_failure: bool,
    pub enqueue_immediately: bool,
    pub variables: Vec<JobVariable>,
    pub at: Timestamp,
}

/// Something the coordinator must persist or do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Effect {
    /// Change a job's status (compare-and-set on `from`).
    SetJobStatus(JobTransition),
    /// Insert a job; `replaces` (which must not be retried yet) is marked retried in the
    /// same step, so it no longer counts.
    CreateJob { job: NewJob, replaces: Option<JobId> },
    /// Replace the variables of a manual job being played.
    SetJobVariables { job: JobId, variables: Vec<JobVariable> },
    /// A runner reported progress: only `updated_at` changes.
    TouchJob { job: JobId, at: Timestamp },
    /// Change the pipeline's status (compare-and-set on `from`).
    SetPipelineStatus { from: Status, to: Status },
    /// Record which newer pipeline auto-canceled this one.
    MarkAutoCanceled { by: PipelineId },
    /// Create the downstream pipeline of this trigger job, then report
    /// `DownstreamCreated` or `DownstreamCreationFailed`.
    TriggerDownstream { bridge: JobId },
    /// Cancel this pipeline's child pipelines (parent-child only, not multi-project).
    CancelChildPipelines { auto_canceled_by: Option<PipelineId> },
    /// A job of this resource group is waiting: run the group's assignment
    /// ([`crate::resource_group::next_to_assign`]) across pipelines.
    RequestResource { group: String },
    /// The job now holds the group's resource (the coordinator already did the
    /// compare-and-set on the resource when it granted it).
    HoldResource { group: String, job: JobId },
    /// The job finished: free the resource it held (compare-and-set on the holder),
    /// then run the group's assignment again.
    ReleaseResource { group: String, job: JobId },
}
