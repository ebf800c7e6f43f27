//! Pipeline trigger tokens (`/projects/:id/triggers`) and triggering
//! (`POST /projects/:id/trigger/pipeline`, `.../ref/:ref/trigger/pipeline`)
//! with a `glptt-` token or a running job's `CI_JOB_TOKEN`.

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use kiln_store::audit::{AuditAction, AuditEntity};
use kiln_store::pipelines::PipelineSource;
use kiln_store::projects::RefKind;
use kiln_store::triggers::Trigger;
use kiln_store::{Millis, TriggerId};
use serde_json::{Value, json};

use crate::access::{self, Action, ProjectAccess};
use crate::api::pipelines::{answer_created, resolve_project_ref, variables_param};
use crate::api::util::{created, no_content, ok, parse_id};
use crate::app::App;
use crate::ci::create::{self, ConfigSource, CreateRequest};
use crate::entities::user::UserEntity;
use crate::error::{ApiError, ApiResult};
use crate::http::Input;
use crate::http::auth::Caller;
use crate::http::params::Params;
use crate::http::time::{iso, iso_opt};

pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/projects/{id}/triggers", get(list).post(create_trigger))
        .route("/projects/{id}/triggers/{trigger_id}", get(show).put(update).delete(destroy))
        .route("/projects/{id}/trigger/pipeline", post(trigger_pipeline))
        .route("/projects/{id}/ref/{ref_name}/trigger/pipeline", post(trigger_ref_pipeline))
}

async fn render(app: &App, t: &Trigger, token: Option<&str>) -> Value {
    let owner = match t.owner_id {
        Some(id) => app.store.user(id).await.ok().map(|u| UserEntity::basic(app, &u)),
        None => None,
    };
    json!({
        "id": t.id.0,
        "token": token.unwrap_or(&t.token_hint),
        "description": t.description,
        "created_at": iso(t.created_at),
        "updated_at": iso(t.updated_at),
        "last_used": iso_opt(t.last_used_at),
        "expires_at": iso_opt(t.expires_at),
        "owner": owner,
    })
}

async fn maintainer(app: &App, caller: &Caller, id: &str) -> ApiResult<ProjectAccess> {
    caller.require_user()?;
    let access = access::project(app, caller, id).await?;
    access.require(Action::Maintain)?;
    Ok(access)
}

async fn find(app: &App, access: &ProjectAccess, raw: &str) -> ApiResult<Trigger> {
    let t = app
        .store
        .trigger(TriggerId(parse_id(raw, "trigger_id")?))
        .await
        .map_err(|_| ApiError::not_found("Trigger"))?;
    if t.project_id != access.project.id {
        return Err(ApiError::not_found("Trigger"));
    }
    Ok(t)
}

async fn list(State(app): State<App>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let access = maintainer(&app, &caller, &id).await?;
    let mut out = Vec::new();
    for t in app.store.list_triggers(access.project.id).await? {
        out.push(render(&app, &t, None).await);
    }
    Ok(ok(out))
}

async fn create_trigger(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Input(mut params): Input,
) -> ApiResult<Response> {
    let access = maintainer(&app, &caller, &id).await?;
    let user = caller.require_user()?.clone();
    let description = params.required_string("description");
    params.check()?;
    let (trigger, token) = app.store.create_trigger(access.project.id, user.id, &description, None).await?;
    let entity = (AuditEntity::Trigger, trigger.id.0, access.project.full_path.as_str());
    crate::audit::record(&app, Some(&user), entity, AuditAction::TriggerCreated, json!({})).await;
    Ok(created(render(&app, &trigger, Some(&token)).await))
}

async fn show(
    State(app): State<App>,
    caller: Caller,
    Path((id, tid)): Path<(String, String)>,
) -> ApiResult<Response> {
    let access = maintainer(&app, &caller, &id).await?;
    let t = find(&app, &access, &tid).await?;
    Ok(ok(render(&app, &t, None).await))
}

