//! Jobs as the API and the runner payload see them: the row beside the state
//! machine's record (name, stage, runner, user, token), the stored specification,
//! and the lookups the coordinator's loops need (stale jobs, due delayed jobs,
//! resource groups).

use kiln_pipeline::resource_group::{Candidate, ProcessMode};
use kiln_pipeline::{FailureReason, JobDefinition, JobId, PipelineId, Status};
use serde::Serialize;

use crate::Store;
use crate::codec::{Millis, Page, Paged};
use crate::db::{read_tx, write_tx};
use crate::error::{Error, Result};
use crate::ids::{BuildId, ProjectId, RunnerId, RunnerManagerId, UserId};
use crate::token;

/// One job (a build or a trigger job), instance-wide.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobRecord {
    pub id: BuildId,
    pub pipeline_id: PipelineId,
    pub project_id: ProjectId,
    /// Number inside the pipeline (`kiln_pipeline`'s job id).
    pub number: JobId,
    pub name: String,
    pub stage: String,
    pub stage_idx: u32,
    /// A trigger job (GitLab's bridge).
    pub bridge: bool,
    pub status: Status,
    pub retried: bool,
    pub allow_failure: bool,
    pub failure_reason: Option<FailureReason>,
    pub exit_code: Option<i32>,
    /// The user the job runs as (changes on a manual play or a retry).
    pub user_id: Option<UserId>,
    pub runner_id: Option<RunnerId>,
    pub runner_manager_id: Option<RunnerManagerId>,
    pub tags: Vec<String>,
    pub downstream_pipeline_id: Option<PipelineId>,
    pub erased_at: Option<Millis>,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub queued_at: Option<Millis>,
    pub started_at: Option<Millis>,
    pub finished_at: Option<Millis>,
    pub scheduled_at: Option<Millis>,
}

/// Which jobs to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub project: Option<ProjectId>,
    pub pipeline: Option<PipelineId>,
    pub runner: Option<RunnerId>,
    /// GitLab's `scope[]`: any of these statuses (empty: all).
    pub statuses: Vec<Status>,
    /// Builds only, trigger jobs only, or both.
    pub bridge: Option<bool>,
    /// Also list jobs that a retry replaced (GitLab's `include_retried`).
    pub include_retried: bool,
}

/// A job the server-side limits may act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobRef {
    pub build: BuildId,
    pub pipeline: PipelineId,
    pub number: JobId,
}

/// A resource group's configuration and holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceGroup {
    pub project_id: ProjectId,
    pub key: String,
    pub process_mode: ProcessMode,
    pub holder: Option<BuildId>,
}

impl Store {
    /// The job with this id.
    pub async fn job(&self, id: BuildId) -> Result<JobRecord> {
        read_tx!(self, |c, q| q::jobs::by_id(c, id).await?)
    }

    /// The job with this number in its pipeline.
    pub async fn job_by_number(&self, pipeline: PipelineId, number: JobId) -> Result<JobRecord> {
        read_tx!(self, |c, q| q::jobs::by_number(c, pipeline, number).await?)
    }

    /// Jobs, newest first.
    pub async fn list_jobs(&self, filter: &JobFilter, page: Page) -> Result<Paged<JobRecord>> {
        read_tx!(self, |c, q| q::jobs::list(c, filter, page).await?)
    }

    /// The job's stored specification, as the server gave it at creation.
    pub async fn job_spec(&self, id: BuildId) -> Result<serde_json::Value> {
        crate::db::read_one!(self, |c, q| q::jobs::spec(c, id).await?)
    }

    /// The variables a person gave when playing or retrying the job (the runner
    /// payload's highest-precedence ones), without loading the whole pipeline.
    pub async fn job_variables(&self, id: BuildId) -> Result<Vec<kiln_pipeline::JobVariable>> {
        crate::db::read_one!(self, |c, q| q::jobs::variables(c, id).await?)
    }

