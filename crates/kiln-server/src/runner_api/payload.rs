//! From a claimed job to the `201` body of `POST /jobs/request`: checks the
//! runner supports what the job needs (else the job is dropped with
//! `runner_unsupported`, as `Ci::RegisterJobService` does), gathers the facts
//! kiln-payload works from (project, pipeline, commit, user, runner, CI/CD
//! variables, dependencies with their artifacts and dotenv variables) and lets
//! [`kiln_payload::job_payload`] build the answer.

use std::sync::Arc;

use kiln_api::{FeaturesInfo, JobRequest, JobResponse};
use kiln_config::plan::spec::JobSpec;
use kiln_payload::{
    CiVariable, CommitFacts, DependencyFacts, JobFacts, NoFiles, PayloadInput, PipelineFacts, ProjectFacts,
    RunnerFacts, ServerFacts, UserFacts, VariableSources,
};
use kiln_pipeline::{Event, FailureReason};
use kiln_store::artifacts::ArtifactType;
use kiln_store::effects::ApplyOptions;
use kiln_store::jobs::JobRecord;
use kiln_store::pipelines::Pipeline;
use kiln_store::queue::Claimed;
use kiln_store::runners::Runner;
use kiln_store::variables::{Variable, VariableOwner, VariableType};
use kiln_store::{BuildId, Millis};

use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::http::time::iso;

/// What became of a claimed job.
pub(super) enum Assigned {
    Job(Box<JobResponse>),
    /// The job was dropped; the runner should get the next one.
    Dropped,
}

/// The version the API reports (`/version`), which is also `CI_SERVER_VERSION`.
const SERVER_VERSION: &str = concat!("17.0.0-kiln-", env!("CARGO_PKG_VERSION"));

/// Fails a job the coordinator gives up on, and wakes processing.
pub(super) async fn drop_job(app: &App, job: &JobRecord, reason: FailureReason) -> ApiResult<()> {
    let event = Event::JobFailed { job: job.number, reason, exit_code: None };
    match app.store.handle_event(job.pipeline_id, &event, ApplyOptions::now()).await {
        Ok(_) | Err(kiln_store::Error::Rejected(_)) => {}
        Err(e) => return Err(e.into()),
    }
    app.processing.notify_one();
    Ok(())
}

/// Features the runner must have for this job (GitLab's `runner_required_feature_names`).
fn unsupported(spec: &JobSpec, features: &FeaturesInfo) -> Option<&'static str> {
    let artifacts = spec.artifacts.as_ref();
    let checks = [
        (
            artifacts.is_some_and(|a| !a.reports.is_empty()),
            features.upload_multiple_artifacts,
            "upload_multiple_artifacts",
        ),
        (artifacts.is_some_and(|a| !a.exclude.is_empty()), features.artifacts_exclude, "artifacts_exclude"),
        (spec.release.is_some(), features.multi_build_steps, "multi_build_steps"),
        (!spec.allow_failure_exit_codes.is_empty(), features.return_exit_code, "return_exit_code"),
        (
            spec.cache.iter().any(|c| !c.fallback_keys.is_empty()),
            features.fallback_cache_keys,
            "fallback_cache_keys",
        ),
    ];
    checks.into_iter().find(|(needed, has, _)| *needed && !*has).map(|(_, _, name)| name)
}