async fn update(
    State(app): State<App>,
    caller: Caller,
    Path((id, tid)): Path<(String, String)>,
    Input(mut params): Input,
) -> ApiResult<Response> {
    let access = maintainer(&app, &caller, &id).await?;
    let description = params.string("description");
    params.check()?;
    let t = find(&app, &access, &tid).await?;
    let t = match description {
        Some(d) => app.store.update_trigger(t.id, &d).await?,
        None => t,
    };
    Ok(ok(render(&app, &t, None).await))
}

async fn destroy(
    State(app): State<App>,
    caller: Caller,
    Path((id, tid)): Path<(String, String)>,
) -> ApiResult<Response> {
    let access = maintainer(&app, &caller, &id).await?;
    let t = find(&app, &access, &tid).await?;
    app.store.delete_trigger(t.id).await?;
    let entity = (AuditEntity::Trigger, t.id.0, access.project.full_path.as_str());
    crate::audit::record(&app, caller.user(), entity, AuditAction::TriggerDeleted, json!({})).await;
    Ok(no_content())
}

async fn trigger_pipeline(
    State(app): State<App>,
    Path(id): Path<String>,
    Input(params): Input,
) -> ApiResult<Response> {
    trigger(&app, &id, None, params).await
}

async fn trigger_ref_pipeline(
    State(app): State<App>,
    Path((id, ref_name)): Path<(String, String)>,
    Input(params): Input,
) -> ApiResult<Response> {
    trigger(&app, &id, Some(ref_name), params).await
}

async fn trigger(
    app: &App,
    id: &str,
    ref_in_path: Option<String>,
    mut params: Params,
) -> ApiResult<Response> {
    let token = params.required_string("token");
    let ref_name = match ref_in_path {
        Some(r) => r,
        None => params.required_string("ref"),
    };
    let variables = variables_param(&mut params, "variables");
    params.check()?;
    let not_found = || ApiError::Message(axum::http::StatusCode::NOT_FOUND, "404 Not Found".into());
    // A trigger token runs as its owner; a job token as the job's user, with source `pipeline`.
    let (owner, trigger_id, source) = if token.starts_with("glcbt-") {
        let job = app.store.job_by_token(&token).await.map_err(|_| not_found())?;
        if !matches!(job.status, kiln_pipeline::Status::Running | kiln_pipeline::Status::Canceling) {
            return Err(not_found());
        }
        (job.user_id, None, PipelineSource::Pipeline)
    } else {
        let t = app.store.trigger_by_token(&token, Millis::now()).await.map_err(|_| not_found())?;
        (t.owner_id, Some(t), PipelineSource::Trigger)
    };
    let user = match owner {
        Some(u) => Some(app.store.user(u).await?),
        None => None,
    };
    let caller = match &user {
        Some(u) => Caller::User { user: u.clone(), scopes: vec![kiln_store::users::TokenScope::Api] },
        None => return Err(ApiError::forbidden_because("Trigger owner is not available")),
    };
    let access = access::project(app, &caller, id).await?;
    if trigger_id.as_ref().is_some_and(|t| t.project_id != access.project.id) {
        return Err(not_found());
    }
    let git_ref = resolve_project_ref(app, access.project.id, &ref_name).await?;
    let kind = if git_ref.is_tag() { RefKind::Tag } else { RefKind::Branch };
    if !access.can(Action::Develop) || !access.can_update_ref(app, kind, git_ref.name()).await? {
        return Err(ApiError::forbidden_because("Insufficient permissions to create a new pipeline"));
    }
    let request = CreateRequest {
        project: access.project.clone(),
        git_ref,
        sha: None,
        before_sha: None,
        source,
        user,
        variables,
        trigger: trigger_id.map(|t| t.id),
        schedule: None,
        parent: None,
        config: ConfigSource::Project,
        honour_skip_ci: false,
        push_option_skip: false,
        save_on_errors: true,
    };
    let result = create::create(app, request).await?;
    answer_created(app, &access, result).await
}
