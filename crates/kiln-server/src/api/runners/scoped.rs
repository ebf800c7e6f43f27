//! Runners seen from a scope: creating one (`POST /user/runners`), the runners
//! a project or group can use, and assigning project runners to projects.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::Response;
use axum::routing::{delete, get, post};
use kiln_store::namespaces::{AccessLevel, NamespaceKind};
use kiln_store::runners::{NewRunner, RegistrationType, RunnerFilter, RunnerType};
use kiln_store::{NamespaceId, ProjectId};

use super::{
    ListFilter, Owner, access_level, collect, entities, find_runner, maximum_timeout, page_of, tag_list,
    token_body,
};
use crate::access::{self, Action};
use crate::api::util::{created, no_content, parse_id};
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::http::Input;
use crate::http::auth::Caller;
use crate::http::pagination::{Pagination, paginated};

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/user/runners", post(create))
        .route("/projects/{id}/runners", get(project_runners).post(assign))
        .route("/projects/{id}/runners/{runner_id}", delete(unassign))
        .route("/groups/{id}/runners", get(group_runners))
}

/// `POST /user/runners`: administrators create instance runners, group
/// owners group runners, project maintainers project runners.
async fn create(State(app): State<App>, caller: Caller, Input(mut params): Input) -> ApiResult<Response> {
    let user = caller.require_user()?;
    let runner_type = params.one_of("runner_type", super::TYPES).and_then(|t| RunnerType::from_name(&t));
    if !params.has("runner_type") {
        params.error("runner_type is missing");
    }
    let group_id = params.integer("group_id");
    let project_id = params.integer("project_id");
    let mut new = NewRunner::instance();
    new.description = params.string("description").unwrap_or_default();
    new.tags = tag_list(&mut params).unwrap_or_default();
    new.run_untagged = params.boolean("run_untagged").unwrap_or(true);
    new.locked = params.boolean("locked").unwrap_or(false);
    new.paused = params.boolean("paused").unwrap_or(false);
    if let Some(level) = access_level(&mut params) {
        new.access_level = level;
    }
    let timeout = maximum_timeout(&mut params);
    match runner_type {
        Some(RunnerType::GroupType) if group_id.is_none() => params.error("group_id is missing"),
        Some(RunnerType::ProjectType) if project_id.is_none() => params.error("project_id is missing"),
        _ => {}
    }
    params.check()?;
    new.maximum_timeout = timeout?.flatten();
    let Some(runner_type) = runner_type else { return Err(ApiError::params("runner_type is missing")) };
    new.runner_type = runner_type;
    new.registration_type = RegistrationType::AuthenticatedUser;
    new.creator = Some(user.id);
    if !new.run_untagged && new.tags.is_empty() {
        return Err(ApiError::field(
            "tags_list",
            "can not be empty when runner is not allowed to pick untagged jobs",
        ));
    }
    match runner_type {
        RunnerType::InstanceType => {
            if !user.admin {
                return Err(ApiError::forbidden());
            }
        }
        RunnerType::GroupType => {
            let group = NamespaceId(group_id.unwrap_or_default());
            let ns = match app.store.namespace(group).await {
                Ok(ns) if ns.kind == NamespaceKind::Group => ns,
                Ok(_) | Err(kiln_store::Error::NotFound(_)) => return Err(ApiError::forbidden()),
                Err(e) => return Err(e.into()),
            };
            let level = app.store.group_access(ns.id, user.id).await?;
            if !(user.admin || level.is_some_and(|l| l >= AccessLevel::Owner)) {
                return Err(ApiError::forbidden());
            }
            new.group = Some(ns.id);
        }
        RunnerType::ProjectType => {
            let project = ProjectId(project_id.unwrap_or_default());
            let level = match app.store.project(project).await {
                Ok(p) => app.store.project_access(p.id, user.id).await?,
                Err(kiln_store::Error::NotFound(_)) => return Err(ApiError::forbidden()),
                Err(e) => return Err(e.into()),
            };
            if !(user.admin || level.is_some_and(|l| l >= AccessLevel::Maintainer)) {
                return Err(ApiError::forbidden());
            }
            new.projects = vec![project];
        }
    }
    let (runner, token) = app.store.create_runner(&new).await?;
    Ok(created(token_body(&runner, &token)))
}

