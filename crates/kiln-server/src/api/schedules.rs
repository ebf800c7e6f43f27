//! Pipeline schedules (`lib/api/ci/pipeline_schedules.rb`): CRUD, variables,
//! take ownership, play, and the schedule's pipelines.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::Response;
use axum::routing::{get, post, put};
use kiln_store::audit::{AuditAction, AuditEntity};
use kiln_store::pipelines::{PipelineFilter, PipelineVariable};
use kiln_store::projects::RefKind;
use kiln_store::schedules::{NewSchedule, Schedule, ScheduleUpdate};
use kiln_store::variables::VariableType;
use kiln_store::{Millis, Page, ScheduleId};
use serde_json::{Value, json};

use crate::access::{self, Action, ProjectAccess};
use crate::api::util::{created, no_content, ok, parse_id};
use crate::app::App;
use crate::ci::cron;
use crate::entities::pipeline::PipelineBasic;
use crate::entities::user::UserEntity;
use crate::error::{ApiError, ApiResult};
use crate::http::Input;
use crate::http::auth::Caller;
use crate::http::pagination::{Pagination, paginated};
use crate::http::time::{iso, iso_opt};

pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/projects/{id}/pipeline_schedules", get(list).post(create))
        .route("/projects/{id}/pipeline_schedules/{sid}", get(show).put(update).delete(destroy))
        .route("/projects/{id}/pipeline_schedules/{sid}/take_ownership", post(take_ownership))
        .route("/projects/{id}/pipeline_schedules/{sid}/play", post(play))
        .route("/projects/{id}/pipeline_schedules/{sid}/pipelines", get(pipelines))
        .route("/projects/{id}/pipeline_schedules/{sid}/variables", post(add_variable))
        .route(
            "/projects/{id}/pipeline_schedules/{sid}/variables/{key}",
            put(update_variable).delete(delete_variable),
        )
}

/// A ref as schedules store it: `refs/heads/x` and `refs/tags/x` as given, else the name.
fn ref_name(raw: &str) -> String {
    raw.to_string()
}

async fn render(app: &App, access: &ProjectAccess, s: &Schedule, details: bool) -> Value {
    let owner = match s.owner_id {
        Some(id) => app.store.user(id).await.ok().map(|u| UserEntity::basic(app, &u)),
        None => None,
    };
    let mut v = json!({
        "id": s.id.0,
        "description": s.description,
        "ref": s.ref_name,
        "cron": s.cron,
        "cron_timezone": s.cron_timezone,
        "next_run_at": iso_opt(s.next_run_at),
        "active": s.active,
        "created_at": iso(s.created_at),
        "updated_at": iso(s.updated_at),
        "owner": owner,
    });
    if details {
        let last = match s.last_pipeline_id {
            Some(p) => app
                .store
                .pipeline(p)
                .await
                .ok()
                .map(|p| PipelineBasic::new(app, &access.project.full_path, &p)),
            None => None,
        };
        v["last_pipeline"] = serde_json::to_value(last).unwrap_or(Value::Null);
        v["variables"] = json!(
            s.variables
                .iter()
                .map(|v| json!({"key": v.key, "value": v.value, "variable_type": v.variable_type.as_str()}))
                .collect::<Vec<_>>()
        );
    }
    v
}

async fn project(app: &App, caller: &Caller, id: &str) -> ApiResult<ProjectAccess> {
    caller.require_user()?;
    let access = access::project(app, caller, id).await?;
    access.require(Action::Develop)?;
    Ok(access)
}

async fn find(app: &App, access: &ProjectAccess, raw: &str) -> ApiResult<Schedule> {
    let s = app
        .store
        .schedule(ScheduleId(parse_id(raw, "pipeline_schedule_id")?))
        .await
        .map_err(|_| ApiError::not_found("Pipeline Schedule"))?;
    if s.project_id != access.project.id {
        return Err(ApiError::not_found("Pipeline Schedule"));
    }
    Ok(s)
}

/// The schedule's owner or a maintainer may change it.
fn may_admin(access: &ProjectAccess, caller: &Caller, s: &Schedule) -> ApiResult<()> {
    let is_owner = caller.user().is_some_and(|u| Some(u.id) == s.owner_id);
    if is_owner || access.can(Action::Maintain) { Ok(()) } else { Err(ApiError::forbidden()) }
}

