//! Creating one pipeline, as GitLab's `Ci::CreatePipelineService` chain does:
//! resolve the ref and commit, honour `[skip ci]` / `ci.skip`, read the
//! configuration at the commit, run the config processor with the external
//! variables rules may see, and persist the result: a pipeline with its jobs,
//! a failed pipeline carrying the configuration errors, a skipped pipeline,
//! or nothing (with the reason) when `workflow:rules` or job rules leave no
//! pipeline.

use kiln_config::context::{Commit, PipelineContext, Project as CtxProject, RefKind};
use kiln_config::plan::Outcome;
use kiln_config::sources::Sources;
use kiln_config::{ProcessOptions, Processed};
use kiln_git::Oid;
use kiln_pipeline::{PipelineId, Status};
use kiln_store::audit::{AuditAction, AuditEntity};
use kiln_store::pipelines::{NewPipeline, Pipeline, PipelineFailureReason, PipelineSource, PipelineVariable};
use kiln_store::projects::{Project, RefKind as ProtectedKind};
use kiln_store::users::User;
use kiln_store::{BuildId, ScheduleId, TriggerId};

use crate::app::App;
use crate::ci::definition;
use crate::ci::sources::{CommitFiles, HttpRemote, ServerProjects};
use crate::ci::variables;
use crate::error::{ApiError, ApiResult};

/// The default configuration file.
pub(crate) const DEFAULT_CONFIG_PATH: &str = ".gitlab-ci.yml";

/// A branch or a tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GitRef {
    Branch(String),
    Tag(String),
}

impl GitRef {
    pub(crate) fn name(&self) -> &str {
        match self {
            GitRef::Branch(n) | GitRef::Tag(n) => n,
        }
    }

    pub(crate) fn is_tag(&self) -> bool {
        matches!(self, GitRef::Tag(_))
    }
}

/// Where the main configuration comes from.
#[derive(Debug, Clone)]
pub(crate) enum ConfigSource {
    /// The project's `ci_config_path` (or `.gitlab-ci.yml`) at the commit.
    Project,
    /// Given text (a child pipeline's generated `include:`).
    Text { path: String, text: String },
}

/// Everything one pipeline creation needs.
#[derive(Debug, Clone)]
pub(crate) struct CreateRequest {
    pub(crate) project: Project,
    pub(crate) git_ref: GitRef,
    /// The commit; `None` takes the ref's tip.
    pub(crate) sha: Option<Oid>,
    pub(crate) before_sha: Option<Oid>,
    pub(crate) source: PipelineSource,
    pub(crate) user: Option<User>,
    pub(crate) variables: Vec<PipelineVariable>,
    pub(crate) trigger: Option<TriggerId>,
    pub(crate) schedule: Option<ScheduleId>,
    pub(crate) parent: Option<(PipelineId, BuildId)>,
    pub(crate) config: ConfigSource,
    /// Honour `[skip ci]` in the commit message (pushes).
    pub(crate) honour_skip_ci: bool,
    /// The push carried `-o ci.skip`.
    pub(crate) push_option_skip: bool,
    /// Keep a pipeline whose configuration is invalid (as a failed pipeline);
    /// the API instead answers 400 and keeps nothing.
    pub(crate) save_on_errors: bool,
}

/// What creation did.
#[derive(Debug)]
pub(crate) enum Creation {
    /// A pipeline was persisted (running, failed with errors, or skipped).
    Pipeline(Box<Pipeline>),
    /// Nothing was created, for this reason (workflow rules, no jobs, no configuration).
    NotCreated { reason: String },
    /// The configuration is invalid and nothing was kept (`save_on_errors: false`).
    Invalid { errors: Vec<String> },
}

/// GitLab's `[skip ci]` and friends, anywhere in the message, any case.
pub(crate) fn skip_ci(message: &str) -> bool {
    let lower = message.to_lowercase();
    ["ci skip", "ci-skip", "ci_skip", "skip ci", "skip-ci", "skip_ci"]
        .iter()
        .any(|m| lower.contains(&format!("[{m}]")))
}

fn ctx_source(source: PipelineSource) -> kiln_config::context::PipelineSource {
    use kiln_config::context::PipelineSource as C;
    match source {
        PipelineSource::Push => C::Push,
        PipelineSource::Web => C::Web,
        PipelineSource::Trigger => C::Trigger,
        PipelineSource::Schedule => C::Schedule,
        PipelineSource::Pipeline => C::Pipeline,
        PipelineSource::ParentPipeline => C::ParentPipeline,
        PipelineSource::Chat => C::Chat,
        PipelineSource::Webide => C::Webide,
        PipelineSource::MergeRequestEvent => C::MergeRequestEvent,
        PipelineSource::ExternalPullRequestEvent => C::ExternalPullRequestEvent,
        PipelineSource::Api | PipelineSource::External | PipelineSource::Unknown => C::Api,
    }
}

