//! Pipelines: creation from a plan (rows for the pipeline, its job definitions and
//! one `created` job each), reading and listing, the persisted
//! [`kiln_pipeline::PipelineState`], and the processing requests that make sure a
//! changed pipeline is processed again even across a crash.

use kiln_pipeline::{JobDefinition, PipelineId, PipelineSettings, PipelineState, Status};
use serde::Serialize;

use crate::Store;
use crate::codec::{Millis, Page, Paged, named_enum};
use crate::db::{read_tx, write_tx};
use crate::error::{Error, Result};
use crate::ids::{BuildId, ProjectId, ScheduleId, TriggerId, UserId};
use crate::variables::VariableType;

named_enum! {
    /// What created a pipeline (GitLab's `ci_pipelines.source`).
    pub enum PipelineSource {
        Unknown = "unknown",
        Push = "push",
        Web = "web",
        Trigger = "trigger",
        Schedule = "schedule",
        Api = "api",
        External = "external",
        Pipeline = "pipeline",
        Chat = "chat",
        Webide = "webide",
        MergeRequestEvent = "merge_request_event",
        ExternalPullRequestEvent = "external_pull_request_event",
        ParentPipeline = "parent_pipeline",
    }
}

named_enum! {
    /// Why a pipeline failed without running (GitLab's `ci_pipelines.failure_reason`).
    pub enum PipelineFailureReason {
        UnknownFailure = "unknown_failure",
        ConfigError = "config_error",
        ExternalValidationFailure = "external_validation_failure",
        UserNotVerified = "user_not_verified",
        ActivityLimitExceeded = "activity_limit_exceeded",
        SizeLimitExceeded = "size_limit_exceeded",
        JobActivityLimitExceeded = "job_activity_limit_exceeded",
        DeploymentsLimitExceeded = "deployments_limit_exceeded",
        ProjectDeleted = "project_deleted",
        UserBlocked = "user_blocked",
        FilteredByRules = "filtered_by_rules",
        FilteredByWorkflowRules = "filtered_by_workflow_rules",
    }
}

/// A variable given to one pipeline (API, trigger, schedule, manual run).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct PipelineVariable {
    pub key: String,
    pub value: String,
    pub variable_type: VariableType,
}

/// A pipeline row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pipeline {
    pub id: PipelineId,
    pub project_id: ProjectId,
    /// Number inside the project, from 1.
    pub iid: i64,
    pub sha: String,
    pub before_sha: Option<String>,
    pub ref_name: String,
    pub tag: bool,
    /// Whether the ref was protected when the pipeline was created.
    pub protected: bool,
    pub source: PipelineSource,
    pub status: Status,
    /// The actor: the pusher, the API caller, the schedule or trigger owner.
    pub user_id: Option<UserId>,
    pub schedule_id: Option<ScheduleId>,
    pub trigger_id: Option<TriggerId>,
    pub parent_pipeline_id: Option<PipelineId>,
    /// The trigger job that created this pipeline.
    pub parent_job_id: Option<BuildId>,
    pub settings: PipelineSettings,
    pub variables: Vec<PipelineVariable>,
    /// The configuration errors of a pipeline that failed with `config_error`.
    pub yaml_errors: Option<String>,
    pub failure_reason: Option<PipelineFailureReason>,
    pub auto_canceled_by: Option<PipelineId>,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub started_at: Option<Millis>,
    pub finished_at: Option<Millis>,
}

/// One job of a new pipeline: the state machine's definition, and what the
/// coordinator keeps beside it.
#[derive(Debug, Clone)]
pub struct PlannedJob {
    pub definition: JobDefinition,
    pub stage: String,
    /// Runner tags the job needs (matching reads them from the queue).
    pub tags: Vec<String>,
    /// The job's full specification (the server's `kiln_config::plan::spec::JobSpec`),
    /// stored as given and handed back for the runner payload.
    pub spec: serde_json::Value,
}

/// What creating a pipeline takes.
#[derive(Debug, Clone)]
pub struct NewPipeline {
    pub project: ProjectId,
    pub sha: String,
    pub before_sha: Option<String>,
    pub ref_name: String,
    pub tag: bool,
    pub protected: bool,
    pub source: PipelineSource,
    pub user: Option<UserId>,
    pub schedule: Option<ScheduleId>,
    pub trigger: Option<TriggerId>,
    pub parent_pipeline: Option<PipelineId>,
    pub parent_job: Option<BuildId>,
    pub settings: PipelineSettings,
    pub variables: Vec<PipelineVariable>,
    /// `created`, or `failed` with a `failure_reason` (and `yaml_errors`) for a
    /// pipeline that cannot run.
    pub status: Status,
    pub failure_reason: Option<PipelineFailureReason>,
    pub yaml_errors: Option<String>,
    pub jobs: Vec<PlannedJob>,
}

