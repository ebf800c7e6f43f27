//! What a job is, as the plan describes it: the input the coordinator maps its
//! pipeline plan onto. Nothing here changes while a pipeline runs; a retry reuses
//! the definition of the job it replaces.

use serde::{Deserialize, Serialize};

use crate::failure_reason::RetryOn;

/// When a job runs, relative to what came before it (`when:`). `never` jobs are not
/// created, so they have no variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum When {
    #[default]
    OnSuccess,
    OnFailure,
    Always,
    Manual,
    Delayed,
}

/// One entry of `needs:`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Need {
    /// The needed job's name (after `parallel` expansion).
    pub job: String,
    /// `needs:optional`: the needed job may be absent from the pipeline.
    #[serde(default)]
    pub optional: bool,
    /// `needs:artifacts` (default true): the job downloads the needed job's artifacts.
    #[serde(default = "yes")]
    pub artifacts: bool,
}

fn yes() -> bool {
    true
}

/// `retry:`. `None` fields are absent from the configuration, which matters: an absent
/// `when` means `always` unless `exit_codes` is given.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Retry {
    pub max: Option<u32>,
    pub when: Option<Vec<RetryOn>>,
    pub exit_codes: Option<Vec<i32>>,
}

/// Where a trigger job's downstream pipeline lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BridgeTarget {
    /// `trigger:include`: a child pipeline in the same project (canceled with its parent).
    Child,
    /// `trigger:project`: a multi-project pipeline.
    Project,
}

/// Whether the job runs on a runner or triggers a downstream pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum JobKind {
    #[default]
    Build,
    /// A trigger job; with `depend` (`strategy: depend`) it mirrors the downstream pipeline's status.
    Bridge { target: BridgeTarget, depend: bool },
}

/// One job of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobDefinition {
    pub name: String,
    /// The position of the job's stage (`.pre` is 0).
    pub stage_index: u32,
    #[serde(default)]
    pub when: When,
    /// `start_in` of a delayed job, in seconds.
    #[serde(default)]
    pub start_in: Option<u64>,
    #[serde(default)]
    pub allow_failure: bool,
    /// `allow_failure:exit_codes`: a failure with one of these codes counts as allowed.
    #[serde(default)]
    pub allow_failure_exit_codes: Vec<i32>,
    /// `needs:`; `Some(vec![])` is `needs: []`, which starts the job at once. `None`
    /// means the job follows stage order.
    #[serde(default)]
    pub needs: Option<Vec<Need>>,
    /// `dependencies:`; `None` when absent (every earlier job's artifacts).
    #[serde(default)]
    pub dependencies: Option<Vec<String>>,
    #[serde(default)]
    pub retry: Retry,
    #[serde(default)]
    pub resource_group: Option<String>,
    #[serde(default)]
    pub interruptible: bool,
    /// The job's timeout in seconds, as resolved by the coordinator (job, project or runner).
    #[serde(default = "default_timeout")]
    pub timeout: u64,
    #[serde(default)]
    pub kind: JobKind,
}

fn default_timeout() -> u64 {
    3600
}

impl JobDefinition {
    /// A build job in `stage_index` with every keyword at its default.
    pub fn new(name: impl Into<String>, stage_index: u32) -> JobDefinition {
        JobDefinition {
            name: name.into(),
            stage_index,
            when: When::OnSuccess,
            start_in: None,
            allow_failure: false,
            allow_failure_exit_codes: Vec::new(),
            needs: None,
            dependencies: None,
            retry: Retry::default(),
            resource_group: None,
            interruptible: false,
            timeout: default_timeout(),
            kind: JobKind::Build,
        }
    }

    /// GitLab's `scheduling_type_dag?`: a job with `needs:` (even `needs: []`) waits
    /// only for its needs; the others wait for every earlier stage.
    pub fn is_dag(&self) -> bool {
        self.needs.is_some()
    }

    /// True for trigger jobs.
    pub fn is_bridge(&self) -> bool {
        matches!(self.kind, JobKind::Bridge { .. })
    }

    /// `schedulable?`: a delayed build with `start_in`.
    pub fn is_schedulable(&self) -> bool {
        !self.is_bridge() && self.when == When::Delayed && self.start_in.is_some()
    }

    /// `action?`: a job a person starts. Builds: manual and delayed (a delayed job
    /// without `start_in` waits like a manual one); bridges: manual only.
    pub fn is_action(&self) -> bool {
        match self.kind {
            JobKind::Build => matches!(self.when, When::Manual | When::Delayed),
            JobKind::Bridge { .. } => self.when == When::Manual,
        }
    }

    /// True for `strategy: depend` trigger jobs.
    pub fn is_dependent_bridge(&self) -> bool {
        matches!(self.kind, JobKind::Bridge { depend: true, .. })
    }

    /// The names this job waits for (its needs), or `None` for stage order.
    pub fn need_names(&self) -> Option<impl Iterator<Item = &str>> {
        self.needs.as_ref().map(|needs| needs.iter().map(|n| n.job.as_str()))
    }
}

/// `workflow:auto_cancel:on_new_commit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnNewCommit {
    /// Cancel the pipeline only while no non-interruptible job has started.
    #[default]
    Conservative,
    /// Cancel only the interruptible jobs, whatever else has started.
    Interruptible,
    None,
}

/// `workflow:auto_cancel:on_job_failure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnJobFailure {
    #[default]
    None,
    /// Cancel the whole pipeline as soon as a job fails (and will not be retried).
    All,
}

/// Pipeline-wide settings that processing needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PipelineSettings {
    #[serde(default)]
    pub on_new_commit: OnNewCommit,
    #[serde(default)]
    pub on_job_failure: OnJobFailure,
}
