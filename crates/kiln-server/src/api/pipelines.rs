//! Pipelines (`lib/api/ci/pipelines.rb`): list with filters, create
//! (`POST /projects/:id/pipeline`), latest, get, jobs, bridges, variables,
//! retry, cancel, delete.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::Response;
use axum::routing::{get, post};
use kiln_pipeline::{CancelRequest, Event, PipelineId, Rejected, Status};
use kiln_store::audit::{AuditAction, AuditEntity};
use kiln_store::effects::ApplyOptions;
use kiln_store::jobs::JobFilter;
use kiln_store::pipelines::{Pipeline, PipelineFilter, PipelineSource, PipelineVariable};
use kiln_store::projects::RefKind;
use kiln_store::variables::VariableType;
use kiln_store::{Millis, Page};
use serde_json::Value;

use crate::access::{self, Action, ProjectAccess};
use crate::api::render::Renderer;
use crate::api::util::{created, no_content, ok, parse_id};
use crate::app::App;
use crate::ci::create::{self, ConfigSource, CreateRequest, Creation, GitRef, base_error};
use crate::entities::pipeline::{PipelineBasic, PipelineVariableEntity};
use crate::error::{ApiError, ApiResult};
use crate::http::Input;
use crate::http::auth::Caller;
use crate::http::pagination::{Pagination, paginated};
use crate::http::params::Params;

pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/projects/{id}/pipelines", get(list))
        .route("/projects/{id}/pipeline", post(create_pipeline))
        .route("/projects/{id}/pipelines/latest", get(latest))
        .route("/projects/{id}/pipelines/{pipeline_id}", get(show).delete(destroy))
        .route("/projects/{id}/pipelines/{pipeline_id}/jobs", get(jobs))
        .route("/projects/{id}/pipelines/{pipeline_id}/bridges", get(bridges))
        .route("/projects/{id}/pipelines/{pipeline_id}/variables", get(variables))
        .route("/projects/{id}/pipelines/{pipeline_id}/retry", post(retry))
        .route("/projects/{id}/pipelines/{pipeline_id}/cancel", post(cancel))
}

/// The project's pipeline with this id: `404 Not found` when it is another project's.
pub(crate) async fn find_pipeline(app: &App, access: &ProjectAccess, raw_id: &str) -> ApiResult<Pipeline> {
    let id = parse_id(raw_id, "pipeline_id")?;
    let pipeline = app.store.pipeline(PipelineId(u64::try_from(id).unwrap_or(0))).await?;
    if pipeline.project_id != access.project.id {
        return Err(ApiError::record_not_found());
    }
    Ok(pipeline)
}

const STATUSES: [&str; 13] = [
    "created",
    "waiting_for_resource",
    "preparing",
    "waiting_for_callback",
    "pending",
    "running",
    "success",
    "failed",
    "canceling",
    "canceled",
    "skipped",
    "manual",
    "scheduled",
];

const SOURCES: [&str; 13] = [
    "unknown",
    "push",
    "web",
    "trigger",
    "schedule",
    "api",
    "external",
    "pipeline",
    "chat",
    "webide",
    "merge_request_event",
    "external_pull_request_event",
    "parent_pipeline",
];

async fn list(
    State(app): State<App>,
    caller: Caller,
    uri: Uri,
    Path(id): Path<String>,
    Input(mut params): Input,
) -> ApiResult<Response> {
    let access = access::project(&app, &caller, &id).await?;
    access.require(Action::ReadBuilds)?;
    let scope = params.one_of("scope", &["running", "pending", "finished", "branches", "tags"]);
    let status = params.one_of("status", &STATUSES).and_then(|s| Status::from_name(&s));
    let source = params.one_of("source", &SOURCES).and_then(|s| PipelineSource::from_name(&s));
    let ref_name = params.string("ref");
    let sha = params.string("sha");
    let username = params.string("username");
    let yaml_errors = params.boolean("yaml_errors");
    let sort = params.one_of("sort", &["asc", "desc"]);
    let pagination = Pagination::from_params(&mut params);
    params.check()?;
    let user = match username {
        Some(name) => match app.store.user_by_username(&name).await {
            Ok(u) => Some(u.id),
            Err(_) => {
                return Ok(paginated(
                    Vec::<PipelineBasic>::new(),
                    0,
                    pagination,
                    &app.config.external_url,
                    &uri,
                ));
            }
        },
        None => None,
    };
    let filter = PipelineFilter {
        project: Some(access.project.id),
        ref_name,
        sha,
        status: status.or(match scope.as_deref() {
            Some("running") => Some(Status::Running),
            Some("pending") => Some(Status::Pending),
            _ => None,
        }),
        source,
        user,
        parent_pipeline: None,
    };
    let in_memory = matches!(scope.as_deref(), Some("finished" | "branches" | "tags"))
        || yaml_errors.is_some()
        || sort.as_deref() == Some("asc");
    let (mut items, total) = if in_memory {
        let all = app.store.list_pipelines(&filter, Page::all()).await?.items;
        let mut all: Vec<Pipeline> = all
            .into_iter()
            .filter(|p| match scope.as_deref() {
                Some("finished") => p.status.is_complete(),
                Some("branches") => !p.tag,
                Some("tags") => p.tag,
                _ => true,
            })
            .filter(|p| yaml_errors.is_none_or(|want| p.yaml_errors.is_some() == want))
            .collect();
        if sort.as_deref() == Some("asc") {
            all.reverse();
        }
        let total = all.len() as i64;
        let page = pagination.store_page();
        let items = all
            .into_iter()
            .skip(usize::try_from(page.offset).unwrap_or(usize::MAX))
            .take(usize::try_from(page.limit).unwrap_or(0))
            .collect();
        (items, total)
    } else {
        let page = app.store.list_pipelines(&filter, pagination.store_page()).await?;
        (page.items, page.total)
    };
    let entities: Vec<PipelineBasic> =
        items.drain(..).map(|p| PipelineBasic::new(&app, &access.project.full_path, &p)).collect();
    Ok(paginated(entities, total, pagination, &app.config.external_url, &uri))
}

