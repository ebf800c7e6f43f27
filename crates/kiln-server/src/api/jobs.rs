//! Jobs (`lib/api/ci/jobs.rb`): list per project with `scope[]`, get, trace,
//! cancel, retry, play (with variables), erase, artifacts.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use kiln_pipeline::{Effect, Event, JobVariable, Rejected, Status};
use kiln_store::BuildId;
use kiln_store::audit::{AuditAction, AuditEntity};
use kiln_store::jobs::{JobFilter, JobRecord};
use kiln_store::projects::RefKind;
use serde_json::Value;

use crate::access::{self, Action, ProjectAccess};
use crate::api::pipelines::{act, audit, scope_param};
use crate::api::render::Renderer;
use crate::api::util::{created, ok, parse_id};
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::http::Input;
use crate::http::auth::Caller;
use crate::http::pagination::{Pagination, paginated};

pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/projects/{id}/jobs", get(list))
        .route("/projects/{id}/jobs/{job_id}", get(show))
        .route("/projects/{id}/jobs/{job_id}/trace", get(trace))
        .route("/projects/{id}/jobs/{job_id}/cancel", post(cancel))
        .route("/projects/{id}/jobs/{job_id}/retry", post(retry))
        .route("/projects/{id}/jobs/{job_id}/play", post(play))
        .route("/projects/{id}/jobs/{job_id}/erase", post(erase))
        .route("/projects/{id}/jobs/{job_id}/artifacts", get(artifacts))
}

/// A job of the project (builds and, where `bridges`, trigger jobs).
async fn find_job(app: &App, access: &ProjectAccess, raw: &str, bridges: bool) -> ApiResult<JobRecord> {
    let id = parse_id(raw, "job_id")?;
    let job = app.store.job(BuildId(id)).await?;
    if job.project_id != access.project.id || (job.bridge && !bridges) {
        return Err(ApiError::record_not_found());
    }
    Ok(job)
}

async fn project_for_jobs(app: &App, caller: &Caller, id: &str) -> ApiResult<ProjectAccess> {
    caller.require_authenticated()?;
    let access = access::project(app, caller, id).await?;
    access.require(Action::ReadBuilds)?;
    Ok(access)
}

async fn list(
    State(app): State<App>,
    caller: Caller,
    uri: Uri,
    Path(id): Path<String>,
    Input(mut params): Input,
) -> ApiResult<Response> {
    let access = project_for_jobs(&app, &caller, &id).await?;
    let statuses = scope_param(&mut params)?;
    let pagination = Pagination::from_params(&mut params);
    params.check()?;
    let filter =
        JobFilter { project: Some(access.project.id), statuses, bridge: Some(false), ..JobFilter::default() };
    let page = app.store.list_jobs(&filter, pagination.store_page()).await?;
    let mut renderer = Renderer::new(&app, &access.project);
    let mut entities = Vec::with_capacity(page.items.len());
    for job in &page.items {
        entities.push(renderer.job(job).await?);
    }
    Ok(paginated(entities, page.total, pagination, &app.config.external_url, &uri))
}