/// The runners a project can use: its own, its groups' and the instance's.
async fn project_runners(
    State(app): State<App>,
    caller: Caller,
    uri: Uri,
    Path(id): Path<String>,
    Input(mut params): Input,
) -> ApiResult<Response> {
    caller.require_user()?;
    let filter = ListFilter::from_params(&mut params);
    let pagination = Pagination::from_params(&mut params);
    params.check()?;
    let access = access::project(&app, &caller, &id).await?;
    access.require(Action::Maintain)?;
    let mut scopes = vec![
        RunnerFilter { project: Some(access.project.id), ..RunnerFilter::default() },
        RunnerFilter { runner_type: Some(RunnerType::InstanceType), ..RunnerFilter::default() },
    ];
    for ns in app.store.namespace_lineage(access.project.namespace_id).await? {
        if ns.kind == NamespaceKind::Group {
            scopes.push(RunnerFilter { group: Some(ns.id), ..RunnerFilter::default() });
        }
    }
    let runners = collect(&app, &scopes, &filter).await?;
    let total = i64::try_from(runners.len()).unwrap_or(i64::MAX);
    let items = entities(&app, &page_of(runners, pagination)).await?;
    Ok(paginated(items, total, pagination, &app.config.external_url, &uri))
}

/// Enables a project runner for one more project: the caller maintains this
/// project and one the runner already serves, and the runner is not locked.
async fn assign(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Input(mut params): Input,
) -> ApiResult<Response> {
    let user = caller.require_user()?;
    let runner_id = params.required_string("runner_id");
    params.check()?;
    let access = access::project(&app, &caller, &id).await?;
    access.require(Action::Maintain)?;
    let runner = find_runner(&app, &runner_id).await?;
    match runner.runner_type {
        RunnerType::GroupType => return Err(ApiError::forbidden_because("Runner is a group runner")),
        RunnerType::InstanceType => return Err(ApiError::forbidden_because("Runner is an instance runner")),
        RunnerType::ProjectType => {}
    }
    if !user.admin {
        if runner.locked {
            return Err(ApiError::forbidden_because("Runner is locked"));
        }
        if !Owner::new(&app, user).owns(&runner).await? {
            return Err(super::no_access());
        }
    }
    if runner.projects.contains(&access.project.id) {
        return Err(ApiError::bad_request("Runner was already enabled for this project"));
    }
    app.store.assign_runner_project(runner.id, access.project.id).await?;
    let runner = app.store.runner(runner.id).await?;
    let entity = entities(&app, std::slice::from_ref(&runner)).await?.pop();
    Ok(created(entity))
}

/// Disables a project runner for a project; the project that owns the runner
/// keeps it (deleting the runner is the way to drop it there).
async fn unassign(
    State(app): State<App>,
    caller: Caller,
    Path((id, runner_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    caller.require_user()?;
    let access = access::project(&app, &caller, &id).await?;
    access.require(Action::Maintain)?;
    let runner_id = parse_id(&runner_id, "runner_id")?;
    let runner = find_runner(&app, &runner_id.to_string()).await?;
    if !runner.projects.contains(&access.project.id) {
        return Err(ApiError::not_found("Runner"));
    }
    if runner.projects.len() == 1 {
        return Err(ApiError::forbidden_because(
            "Only one project associated with the runner. Please remove the runner instead",
        ));
    }
    if runner.projects.first() == Some(&access.project.id) {
        return Err(ApiError::forbidden_because(
            "You cannot unassign a runner from the owner project. Delete the runner instead",
        ));
    }
    app.store.unassign_runner_project(runner.id, access.project.id).await?;
    Ok(no_content())
}

/// The runners a group can use: its own, its ancestors' and the instance's.
async fn group_runners(
    State(app): State<App>,
    caller: Caller,
    uri: Uri,
    Path(id): Path<String>,
    Input(mut params): Input,
) -> ApiResult<Response> {
    let user = caller.require_user()?;
    let filter = ListFilter::from_params(&mut params);
    let pagination = Pagination::from_params(&mut params);
    params.check()?;
    let group = crate::api::groups::find_group(&app, &caller, &id).await?;
    let level = app.store.group_access(group.id, user.id).await?;
    if !(user.admin || level.is_some_and(|l| l >= AccessLevel::Maintainer)) {
        return Err(ApiError::forbidden());
    }
    let mut scopes =
        vec![RunnerFilter { runner_type: Some(RunnerType::InstanceType), ..RunnerFilter::default() }];
    for ns in app.store.namespace_lineage(group.id).await? {
        scopes.push(RunnerFilter { group: Some(ns.id), ..RunnerFilter::default() });
    }
    let runners = collect(&app, &scopes, &filter).await?;
    let total = i64::try_from(runners.len()).unwrap_or(i64::MAX);
    let items = entities(&app, &page_of(runners, pagination)).await?;
    Ok(paginated(items, total, pagination, &app.config.external_url, &uri))
}