/// `variables` of a create or trigger request: `[{key, value, variable_type}]`
/// (or a `{KEY: value}` hash for triggers).
pub(crate) fn variables_param(params: &mut Params, name: &str) -> Vec<PipelineVariable> {
    let Some(raw) = params.raw(name).cloned() else { return Vec::new() };
    let mut out = Vec::new();
    match raw {
        Value::Array(items) => {
            for item in items {
                let Value::Object(map) = item else {
                    params.error(format!("{name} is invalid"));
                    return Vec::new();
                };
                let text = |v: Option<&Value>| match v {
                    Some(Value::String(s)) => Some(s.clone()),
                    Some(Value::Number(n)) => Some(n.to_string()),
                    Some(Value::Bool(b)) => Some(b.to_string()),
                    _ => None,
                };
                let (Some(key), Some(value)) = (text(map.get("key")), text(map.get("value"))) else {
                    params.error(format!("{name} is invalid"));
                    return Vec::new();
                };
                let variable_type = match text(map.get("variable_type")).as_deref() {
                    None | Some("env_var") => VariableType::EnvVar,
                    Some("file") => VariableType::File,
                    Some(_) => {
                        params.error(format!("{name}[variable_type] does not have a valid value"));
                        return Vec::new();
                    }
                };
                out.push(PipelineVariable { key, value, variable_type });
            }
        }
        Value::Object(map) => {
            for (key, value) in map {
                let value = match value {
                    Value::String(s) => s,
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => {
                        params.error(format!("{name} is invalid"));
                        return Vec::new();
                    }
                };
                out.push(PipelineVariable { key, value, variable_type: VariableType::EnvVar });
            }
        }
        Value::Null => {}
        _ => params.error(format!("{name} is invalid")),
    }
    for v in &out {
        if !kiln_store::variables::valid_key(&v.key) {
            params.error(format!("{name} is invalid"));
            break;
        }
    }
    out
}

/// A ref given by name: a branch if one has that name, else a tag.
pub(crate) async fn resolve_ref(app: &App, access: &ProjectAccess, name: &str) -> ApiResult<GitRef> {
    resolve_project_ref(app, access.project.id, name).await
}

/// [`resolve_ref`] for a project id; `refs/heads/x` and `refs/tags/x` are taken as written.
pub(crate) async fn resolve_project_ref(
    app: &App,
    project: kiln_store::ProjectId,
    name: &str,
) -> ApiResult<GitRef> {
    if let Some(branch) = name.strip_prefix("refs/heads/") {
        return Ok(GitRef::Branch(branch.to_string()));
    }
    if let Some(tag) = name.strip_prefix("refs/tags/") {
        return Ok(GitRef::Tag(tag.to_string()));
    }
    let repo = app.repos.get(project);
    if repo.resolve_branch(name).await.ok().flatten().is_some() {
        return Ok(GitRef::Branch(name.to_string()));
    }
    if repo.resolve_tag(name).await.ok().flatten().is_some() {
        return Ok(GitRef::Tag(name.to_string()));
    }
    Err(base_error("Reference not found"))
}

