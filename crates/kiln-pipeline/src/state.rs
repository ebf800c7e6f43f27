//! The persisted state of one pipeline: its job definitions, one record per job
//! (retries included), and its status. A plain value: the coordinator loads it,
//! asks what to do, and writes back the effects.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::definition::{JobDefinition, PipelineSettings};
use crate::failure_reason::FailureReason;
use crate::status::Status;

/// Seconds since the Unix epoch. The crate never reads a clock: every call gets `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// This time plus `seconds`, saturating.
    pub fn plus(self, seconds: u64) -> Timestamp {
        Timestamp(self.0.saturating_add(i64::try_from(seconds).unwrap_or(i64::MAX)))
    }
}

/// The coordinator's pipeline id (opaque here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PipelineId(pub u64);

/// A job's number inside its pipeline: its index in [`PipelineState::jobs`], in
/// creation order. The coordinator stores it with a unique `(pipeline, number)`
/// constraint, which turns two replicas creating the same retry into a conflict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct JobId(pub u32);

/// Index into [`PipelineState::definitions`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct DefinitionId(pub u32);

/// A variable given when playing or retrying a manual job; carried, never interpreted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobVariable {
    pub key: String,
    pub value: String,
}

/// The runtime record of one job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub id: JobId,
    pub definition: DefinitionId,
    pub status: Status,
    /// A newer job with the same name replaced this one; it no longer counts.
    pub retried: bool,
    /// Starts as the definition's value; becomes true when the job fails with an
    /// `allow_failure:exit_codes` code (GitLab's `force_allow_failure`).
    pub allow_failure: bool,
    pub failure_reason: Option<FailureReason>,
    pub exit_code: Option<i32>,
    /// Set on retries of manual and delayed jobs: processing enqueues them at once.
    pub enqueue_immediately: bool,
    pub variables: Vec<JobVariable>,
    /// Whether the job holds its resource group's resource.
    pub holds_resource: bool,
    /// The runner that took the job can run `after_script` on cancel (`canceling` state).
    pub graceful_cancel: bool,
    pub created_at: Timestamp,
    /// Last change of any kind (status or runner update): stuck detection reads it.
    pub updated_at: Timestamp,
    pub queued_at: Option<Timestamp>,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub scheduled_at: Option<Timestamp>,
}

impl Job {
    /// A fresh `created` job.
    pub fn new(id: JobId, definition: DefinitionId, allow_failure: bool, now: Timestamp) -> Job {
        Job {
            id,
            definition,
            status: Status::Created,
            retried: false,
            allow_failure,
            failure_reason: None,
            exit_code: None,
            enqueue_immediately: false,
            variables: Vec::new(),
            holds_resource: false,
            graceful_cancel: false,
            created_at: now,
            updated_at: now,
            queued_at: None,
            started_at: None,
            finished_at: None,
            scheduled_at: None,
        }
    }
}

/// One pipeline: what the coordinator persists and hands back on every call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PipelineState {
    pub id: PipelineId,
    pub status: Status,
    pub settings: PipelineSettings,
    pub definitions: Vec<JobDefinition>,
    pub jobs: Vec<Job>,
}

/// A state that cannot be processed: it was not produced by this crate's effects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("job record {index} has number {found}, expected {index}")]
    JobOutOfOrder { index: usize, found: u32 },
    #[error("job {job} refers to definition {definition}, which does not exist")]
    UnknownDefinition { job: u32, definition: u32 },
    #[error("two job definitions are named `{0}`")]
    DuplicateName(String),
    #[error("too many jobs in one pipeline")]
    TooManyJobs,
}

impl PipelineState {
    /// A new pipeline with one `created` job per definition, as pipeline creation leaves it.
    pub fn new(
        id: PipelineId,
        settings: PipelineSettings,
        definitions: Vec<JobDefinition>,
        now: Timestamp,
    ) -> Result<PipelineState, StateError> {
        let mut names = BTreeSet::new();
        for d in &definitions {
            if !names.insert(d.name.as_str()) {
                return Err(StateError::DuplicateName(d.name.clone()));
            }
        }
        let mut jobs = Vec::with_capacity(definitions.len());
        for (i, d) in definitions.iter().enumerate() {
            let n = u32::try_from(i).map_err(|_| StateError::TooManyJobs)?;
            jobs.push(Job::new(JobId(n), DefinitionId(n), d.allow_failure, now));
        }
        Ok(PipelineState { id, status: Status::Created, settings, definitions, jobs })
    }

    /// Checks the invariants every function here relies on.
    pub fn validate(&self) -> Result<(), StateError> {
        u32::try_from(self.jobs.len()).map_err(|_| StateError::TooManyJobs)?;
        for (index, job) in self.jobs.iter().enumerate() {
            if job.id.0 as usize != index {
                return Err(StateError::JobOutOfOrder { index, found: job.id.0 });
            }
            if self.definitions.get(job.definition.0 as usize).is_none() {
                return Err(StateError::UnknownDefinition { job: job.id.0, definition: job.definition.0 });
            }
        }
        Ok(())
    }

    /// The job with this number.
    pub fn job(&self, id: JobId) -> Option<&Job> {
        self.jobs.get(id.0 as usize)
    }

    pub(crate) fn job_mut(&mut self, id: JobId) -> Option<&mut Job> {
        self.jobs.get_mut(id.0 as usize)
    }

    /// The definition of a job.
    pub fn definition_of(&self, job: &Job) -> Option<&JobDefinition> {
        self.definitions.get(job.definition.0 as usize)
    }

    /// The job's name ("" for a record that fails validation).
    pub fn name_of(&self, job: &Job) -> &str {
        self.definition_of(job).map_or("", |d| d.name.as_str())
    }

    /// The jobs that count (GitLab's `current_jobs` / `latest`): not retried.
    pub fn current_jobs(&self) -> impl Iterator<Item = &Job> {
        self.jobs.iter().filter(|j| !j.retried)
    }

    /// The current job with this name.
    pub fn current_job_named(&self, name: &str) -> Option<&Job> {
        self.current_jobs().filter(|j| self.name_of(j) == name).last()
    }

    /// Current jobs by name (the last one wins, as GitLab's `index_by`).
    pub(crate) fn current_by_name(&self) -> BTreeMap<&str, JobId> {
        self.current_jobs().map(|j| (self.name_of(j), j.id)).collect()
    }

    /// The number the next created job gets.
    pub fn next_job_id(&self) -> JobId {
        JobId(u32::try_from(self.jobs.len()).unwrap_or(u32::MAX))
    }

    /// GitLab's `has_warnings?`: a current job failed or was canceled but was allowed to.
    pub fn has_warnings(&self) -> bool {
        self.current_jobs().any(|j| j.allow_failure && matches!(j.status, Status::Failed | Status::Canceled))
    }

    /// True while a build that is not interruptible has started (running, success or
    /// failed): `auto_cancel:on_new_commit: conservative` then leaves the pipeline alone.
    pub fn started_non_interruptible_build(&self) -> bool {
        self.jobs.iter().any(|j| {
            j.status.is_started() && self.definition_of(j).is_some_and(|d| !d.is_bridge() && !d.interruptible)
        })
    }
}