async fn show(
    State(app): State<App>,
    caller: Caller,
    Path((id, job_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let access = project_for_jobs(&app, &caller, &id).await?;
    let job = find_job(&app, &access, &job_id, false).await?;
    Ok(ok(Renderer::new(&app, &access.project).job(&job).await?))
}

async fn trace(
    State(app): State<App>,
    caller: Caller,
    Path((id, job_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let access = project_for_jobs(&app, &caller, &id).await?;
    let job = find_job(&app, &access, &job_id, false).await?;
    let log = crate::blobs::job_trace(&app, job.id).await?;
    Ok((
        StatusCode::OK,
        [
            (CONTENT_TYPE, "text/plain".to_string()),
            (CONTENT_DISPOSITION, format!("infile; filename=\"{}.log\"", job.id.0)),
        ],
        log,
    )
        .into_response())
}

async fn developer_on_job(
    app: &App,
    caller: &Caller,
    id: &str,
    job_id: &str,
    bridges: bool,
) -> ApiResult<(ProjectAccess, JobRecord)> {
    caller.require_user()?;
    let access = access::project(app, caller, id).await?;
    access.require(Action::ReadBuilds)?;
    let job = find_job(app, &access, job_id, bridges).await?;
    access.require(Action::Develop)?;
    let pipeline = app.store.pipeline(job.pipeline_id).await?;
    let kind = if pipeline.tag { RefKind::Tag } else { RefKind::Branch };
    if !access.can_update_ref(app, kind, &pipeline.ref_name).await? {
        return Err(ApiError::forbidden());
    }
    Ok((access, job))
}

async fn cancel(
    State(app): State<App>,
    caller: Caller,
    Path((id, job_id)): Path<(String, String)>,
    Input(mut params): Input,
) -> ApiResult<Response> {
    let force = params.boolean("force").unwrap_or(false);
    params.check()?;
    let (access, job) = developer_on_job(&app, &caller, &id, &job_id, false).await?;
    let event = if force {
        access.require(Action::Maintain)?;
        Event::ForceCancelJob { job: job.number }
    } else {
        Event::CancelJob { job: job.number }
    };
    // A job that cannot be canceled is shown as it is, as GitLab does.
    let _ = act(&app, &caller, job.pipeline_id, event).await?;
    audit(&app, &caller, &access, (AuditEntity::Job, job.id.0), AuditAction::JobCanceled).await;
    let job = app.store.job(job.id).await?;
    Ok(created(Renderer::new(&app, &access.project).job(&job).await?))
}

/// The job a retry or play created, if it created one.
fn new_job(effects: &[Effect]) -> Option<kiln_pipeline::JobId> {
    effects.iter().find_map(|e| match e {
        Effect::CreateJob { job, .. } => Some(job.id),
        _ => None,
    })
}

async fn retry(
    State(app): State<App>,
    caller: Caller,
    Path((id, job_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (access, job) = developer_on_job(&app, &caller, &id, &job_id, true).await?;
    let runnable = crate::ci::quota::runnable(&app, &access.project).await;
    let event = Event::RetryJob { job: job.number, variables: Vec::new(), runnable };
    let handled = match act(&app, &caller, job.pipeline_id, event).await? {
        Ok(handled) => handled,
        Err(_) => return Err(ApiError::forbidden_because("Job is not retryable")),
    };
    let Some(number) = new_job(&handled.outcome.effects) else {
        return Err(ApiError::forbidden_because("Job is not retryable"));
    };
    let retried = app.store.job_by_number(job.pipeline_id, number).await?;
    audit(&app, &caller, &access, (AuditEntity::Job, retried.id.0), AuditAction::JobRetried).await;
    Ok(created(Renderer::new(&app, &access.project).job(&retried).await?))
}

async fn play(
    State(app): State<App>,
    caller: Caller,
    Path((id, job_id)): Path<(String, String)>,
    Input(mut params): Input,
) -> ApiResult<Response> {
    let variables = job_variables(&mut params);
    params.check()?;
    let (access, job) = developer_on_job(&app, &caller, &id, &job_id, true).await?;
    let event = Event::PlayJob { job: job.number, variables };
    match act(&app, &caller, job.pipeline_id, event).await? {
        Ok(_) => {}
        Err(Rejected::NotPlayable(_) | Rejected::IllegalTransition { .. } | Rejected::Retried(_)) => {
            return Err(ApiError::bad_request("Unplayable Job"));
        }
        Err(other) => return Err(ApiError::bad_request_message(other.to_string())),
    }
    if let Some(user) = caller.user() {
        app.store.set_job_user(job.id, Some(user.id)).await?;
    }
    audit(&app, &caller, &access, (AuditEntity::Job, job.id.0), AuditAction::JobPlayed).await;
    let job = app.store.job(job.id).await?;
    Ok(ok(Renderer::new(&app, &access.project).job(&job).await?))
}

/// `job_variables_attributes: [{key, value}]`.
fn job_variables(params: &mut crate::http::params::Params) -> Vec<JobVariable> {
    let Some(items) = params.array("job_variables_attributes") else { return Vec::new() };
    let mut out = Vec::new();
    for item in items {
        let Value::Object(map) = item else {
            params.error("job_variables_attributes is invalid");
            return Vec::new();
        };
        let key = map.get("key").and_then(Value::as_str);
        let value = map.get("value").and_then(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        });
        match (key, value) {
            (Some(key), Some(value)) if kiln_store::variables::valid_key(key) => {
                out.push(JobVariable { key: key.to_string(), value });
            }
            (None, _) => params.error("job_variables_attributes[key] is missing"),
            (_, None) => params.error("job_variables_attributes[value] is missing"),
            _ => params.error("job_variables_attributes[key] is invalid"),
        }
    }
    out
}

async fn erase(
    State(app): State<App>,
    caller: Caller,
    Path((id, job_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    caller.require_user()?;
    let access = access::project(&app, &caller, &id).await?;
    access.require(Action::ReadBuilds)?;
    let job = find_job(&app, &access, &job_id, false).await?;
    access.require(Action::Maintain)?;
    if !job.status.is_complete() || job.erased_at.is_some() {
        return Err(ApiError::forbidden_because("Job is not erasable!"));
    }
    app.store.erase_job(job.id, kiln_store::Millis::now()).await?;
    audit(&app, &caller, &access, (AuditEntity::Job, job.id.0), AuditAction::JobErased).await;
    crate::blobs::delete_job_blobs(&app, job.id).await;
    let job = app.store.job(job.id).await?;
    Ok(created(Renderer::new(&app, &access.project).job(&job).await?))
}

async fn artifacts(
    State(app): State<App>,
    caller: Caller,
    Path((id, job_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let access = project_for_jobs(&app, &caller, &id).await?;
    let job = find_job(&app, &access, &job_id, false).await?;
    if job.status == Status::Created || job.erased_at.is_some() {
        return Err(ApiError::not_found("Artifact"));
    }
    crate::blobs::artifacts_archive(&app, &job).await
}