/// Answers a creation as the API does: 201 with the pipeline, or 400 with why not.
pub(crate) async fn answer_created(
    app: &App,
    access: &ProjectAccess,
    result: Creation,
) -> ApiResult<Response> {
    match result {
        Creation::Pipeline(p) => {
            let mut renderer = Renderer::new(app, &access.project);
            Ok(created(renderer.pipeline(&p).await?))
        }
        Creation::NotCreated { reason } => Err(base_error(reason)),
        Creation::Invalid { errors } => {
            Err(ApiError::Fields(std::collections::BTreeMap::from([("base".to_string(), errors)])))
        }
    }
}

async fn create_pipeline(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Input(mut params): Input,
) -> ApiResult<Response> {
    let user = caller.require_user()?.clone();
    let access = access::project(&app, &caller, &id).await?;
    access.require(Action::Develop)?;
    let ref_name = params.required_string("ref");
    let variables = variables_param(&mut params, "variables");
    params.check()?;
    let git_ref = resolve_ref(&app, &access, &ref_name).await?;
    let kind = if git_ref.is_tag() { RefKind::Tag } else { RefKind::Branch };
    if !access.can_update_ref(&app, kind, &ref_name).await? {
        return Err(ApiError::forbidden_because("Insufficient permissions to create a new pipeline"));
    }
    let request = CreateRequest {
        project: access.project.clone(),
        git_ref,
        sha: None,
        before_sha: None,
        source: PipelineSource::Api,
        user: Some(user),
        variables,
        trigger: None,
        schedule: None,
        parent: None,
        config: ConfigSource::Project,
        honour_skip_ci: false,
        push_option_skip: false,
        save_on_errors: false,
    };
    let result = create::create(&app, request).await?;
    answer_created(&app, &access, result).await
}

async fn latest(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Input(mut params): Input,
) -> ApiResult<Response> {
    let access = access::project(&app, &caller, &id).await?;
    access.require(Action::ReadBuilds)?;
    let ref_name = params.string("ref").unwrap_or_else(|| access.project.default_branch.clone());
    params.check()?;
    let pipeline = app.store.latest_pipeline(access.project.id, &ref_name).await?;
    Ok(ok(Renderer::new(&app, &access.project).pipeline(&pipeline).await?))
}