/// Builds the payload of a claimed job, or drops it.
pub(super) async fn assign(
    app: &App,
    runner: &Runner,
    req: &JobRequest,
    claimed: Claimed,
) -> ApiResult<Assigned> {
    let mut claimed = claimed;
    // PostgreSQL's claim returns the specification with the assignment.
    let read = claimed.take_spec_and_variables();
    let Claimed { job, token, .. } = claimed;
    let (spec, play_variables) = match read {
        Some(read) => read?,
        None => app.store.job_spec_and_variables(job.id).await?,
    };
    let spec: JobSpec = match serde_json::from_value(spec) {
        Ok(spec) => spec,
        Err(e) => {
            tracing::error!(job = job.id.0, error = %e, "stored job specification does not parse");
            drop_job(app, &job, FailureReason::DataIntegrityFailure).await?;
            return Ok(Assigned::Dropped);
        }
    };
    if let Some(feature) = unsupported(&spec, &req.info.features) {
        tracing::info!(job = job.id.0, runner = runner.id.0, feature, "runner lacks a feature the job needs");
        drop_job(app, &job, FailureReason::RunnerUnsupported).await?;
        return Ok(Assigned::Dropped);
    }
    let bundle = bundle(app, job.pipeline_id).await?;
    let user_facts = match job.user_id.map(|u| u.0).or(bundle.user) {
        Some(id) => user(app, id).await,
        None => None,
    };
    let runner_facts = RunnerFacts {
        id: runner.id.0.unsigned_abs(),
        description: runner.description.clone(),
        tags: runner.tags.clone(),
        maximum_timeout: runner.maximum_timeout.map(i64::unsigned_abs),
    };
    let play_variables = play_variables.into_iter().map(|v| (v.key, v.value)).collect();
    let started = job.started_at.unwrap_or_else(Millis::now);
    #[allow(clippy::cast_precision_loss)]
    let time_in_queue_seconds = job.queued_at.map(|q| (started.0 - q.0).max(0) as f64 / 1000.0);
    let job_facts = JobFacts {
        id: job.id.0.unsigned_abs(),
        token,
        started_at: Some(iso(started)),
        play_variables,
        time_in_queue_seconds,
    };
    let dependencies = if may_have_dependencies(&spec, job.stage_idx, bundle.first_stage) {
        let state = app.store.pipeline_state(job.pipeline_id).await?;
        dependencies(app, &state, &job).await?
    } else {
        Vec::new()
    };
    let input = PayloadInput {
        server: &bundle.server,
        project: &bundle.project,
        pipeline: &bundle.pipeline,
        user: user_facts.as_ref(),
        runner: &runner_facts,
        job: &job_facts,
        spec: &spec,
        variables: &bundle.variables,
        dependencies: &dependencies,
        cache_keys: &NoFiles,
    };
    Ok(Assigned::Job(Box::new(kiln_payload::job_payload(&input))))
}

/// What every job of a pipeline shares in its payload.
pub(crate) struct PipelineBundle {
    server: ServerFacts,
    project: ProjectFacts,
    pipeline: PipelineFacts,
    variables: VariableSources,
    /// The pipeline's user (jobs may run as someone else after a play or retry).
    user: Option<i64>,
    /// The lowest stage index of its jobs (retries stay in their stage, so this
    /// does not change).
    first_stage: Option<u32>,
}

async fn user(app: &App, id: i64) -> Option<UserFacts> {
    if let Some(u) = app.runner.users.get(&id) {
        return u;
    }
    let u = app.store.user(kiln_store::UserId(id)).await.ok().map(|u| UserFacts {
        id: u.id.0.unsigned_abs(),
        login: u.username,
        email: u.email,
        name: u.name,
    });
    app.runner.users.put(id, u.clone());
    u
}

/// The pipeline's shared facts, from the cache when its jobs are claimed together.
fn key_of(id: kiln_pipeline::PipelineId) -> i64 {
    i64::try_from(id.0).unwrap_or(i64::MAX)
}

async fn bundle(app: &App, id: kiln_pipeline::PipelineId) -> ApiResult<Arc<PipelineBundle>> {
    let key = key_of(id);
    let cell = app.runner.pipelines.get_or_put(key, Default::default);
    cell.get_or_try_init(|| load_bundle(app, id)).await.cloned()
}

async fn load_bundle(app: &App, id: kiln_pipeline::PipelineId) -> ApiResult<Arc<PipelineBundle>> {
    let pipeline = app.store.pipeline(id).await?;
    // Once per pipeline and process: checking the ref runs git, and the bundle is
    // loaded again every second while the pipeline's jobs are claimed.
    if app.runner.first_claim_of(key_of(pipeline.id)) {
        crate::ci::persistent_ref::ensure(app, pipeline.project_id, pipeline.id, &pipeline.sha).await;
    }
    let project = app.store.project(pipeline.project_id).await?;
    let server = ServerFacts {
        url: app.config.external_url.clone(),
        version: SERVER_VERSION.into(),
        revision: "kiln".into(),
        ssh_host: None,
        ssh_port: 22,
    };
    let project_facts = ProjectFacts {
        id: project.id.0.unsigned_abs(),
        path: project.full_path.clone(),
        title: project.name.clone(),
        description: project.description.clone(),
        namespace_id: project.namespace_id.0.unsigned_abs(),
        visibility: project.visibility.as_str().to_string(),
        default_branch: project.default_branch.clone(),
        config_path: if project.ci_config_path.is_empty() {
            ".gitlab-ci.yml".into()
        } else {
            project.ci_config_path.clone()
        },
        repository_url: None,
        allow_git_fetch: true,
        default_git_depth: u32::try_from(project.ci_default_git_depth).ok().filter(|d| *d > 0),
        timeout: project.build_timeout.unsigned_abs(),
        separated_caches: true,
        cache_index: None,
    };
    Ok(Arc::new(PipelineBundle {
        server,
        project: project_facts,
        pipeline: pipeline_facts(app, &pipeline).await?,
        variables: variable_sources(app, &pipeline).await?,
        user: pipeline.user_id.map(|u| u.0),
        first_stage: app.store.first_stage_index(pipeline.id).await?,
    }))
}

