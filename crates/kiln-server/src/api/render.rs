//! Rendering pipelines and jobs with what they show besides their rows
//! (users, commits, downstream pipelines), with small caches so a list
//! loads each user and commit once.

use std::collections::HashMap;

use kiln_pipeline::Status;
use kiln_store::jobs::JobRecord;
use kiln_store::pipelines::Pipeline;
use kiln_store::{Millis, UserId};

use crate::app::App;
use crate::entities::commit::CommitEntity;
use crate::entities::job::{JobContext, JobEntity};
use crate::entities::pipeline::{PipelineEntity, PipelineExtras};
use crate::entities::user::UserEntity;
use crate::error::{ApiError, ApiResult};

/// Renders entities of one project.
pub(crate) struct Renderer<'a> {
    app: &'a App,
    project_path: String,
    project_id: kiln_store::ProjectId,
    users: HashMap<UserId, Option<UserEntity>>,
    commits: HashMap<String, Option<CommitEntity>>,
    pipelines: HashMap<u64, Pipeline>,
}

impl<'a> Renderer<'a> {
    pub(crate) fn new(app: &'a App, project: &kiln_store::projects::Project) -> Renderer<'a> {
        Renderer {
            app,
            project_path: project.full_path.clone(),
            project_id: project.id,
            users: HashMap::new(),
            commits: HashMap::new(),
            pipelines: HashMap::new(),
        }
    }

    async fn user(&mut self, id: Option<UserId>) -> Option<UserEntity> {
        let id = id?;
        if !self.users.contains_key(&id) {
            let user = self.app.store.user(id).await.ok().map(|u| UserEntity::basic(self.app, &u));
            self.users.insert(id, user);
        }
        self.users.get(&id).and_then(|u| u.as_ref()).map(UserEntity::clone_basic)
    }

    async fn commit(&mut self, sha: &str) -> Option<CommitEntity> {
        if !self.commits.contains_key(sha) {
            let commit = match kiln_git::Oid::parse(sha) {
                Ok(oid) => self.app.repos.get(self.project_id).commit_info(&oid).await.ok(),
                Err(_) => None,
            };
            let url = self.app.project_url(&self.project_path);
            self.commits.insert(sha.to_string(), commit.map(|c| CommitEntity::new(&c, &url)));
        }
        self.commits.get(sha).cloned().flatten()
    }

    async fn pipeline_of(&mut self, job: &JobRecord) -> ApiResult<Pipeline> {
        if let Some(p) = self.pipelines.get(&job.pipeline_id.0) {
            return Ok(p.clone());
        }
        let p = self.app.store.pipeline(job.pipeline_id).await?;
        self.pipelines.insert(p.id.0, p.clone());
        Ok(p)
    }

    /// The full pipeline.
    pub(crate) async fn pipeline(&mut self, p: &Pipeline) -> ApiResult<PipelineEntity> {
        let state = self.app.store.pipeline_state(p.id).await?;
        let extras = PipelineExtras {
            user: self.user(p.user_id).await,
            committed_at: self.commit(&p.sha).await.map(|c| c.committed_date),
            warnings: p.status == Status::Success && state.has_warnings(),
        };
        Ok(PipelineEntity::new(self.app, &self.project_path, p, extras))
    }

    /// A job (`Job`, or `Bridge` for trigger jobs).
    pub(crate) async fn job(&mut self, job: &JobRecord) -> ApiResult<JobEntity> {
        let pipeline = self.pipeline_of(job).await?;
        let cx = JobContext {
            project_path: &self.project_path.clone(),
            pipeline: &pipeline,
            user: self.user(job.user_id).await,
            commit: self.commit(&pipeline.sha).await,
            now: Millis::now(),
        };
        if job.bridge {
            let downstream = match job.downstream_pipeline_id {
                Some(id) => self.app.store.pipeline(id).await.ok(),
                None => None,
            };
            let downstream_path = match &downstream {
                Some(d) if d.project_id != self.project_id => {
                    self.app.store.project(d.project_id).await.map(|p| p.full_path).ok()
                }
                Some(_) => Some(self.project_path.clone()),
                None => None,
            };
            let pair = downstream.as_ref().zip(downstream_path.as_deref()).map(|(p, path)| (path, p));
            Ok(JobEntity::bridge(self.app, job, cx, pair))
        } else {
            let artifacts = self.app.store.job_artifacts(job.id).await?;
            let mut entity = JobEntity::full(self.app, job, cx).with_artifacts(&artifacts);
            if let Some(id) = job.runner_id
                && let Ok(runner) = self.app.store.runner(id).await
            {
                let managers = self.app.store.runner_managers(id).await?;
                let shown = crate::entities::runner::RunnerEntity::new(&runner, &managers, Millis::now());
                entity.runner = Some(serde_json::to_value(shown).map_err(ApiError::internal)?);
            }
            Ok(entity)
        }
    }
}