    /// [`Store::job_spec`] and [`Store::job_variables`] in one read: the runner
    /// payload needs both for every claimed job.
    pub async fn job_spec_and_variables(
        &self,
        id: BuildId,
    ) -> Result<(serde_json::Value, Vec<kiln_pipeline::JobVariable>)> {
        crate::db::read_one!(self, |c, q| q::jobs::spec_and_variables(c, id).await?)
    }

    /// The lowest stage index of the pipeline's jobs (`None`: no jobs). A job in
    /// that stage has no earlier-stage jobs to download artifacts from, so the
    /// runner payload can skip loading the whole pipeline for it.
    pub async fn first_stage_index(&self, pipeline: kiln_pipeline::PipelineId) -> Result<Option<u32>> {
        crate::db::read_one!(self, |c, q| q::jobs::first_stage_index(c, pipeline).await?)
    }

    /// The job's state-machine definition.
    pub async fn job_definition(&self, id: BuildId) -> Result<JobDefinition> {
        read_tx!(self, |c, q| q::jobs::definition(c, id).await?)
    }

    /// The job a `glcbt-` job token belongs to. The caller checks that the job is
    /// still running (tokens are valid only then).
    pub async fn job_by_token(&self, token: &str) -> Result<JobRecord> {
        let digest = token::digest(token);
        let (job, stored) = read_tx!(self, |c, q| q::jobs::by_token_digest(c, &digest).await?)?;
        if !token::matches(token, &stored) {
            return Err(Error::NotFound("job token"));
        }
        Ok(job)
    }

    /// Sets the user a job runs as (a manual play or retry by someone else).
    pub async fn set_job_user(&self, id: BuildId, user: Option<UserId>) -> Result<()> {
        write_tx!(self, |c, q| q::jobs::set_user(c, id, user).await?)
    }

    /// Links a trigger job to the pipeline it created.
    pub async fn set_job_downstream(&self, id: BuildId, downstream: PipelineId) -> Result<()> {
        write_tx!(self, |c, q| q::jobs::set_downstream(c, id, downstream).await?)
    }

    /// Marks a job erased (its trace and artifacts are deleted by the caller).
    pub async fn erase_job(&self, id: BuildId, now: Millis) -> Result<()> {
        write_tx!(self, |c, q| q::jobs::erase(c, id, now).await?)
    }

    /// Current jobs in one of `statuses` not updated since `before`, oldest first
    /// (stuck pending jobs, running jobs without updates).
    pub async fn stale_jobs(&self, statuses: &[Status], before: Millis, limit: i64) -> Result<Vec<JobRef>> {
        read_tx!(self, |c, q| q::jobs::stale(c, statuses, before, limit).await?)
    }

    /// Delayed (`scheduled`) jobs whose time has come.
    pub async fn due_scheduled_jobs(&self, now: Millis, limit: i64) -> Result<Vec<JobRef>> {
        read_tx!(self, |c, q| q::jobs::due_scheduled(c, now, limit).await?)
    }

    /// A resource group (created with the default mode on first use).
    pub async fn resource_group(&self, project: ProjectId, key: &str) -> Result<ResourceGroup> {
        write_tx!(self, |c, q| q::jobs::resource_group(c, project, key).await?)
    }

    /// Sets a resource group's `process_mode`.
    pub async fn set_resource_group_mode(
        &self,
        project: ProjectId,
        key: &str,
        mode: ProcessMode,
    ) -> Result<()> {
        write_tx!(self, |c, q| q::jobs::set_resource_group_mode(c, project, key, mode).await?)
    }

    /// Every job of the group across the project's pipelines, for
    /// [`kiln_pipeline::resource_group::next_to_assign`].
    pub async fn resource_group_candidates(&self, project: ProjectId, key: &str) -> Result<Vec<Candidate>> {
        read_tx!(self, |c, q| q::jobs::resource_candidates(c, project, key).await?)
    }

    /// Gives the free resource to a job (compare-and-set: `false` when someone holds
    /// it). Follow with `Event::ResourceGranted` for the job's pipeline.
    pub async fn grant_resource(&self, project: ProjectId, key: &str, job: BuildId) -> Result<bool> {
        write_tx!(self, |c, q| q::jobs::grant_resource(c, project, key, job).await?)
    }
}