async fn list(
    State(app): State<App>,
    caller: Caller,
    uri: Uri,
    Path(id): Path<String>,
    Input(mut params): Input,
) -> ApiResult<Response> {
    let access = project(&app, &caller, &id).await?;
    let scope = params.one_of("scope", &["active", "inactive"]);
    let pagination = Pagination::from_params(&mut params);
    params.check()?;
    let active = scope.map(|s| s == "active");
    let page = app.store.list_schedules(access.project.id, active, pagination.store_page()).await?;
    let mut items = Vec::new();
    for s in &page.items {
        items.push(render(&app, &access, s, false).await);
    }
    Ok(paginated(items, page.total, pagination, &app.config.external_url, &uri))
}

async fn show(
    State(app): State<App>,
    caller: Caller,
    Path((id, sid)): Path<(String, String)>,
) -> ApiResult<Response> {
    let access = project(&app, &caller, &id).await?;
    let s = find(&app, &access, &sid).await?;
    Ok(ok(render(&app, &access, &s, true).await))
}

fn next_run(cron_line: &str, tz: &str) -> ApiResult<Option<Millis>> {
    let schedule =
        cron::Schedule::parse(cron_line, tz).map_err(|field| ApiError::field(field, "is invalid syntax"))?;
    Ok(schedule.next_after(Millis::now()))
}

async fn create(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Input(mut params): Input,
) -> ApiResult<Response> {
    let access = project(&app, &caller, &id).await?;
    let user = caller.require_user()?.clone();
    let description = params.required_string("description");
    let git_ref = params.required_string("ref");
    let cron_line = params.required_string("cron");
    let tz = params.string("cron_timezone").unwrap_or_else(|| "UTC".into());
    let active = params.boolean("active").unwrap_or(true);
    params.check()?;
    let next_run_at = next_run(&cron_line, &tz)?;
    let short = git_ref
        .strip_prefix("refs/heads/")
        .or_else(|| git_ref.strip_prefix("refs/tags/"))
        .unwrap_or(&git_ref);
    if !access.can_update_ref(&app, RefKind::Branch, short).await? {
        return Err(ApiError::forbidden());
    }
    let new = NewSchedule {
        project: access.project.id,
        description,
        ref_name: ref_name(&git_ref),
        cron: cron_line,
        cron_timezone: tz,
        active,
        owner: Some(user.id),
        next_run_at,
    };
    let s = app.store.create_schedule(&new).await?;
    let entity = (AuditEntity::Schedule, s.id.0, access.project.full_path.as_str());
    crate::audit::record(&app, Some(&user), entity, AuditAction::ScheduleCreated, json!({})).await;
    Ok(created(render(&app, &access, &s, true).await))
}

async fn update(
    State(app): State<App>,
    caller: Caller,
    Path((id, sid)): Path<(String, String)>,
    Input(mut params): Input,
) -> ApiResult<Response> {
    let access = project(&app, &caller, &id).await?;
    let s = find(&app, &access, &sid).await?;
    may_admin(&access, &caller, &s)?;
    let mut update = ScheduleUpdate {
        description: params.string("description"),
        ref_name: params.string("ref").map(|r| ref_name(&r)),
        cron: params.string("cron"),
        cron_timezone: params.string("cron_timezone"),
        active: params.boolean("active"),
        next_run_at: None,
    };
    params.check()?;
    if update.cron.is_some() || update.cron_timezone.is_some() || update.active == Some(true) {
        let cron_line = update.cron.clone().unwrap_or_else(|| s.cron.clone());
        let tz = update.cron_timezone.clone().unwrap_or_else(|| s.cron_timezone.clone());
        update.next_run_at = Some(next_run(&cron_line, &tz)?);
    }
    let s = app.store.update_schedule(s.id, &update).await?;
    Ok(ok(render(&app, &access, &s, true).await))
}

async fn destroy(
    State(app): State<App>,
    caller: Caller,
    Path((id, sid)): Path<(String, String)>,
) -> ApiResult<Response> {
    let access = project(&app, &caller, &id).await?;
    let s = find(&app, &access, &sid).await?;
    access.require(Action::Maintain)?;
    app.store.delete_schedule(s.id).await?;
    let entity = (AuditEntity::Schedule, s.id.0, access.project.full_path.as_str());
    crate::audit::record(&app, caller.user(), entity, AuditAction::ScheduleDeleted, json!({})).await;
    Ok(no_content())
}

async fn take_ownership(
    State(app): State<App>,
    caller: Caller,
    Path((id, sid)): Path<(String, String)>,
) -> ApiResult<Response> {
    let access = project(&app, &caller, &id).await?;
    let s = find(&app, &access, &sid).await?;
    access.require(Action::Maintain)?;
    let user = caller.require_user()?;
    let s = app.store.take_schedule_ownership(s.id, user.id).await?;
    Ok(created(render(&app, &access, &s, true).await))
}