/// Which pipelines to list (GitLab's filters), newest first.
#[derive(Debug, Clone, Default)]
pub struct PipelineFilter {
    pub project: Option<ProjectId>,
    pub ref_name: Option<String>,
    pub sha: Option<String>,
    pub status: Option<Status>,
    pub source: Option<PipelineSource>,
    pub user: Option<UserId>,
    pub parent_pipeline: Option<PipelineId>,
}

impl Store {
    /// Creates a pipeline, its job definitions and one `created` job per definition
    /// (numbered from 0 in plan order), gives it the project's next `iid`, and asks
    /// for it to be processed. Returns the row and the state to process.
    pub async fn create_pipeline(&self, new: &NewPipeline) -> Result<(Pipeline, PipelineState)> {
        let now = Millis::now();
        let definitions: Vec<JobDefinition> = new.jobs.iter().map(|j| j.definition.clone()).collect();
        // Validates names before anything is written.
        PipelineState::new(PipelineId(0), new.settings, definitions, now.to_timestamp())
            .map_err(|e| Error::Invalid(format!("pipeline plan: {e}")))?;
        let pipeline = write_tx!(self, |c, q| q::pipelines::create(c, new, now).await?)?;
        let state = self.pipeline_state(pipeline.id).await?;
        Ok((pipeline, state))
    }

    /// The pipeline with this id.
    pub async fn pipeline(&self, id: PipelineId) -> Result<Pipeline> {
        read_tx!(self, |c, q| q::pipelines::by_id(c, id).await?)
    }

    /// The pipeline with this number in its project.
    pub async fn pipeline_by_iid(&self, project: ProjectId, iid: i64) -> Result<Pipeline> {
        read_tx!(self, |c, q| q::pipelines::by_iid(c, project, iid).await?)
    }

    /// Pipelines, newest first.
    pub async fn list_pipelines(&self, filter: &PipelineFilter, page: Page) -> Result<Paged<Pipeline>> {
        read_tx!(self, |c, q| q::pipelines::list(c, filter, page).await?)
    }

    /// The newest pipeline of a ref (GitLab's `/pipelines/latest`).
    pub async fn latest_pipeline(&self, project: ProjectId, ref_name: &str) -> Result<Pipeline> {
        let filter = PipelineFilter {
            project: Some(project),
            ref_name: Some(ref_name.to_owned()),
            ..Default::default()
        };
        let page = self.list_pipelines(&filter, Page { offset: 0, limit: 1 }).await?;
        page.items.into_iter().next().ok_or(Error::NotFound("pipeline"))
    }

    /// Deletes a pipeline with its jobs, and returns the blob keys of its traces and
    /// artifacts for the caller to delete from the blob store.
    pub async fn delete_pipeline(&self, id: PipelineId) -> Result<Vec<String>> {
        write_tx!(self, |c, q| q::pipelines::delete(c, id).await?)
    }

    /// The persisted state of one pipeline, as `kiln_pipeline` works on it.
    pub async fn pipeline_state(&self, id: PipelineId) -> Result<PipelineState> {
        read_tx!(self, |c, q| q::pipelines::state(c, id).await?)
    }

    /// Records that a pipeline must be processed (again). Idempotent.
    pub async fn request_processing(&self, id: PipelineId) -> Result<()> {
        let now = Millis::now();
        write_tx!(self, |c, q| q::pipelines::request_processing(c, id, now).await?)
    }

    /// Pipelines waiting to be processed, oldest request first, each with a marker
    /// (its newest request) to pass back to [`Store::processing_done`].
    pub async fn pipelines_to_process(&self, limit: i64) -> Result<Vec<(PipelineId, Millis)>> {
        read_tx!(self, |c, q| q::pipelines::to_process(c, limit).await?)
    }

    /// Clears the pipeline's requests up to `requested_at` (the marker
    /// [`Store::pipelines_to_process`] gave). Returns `false` when a newer request came
    /// in meanwhile: the pipeline stays queued.
    pub async fn processing_done(&self, id: PipelineId, requested_at: Millis) -> Result<bool> {
        write_tx!(self, |c, q| q::pipelines::processing_done(c, id, requested_at).await?)
    }
}