async fn show(
    State(app): State<App>,
    caller: Caller,
    Path((id, pipeline_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let access = access::project(&app, &caller, &id).await?;
    access.require(Action::ReadBuilds)?;
    let pipeline = find_pipeline(&app, &access, &pipeline_id).await?;
    Ok(ok(Renderer::new(&app, &access.project).pipeline(&pipeline).await?))
}

/// `scope[]` of job lists: statuses.
pub(crate) fn scope_param(params: &mut Params) -> ApiResult<Vec<Status>> {
    let Some(scope) = params.string_array("scope") else { return Ok(Vec::new()) };
    let mut statuses = Vec::new();
    for s in scope {
        match Status::from_name(&s) {
            Some(status) => statuses.push(status),
            None => return Err(ApiError::bad_request_message("Scope contains invalid value(s)")),
        }
    }
    Ok(statuses)
}

async fn job_list(
    app: &App,
    caller: &Caller,
    uri: &Uri,
    id: &str,
    pipeline_id: &str,
    mut params: Params,
    bridges: bool,
) -> ApiResult<Response> {
    let access = access::project(app, caller, id).await?;
    access.require(Action::ReadBuilds)?;
    let pipeline = find_pipeline(app, &access, pipeline_id).await?;
    let statuses = scope_param(&mut params)?;
    let include_retried = params.boolean("include_retried").unwrap_or(false);
    let pagination = Pagination::from_params(&mut params);
    params.check()?;
    let filter = JobFilter {
        project: Some(access.project.id),
        pipeline: Some(pipeline.id),
        statuses,
        bridge: Some(bridges),
        include_retried: include_retried && !bridges,
        ..JobFilter::default()
    };
    let page = app.store.list_jobs(&filter, pagination.store_page()).await?;
    let mut renderer = Renderer::new(app, &access.project);
    let mut entities = Vec::with_capacity(page.items.len());
    for job in &page.items {
        entities.push(renderer.job(job).await?);
    }
    Ok(paginated(entities, page.total, pagination, &app.config.external_url, uri))
}

async fn jobs(
    State(app): State<App>,
    caller: Caller,
    uri: Uri,
    Path((id, pipeline_id)): Path<(String, String)>,
    Input(params): Input,
) -> ApiResult<Response> {
    job_list(&app, &caller, &uri, &id, &pipeline_id, params, false).await
}

async fn bridges(
    State(app): State<App>,
    caller: Caller,
    uri: Uri,
    Path((id, pipeline_id)): Path<(String, String)>,
    Input(params): Input,
) -> ApiResult<Response> {
    caller.require_user()?;
    job_list(&app, &caller, &uri, &id, &pipeline_id, params, true).await
}

async fn variables(
    State(app): State<App>,
    caller: Caller,
    Path((id, pipeline_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let access = access::project(&app, &caller, &id).await?;
    access.require(Action::ReadPipelineVariables)?;
    let pipeline = find_pipeline(&app, &access, &pipeline_id).await?;
    let entities: Vec<PipelineVariableEntity> = pipeline.variables.iter().map(Into::into).collect();
    Ok(ok(entities))
}

/// Handles a person's event on a pipeline; `Ok(Err(_))` when the state machine refused it.
pub(crate) async fn act(
    app: &App,
    caller: &Caller,
    pipeline: PipelineId,
    event: Event,
) -> ApiResult<Result<kiln_store::effects::Handled, Rejected>> {
    Ok(apply(app, pipeline, &event, caller.user().map(|u| u.id)).await?)
}

/// Applies an event to a pipeline as `actor` and wakes the processing loop:
/// every action on a pipeline or job, from the API or the embedding process
/// ([`crate::ServerHandle`]), goes through here. `Ok(Err(_))` when the state
/// machine refused it.
pub(crate) async fn apply(
    app: &App,
    pipeline: PipelineId,
    event: &Event,
    actor: Option<kiln_store::UserId>,
) -> kiln_store::Result<Result<kiln_store::effects::Handled, Rejected>> {
    let options = ApplyOptions { now: Millis::now(), actor };
    match app.store.handle_event(pipeline, event, options).await {
        Ok(handled) => {
            app.processing.notify_one();
            Ok(Ok(handled))
        }
        Err(kiln_store::Error::Rejected(rejected)) => Ok(Err(rejected)),
        Err(e) => Err(e),
    }
}

/// Records a person's action on a pipeline or job of `access`'s project.
pub(crate) async fn audit(
    app: &App,
    caller: &Caller,
    access: &ProjectAccess,
    entity: (AuditEntity, i64),
    action: AuditAction,
) {
    let target = (entity.0, entity.1, access.project.full_path.as_str());
    crate::audit::record(app, caller.user(), target, action, serde_json::json!({})).await;
}

fn pipeline_entity(pipeline: &Pipeline) -> (AuditEntity, i64) {
    (AuditEntity::Pipeline, i64::try_from(pipeline.id.0).unwrap_or(0))
}

async fn retry(
    State(app): State<App>,
    caller: Caller,
    Path((id, pipeline_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    caller.require_user()?;
    let access = access::project(&app, &caller, &id).await?;
    access.require(Action::Develop)?;
    let pipeline = find_pipeline(&app, &access, &pipeline_id).await?;
    let kind = if pipeline.tag { RefKind::Tag } else { RefKind::Branch };
    if !access.can_update_ref(&app, kind, &pipeline.ref_name).await? {
        return Err(ApiError::forbidden());
    }
    // Nothing to retry is not an error for this endpoint.
    let _ = act(&app, &caller, pipeline.id, Event::RetryPipeline).await?;
    audit(&app, &caller, &access, pipeline_entity(&pipeline), AuditAction::PipelineRetried).await;
    let pipeline = app.store.pipeline(pipeline.id).await?;
    Ok(created(Renderer::new(&app, &access.project).pipeline(&pipeline).await?))
}

async fn cancel(
    State(app): State<App>,
    caller: Caller,
    Path((id, pipeline_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    caller.require_user()?;
    let access = access::project(&app, &caller, &id).await?;
    access.require(Action::Develop)?;
    let pipeline = find_pipeline(&app, &access, &pipeline_id).await?;
    let request = CancelRequest { interruptible_only: false, cascade: true, auto_canceled_by: None };
    // GitLab answers 200 with the pipeline even when nothing could be canceled.
    let _ = act(&app, &caller, pipeline.id, Event::CancelPipeline(request)).await?;
    audit(&app, &caller, &access, pipeline_entity(&pipeline), AuditAction::PipelineCanceled).await;
    let pipeline = app.store.pipeline(pipeline.id).await?;
    Ok(ok(Renderer::new(&app, &access.project).pipeline(&pipeline).await?))
}

async fn destroy(
    State(app): State<App>,
    caller: Caller,
    Path((id, pipeline_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    caller.require_user()?;
    let access = access::project(&app, &caller, &id).await?;
    access.require(Action::Own)?;
    let pipeline = find_pipeline(&app, &access, &pipeline_id).await?;
    let blobs = app.store.delete_pipeline(pipeline.id).await?;
    crate::ci::persistent_ref::remove(&app, pipeline.project_id, pipeline.id).await;
    audit(&app, &caller, &access, pipeline_entity(&pipeline), AuditAction::PipelineDeleted).await;
    crate::blobs::delete_later(&app, blobs);
    Ok(no_content())
}