async fn play(
    State(app): State<App>,
    caller: Caller,
    Path((id, sid)): Path<(String, String)>,
) -> ApiResult<Response> {
    let access = project(&app, &caller, &id).await?;
    let s = find(&app, &access, &sid).await?;
    let run = app.clone();
    // GitLab runs the schedule in the background and answers at once.
    tokio::spawn(async move { crate::worker::scheduler::run_schedule(&run, &s).await });
    Ok(created(json!({"message": "201 Created"})))
}

async fn pipelines(
    State(app): State<App>,
    caller: Caller,
    uri: Uri,
    Path((id, sid)): Path<(String, String)>,
    Input(mut params): Input,
) -> ApiResult<Response> {
    let access = project(&app, &caller, &id).await?;
    let s = find(&app, &access, &sid).await?;
    let pagination = Pagination::from_params(&mut params);
    params.check()?;
    let filter = PipelineFilter { project: Some(access.project.id), ..PipelineFilter::default() };
    let all = app.store.list_pipelines(&filter, Page::all()).await?;
    let mine: Vec<PipelineBasic> = all
        .items
        .iter()
        .filter(|p| p.schedule_id == Some(s.id))
        .map(|p| PipelineBasic::new(&app, &access.project.full_path, p))
        .collect();
    let total = mine.len() as i64;
    let page = pagination.store_page();
    let items: Vec<PipelineBasic> = mine
        .into_iter()
        .skip(usize::try_from(page.offset).unwrap_or(usize::MAX))
        .take(usize::try_from(page.limit).unwrap_or(0))
        .collect();
    Ok(paginated(items, total, pagination, &app.config.external_url, &uri))
}

fn variable_type(params: &mut crate::http::params::Params) -> VariableType {
    params
        .one_of("variable_type", &["env_var", "file"])
        .and_then(|t| VariableType::from_name(&t))
        .unwrap_or_default()
}

async fn add_variable(
    State(app): State<App>,
    caller: Caller,
    Path((id, sid)): Path<(String, String)>,
    Input(mut params): Input,
) -> ApiResult<Response> {
    let access = project(&app, &caller, &id).await?;
    let s = find(&app, &access, &sid).await?;
    may_admin(&access, &caller, &s)?;
    let key = params.required_string("key");
    let value = params.required_string("value");
    let variable_type = variable_type(&mut params);
    params.check()?;
    if !kiln_store::variables::valid_key(&key) {
        return Err(ApiError::field("key", "can contain only letters, digits and '_'."));
    }
    if s.variables.iter().any(|v| v.key == key) {
        return Err(ApiError::field("key", "has already been taken"));
    }
    let variable = PipelineVariable { key, value, variable_type };
    app.store.set_schedule_variable(s.id, &variable).await?;
    Ok(created(
        json!({"key": variable.key, "value": variable.value, "variable_type": variable.variable_type.as_str()}),
    ))
}

async fn update_variable(
    State(app): State<App>,
    caller: Caller,
    Path((id, sid, key)): Path<(String, String, String)>,
    Input(mut params): Input,
) -> ApiResult<Response> {
    let access = project(&app, &caller, &id).await?;
    let s = find(&app, &access, &sid).await?;
    may_admin(&access, &caller, &s)?;
    let current = s.variables.iter().find(|v| v.key == key).ok_or_else(|| ApiError::not_found("Variable"))?;
    let value = params.string("value").unwrap_or_else(|| current.value.clone());
    let variable_type =
        if params.has("variable_type") { variable_type(&mut params) } else { current.variable_type };
    params.check()?;
    let variable = PipelineVariable { key, value, variable_type };
    app.store.set_schedule_variable(s.id, &variable).await?;
    Ok(ok(
        json!({"key": variable.key, "value": variable.value, "variable_type": variable.variable_type.as_str()}),
    ))
}

async fn delete_variable(
    State(app): State<App>,
    caller: Caller,
    Path((id, sid, key)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let access = project(&app, &caller, &id).await?;
    let s = find(&app, &access, &sid).await?;
    may_admin(&access, &caller, &s)?;
    let current =
        s.variables.iter().find(|v| v.key == key).cloned().ok_or_else(|| ApiError::not_found("Variable"))?;
    app.store.delete_schedule_variable(s.id, &key).await?;
    Ok(accepted_variable(&current))
}

fn accepted_variable(v: &PipelineVariable) -> Response {
    let _ = no_content;
    (
        axum::http::StatusCode::ACCEPTED,
        axum::Json(json!({"key": v.key, "value": v.value, "variable_type": v.variable_type.as_str()})),
    )
        .into_response()
}

use axum::response::IntoResponse;