async fn pipeline_facts(app: &App, pipeline: &Pipeline) -> ApiResult<PipelineFacts> {
    let project = pipeline.project_id.0;
    let commit = match app.runner.commit(project, &pipeline.sha) {
        Some(commit) => commit,
        None => {
            let oid = kiln_git::Oid::parse(&pipeline.sha).map_err(ApiError::from)?;
            let info = app.repos.get(pipeline.project_id).commit_info(&oid).await?;
            let commit = CommitFacts {
                sha: pipeline.sha.clone(),
                before_sha: None,
                message: info.message,
                author_name: info.author_name,
                author_email: info.author_email,
                timestamp: info.committed_iso,
            };
            app.runner.keep_commit(project, commit.clone());
            commit
        }
    };
    let source = kiln_config::context::PipelineSource::parse(pipeline.source.as_str())
        .unwrap_or(kiln_config::context::PipelineSource::Api);
    Ok(PipelineFacts {
        id: pipeline.id.0,
        iid: pipeline.iid.unsigned_abs(),
        source,
        ref_name: pipeline.ref_name.clone(),
        tag: pipeline.tag,
        protected: pipeline.protected,
        commit: CommitFacts { before_sha: pipeline.before_sha.clone(), ..commit },
        created_at: iso(pipeline.created_at),
        name: None,
        trigger_short_token: None,
        schedule_description: None,
        tag_message: None,
    })
}

fn ci_variable(v: Variable) -> CiVariable {
    CiVariable {
        file: v.variable_type == VariableType::File,
        key: v.key,
        value: v.value,
        masked: v.masked,
        protected: v.protected,
        raw: v.raw,
        environment_scope: v.environment_scope,
    }
}

/// Instance, group and project variables (kiln-payload applies protection and
/// environment scopes), and the pipeline's own.
async fn variable_sources(app: &App, pipeline: &Pipeline) -> ApiResult<VariableSources> {
    let mut sources = VariableSources::default();
    for v in app.store.variables_for_project(pipeline.project_id).await? {
        match v.owner {
            VariableOwner::Instance => sources.instance.push(ci_variable(v)),
            VariableOwner::Group(_) => sources.groups.push(ci_variable(v)),
            VariableOwner::Project(_) => sources.project.push(ci_variable(v)),
        }
    }
    sources.pipeline = pipeline
        .variables
        .iter()
        .map(|v| CiVariable {
            file: v.variable_type == VariableType::File,
            ..CiVariable::new(&v.key, &v.value)
        })
        .collect();
    Ok(sources)
}

/// Whether the job can download anyone's artifacts (`dependencies_of` is empty
/// otherwise), which spares loading the whole pipeline for most jobs: without
/// `needs`, a job downloads from earlier stages' jobs, and a job in the
/// pipeline's first stage has none.
fn may_have_dependencies(spec: &JobSpec, stage: u32, first_stage: Option<u32>) -> bool {
    if spec.dependencies.as_ref().is_some_and(Vec::is_empty) {
        return false;
    }
    match &spec.needs {
        Some(needs) => needs.iter().any(|n| n.artifacts),
        None => spec.stage_index > 0 && first_stage.is_none_or(|first| stage > first),
    }
}

/// The jobs whose artifacts this one downloads, with their archive and dotenv.
async fn dependencies(
    app: &App,
    state: &kiln_pipeline::PipelineState,
    job: &JobRecord,
) -> ApiResult<Vec<DependencyFacts>> {
    let mut records = Vec::new();
    for number in kiln_pipeline::dependencies::dependencies_of(state, job.number) {
        records.push(app.store.job_by_number(job.pipeline_id, number).await?);
    }
    let ids: Vec<BuildId> = records.iter().map(|r| r.id).collect();
    let dotenv = app.store.job_report_variables(&ids).await?;
    let mut out = Vec::with_capacity(records.len());
    for record in records {
        let artifacts_file = match app.store.job_artifact(record.id, ArtifactType::Archive).await {
            Ok(a) => Some((a.file_name, a.size)),
            Err(kiln_store::Error::NotFound(_)) => None,
            Err(e) => return Err(e.into()),
        };
        out.push(DependencyFacts {
            id: record.id.0.unsigned_abs(),
            name: record.name.clone(),
            artifacts_file,
            dotenv: dotenv
                .iter()
                .filter(|(j, _, _)| *j == record.id)
                .map(|(_, k, v)| (k.clone(), v.clone()))
                .collect(),
        });
    }
    Ok(out)
}