/// `{"message": {"base": [reason]}}`, GitLab's answer when creation fails.
pub(crate) fn base_error(reason: impl Into<String>) -> ApiError {
    ApiError::field("base", reason)
}

/// Creates one pipeline.
pub(crate) async fn create(app: &App, req: CreateRequest) -> ApiResult<Creation> {
    create_linked(app, req, None).await
}

/// [`create`] for a multi-project pipeline: `upstream_bridge` is the trigger
/// job in another project whose status the new pipeline reports.
pub(crate) async fn create_linked(
    app: &App,
    req: CreateRequest,
    upstream_bridge: Option<BuildId>,
) -> ApiResult<Creation> {
    let repo = app.repos.get(req.project.id);
    let ref_name = req.git_ref.name().to_string();
    let tip = match &req.git_ref {
        GitRef::Branch(b) => repo.resolve_branch(b).await,
        GitRef::Tag(t) => repo.resolve_tag(t).await,
    };
    let tip = match tip {
        Ok(tip) => tip,
        Err(kiln_git::GitError::InvalidRefName { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    let sha = match (&req.sha, tip) {
        (Some(sha), _) => sha.clone(),
        (None, Some(tip)) => tip,
        (None, None) => return Err(base_error("Reference not found")),
    };
    if !repo.commit_exists(&sha).await? {
        return Err(base_error("Commit not found"));
    }
    let commit = repo.commit_info(&sha).await?;
    let kind = if req.git_ref.is_tag() { ProtectedKind::Tag } else { ProtectedKind::Branch };
    let protected = app.store.is_protected_ref(req.project.id, kind, &ref_name).await?;

    let base = NewPipeline {
        project: req.project.id,
        sha: sha.to_string(),
        before_sha: req.before_sha.as_ref().map(ToString::to_string),
        ref_name: ref_name.clone(),
        tag: req.git_ref.is_tag(),
        protected,
        source: req.source,
        user: req.user.as_ref().map(|u| u.id),
        schedule: req.schedule,
        trigger: req.trigger,
        parent_pipeline: req.parent.map(|p| p.0),
        parent_job: req.parent.map(|p| p.1).or(upstream_bridge),
        settings: kiln_pipeline::PipelineSettings::default(),
        variables: req.variables.clone(),
        status: Status::Created,
        failure_reason: None,
        yaml_errors: None,
        jobs: Vec::new(),
    };

    if req.push_option_skip || (req.honour_skip_ci && skip_ci(&commit.message)) {
        let new = NewPipeline { status: Status::Skipped, ..base };
        return persist(app, &req, new).await;
    }

    let (config_path, config_text) = match &req.config {
        ConfigSource::Text { path, text } => (path.clone(), text.clone()),
        ConfigSource::Project => {
            let path = if req.project.ci_config_path.is_empty() {
                DEFAULT_CONFIG_PATH.to_string()
            } else {
                req.project.ci_config_path.clone()
            };
            match repo.read_file(&sha, &path).await {
                Ok(Some(bytes)) => match String::from_utf8(bytes) {
                    Ok(text) => (path, text),
                    Err(e) => {
                        let processed = kiln_config::invalid_utf8(&path, e.utf8_error().valid_up_to());
                        return finish_invalid(app, &req, base, &processed).await;
                    }
                },
                Ok(None) | Err(kiln_git::GitError::InvalidPath { .. }) => {
                    return Ok(Creation::NotCreated { reason: "Missing CI config file".into() });
                }
                Err(e) => return Err(e.into()),
            }
        }
    };

    let changed_paths = match (&req.before_sha, req.source) {
        (Some(before), PipelineSource::Push) if !before.is_zero() => {
            repo.changed_paths(before, &sha).await.ok()
        }
        _ => None,
    };
    let external = variables::for_rules(app, &req.project, protected, &req.variables).await?;
    let ctx = PipelineContext {
        source: ctx_source(req.source),
        ref_name: ref_name.clone(),
        ref_kind: if req.git_ref.is_tag() { RefKind::Tag } else { RefKind::Branch },
        ref_protected: protected,
        commit: Commit {
            sha: sha.to_string(),
            before_sha: req.before_sha.as_ref().map(ToString::to_string),
            message: commit.message.clone(),
            author_name: commit.author_name.clone(),
            author_email: commit.author_email.clone(),
            timestamp: commit.authored_iso.clone(),
        },
        project: CtxProject {
            id: u64::try_from(req.project.id.0).unwrap_or(0),
            path: req.project.full_path.clone(),
            default_branch: req.project.default_branch.clone(),
            url: app.project_url(&req.project.full_path),
            server_url: app.config.external_url.clone(),
        },
        changed_paths,
        variables: external,
    };

    let handle = tokio::runtime::Handle::current();
    let files = CommitFiles::new(handle.clone(), repo.clone(), sha.clone());
    let projects = ServerProjects { handle: handle.clone(), app: app.clone(), user: req.user.clone() };
    let remote = HttpRemote { handle, client: app.http_client.clone() };
    let processed = tokio::task::spawn_blocking(move || {
        let sources = Sources { repository: &files, projects: &projects, remote: &remote };
        let mut processed =
            kiln_config::process(&config_path, &config_text, &ctx, sources, &ProcessOptions::default());
        if let Some(Outcome::Created(plan)) = processed.outcome.as_mut() {
            super::cache_keys::resolve(plan, &files);
        }
        processed
    })
    .await
    .map_err(ApiError::internal)?;

    if !processed.is_valid() {
        return finish_invalid(app, &req, base, &processed).await;
    }
    match processed.outcome {
        None => finish_invalid(app, &req, base, &processed).await,
        Some(Outcome::NotCreated { reason }) => Ok(Creation::NotCreated { reason }),
        Some(Outcome::Created(plan)) => {
            let timeout = u64::try_from(req.project.build_timeout).unwrap_or(3600);
            let jobs = plan
                .jobs
                .iter()
                .map(|spec| definition::planned_job(spec, timeout))
                .collect::<Result<Vec<_>, _>>()
                .map_err(ApiError::internal)?;
            let new = NewPipeline { settings: definition::settings(&plan), jobs, ..base };
            persist(app, &req, new).await
        }
    }
}

/// The rendered errors of an invalid configuration.
fn errors(processed: &Processed) -> Vec<String> {
    let errors: Vec<String> =
        processed.diagnostics.errors().map(|d| d.display(&processed.sources).to_string()).collect();
    if errors.is_empty() { vec!["the configuration could not be processed".into()] } else { errors }
}

async fn finish_invalid(
    app: &App,
    req: &CreateRequest,
    base: NewPipeline,
    processed: &Processed,
) -> ApiResult<Creation> {
    let errors = errors(processed);
    if !req.save_on_errors {
        return Ok(Creation::Invalid { errors });
    }
    let new = NewPipeline {
        status: Status::Failed,
        failure_reason: Some(PipelineFailureReason::ConfigError),
        yaml_errors: Some(errors.join("\n")),
        ..base
    };
    persist(app, req, new).await
}

async fn persist(app: &App, req: &CreateRequest, new: NewPipeline) -> ApiResult<Creation> {
    let (pipeline, _) = app.store.create_pipeline(&new).await?;
    crate::ci::persistent_ref::ensure(app, pipeline.project_id, pipeline.id, &pipeline.sha).await;
    crate::ci::quota::drop_not_runnable(app, &req.project, pipeline.id).await;
    app.processing.notify_one();
    let details = serde_json::json!({
        "source": pipeline.source.as_str(),
        "ref": pipeline.ref_name,
        "sha": pipeline.sha,
        "status": pipeline.status.as_str(),
        "schedule_id": pipeline.schedule_id.map(|s| s.0),
        "trigger_id": pipeline.trigger_id.map(|t| t.0),
    });
    let entity =
        (AuditEntity::Pipeline, i64::try_from(pipeline.id.0).unwrap_or(0), req.project.full_path.as_str());
    crate::audit::record(app, req.user.as_ref(), entity, AuditAction::PipelineCreated, details).await;
    Ok(Creation::Pipeline(Box::new(pipeline)))
}

#[cfg(test)]
mod tests {
    use super::skip_ci;

    #[test]
    fn skip_ci_markers() {
        assert!(skip_ci("Fix typo [skip ci]"));
        assert!(skip_ci("x\n\n[CI SKIP] later"));
        assert!(skip_ci("[skip-ci]"));
        assert!(!skip_ci("skip ci without brackets"));
    }
}
