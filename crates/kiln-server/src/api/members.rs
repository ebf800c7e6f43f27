//! Project and group members (`/projects/:id/members`, `/groups/:id/members`).

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, put};
use kiln_store::UserId;
use kiln_store::namespaces::{AccessLevel, Member};

use crate::access::{self, Action};
use crate::api::groups::find_group;
use crate::api::util::{created, no_content, ok, parse_id};
use crate::app::App;
use crate::entities::misc::member;
use crate::error::{ApiError, ApiResult};
use crate::http::Input;
use crate::http::auth::Caller;
use crate::http::params::Params;

pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/projects/{id}/members", get(project_list).post(project_add))
        .route("/projects/{id}/members/{user_id}", put(project_update).delete(project_remove))
        .route("/groups/{id}/members", get(group_list).post(group_add))
        .route("/groups/{id}/members/{user_id}", put(group_update).delete(group_remove))
}

/// Whose members: a project or a group (ids after permission checks).
#[derive(Clone, Copy)]
enum Target {
    Project(kiln_store::ProjectId),
    Group(kiln_store::NamespaceId),
}

async fn target(app: &App, caller: &Caller, id: &str, project: bool, manage: bool) -> ApiResult<Target> {
    let user = caller.require_user()?.clone();
    if project {
        let access = access::project(app, caller, id).await?;
        if manage {
            access.require(Action::Maintain)?;
        }
        Ok(Target::Project(access.project.id))
    } else {
        let group = find_group(app, caller, id).await?;
        if manage && !user.admin {
            let level = app.store.group_access(group.id, user.id).await?;
            if level.is_none_or(|l| l < AccessLevel::Maintainer) {
                return Err(ApiError::forbidden());
            }
        }
        Ok(Target::Group(group.id))
    }
}

async fn members_of(app: &App, target: Target) -> ApiResult<Vec<Member>> {
    Ok(match target {
        Target::Project(p) => app.store.project_members(p).await?,
        Target::Group(g) => app.store.group_members(g).await?,
    })
}

fn level_param(params: &mut Params) -> Option<AccessLevel> {
    let value = params.integer("access_level")?;
    let level = AccessLevel::from_value(value);
    if level.is_none() {
        params.error("access_level does not have a valid value");
    }
    level
}

async fn render(app: &App, target: Target, user_id: UserId) -> ApiResult<serde_json::Value> {
    let members = members_of(app, target).await?;
    let m = members.iter().find(|m| m.user_id == user_id).ok_or_else(|| ApiError::not_found("Member"))?;
    let user = app.store.user(user_id).await?;
    Ok(member(app, &user, m))
}

async fn list(app: &App, target: Target) -> ApiResult<Response> {
    let members = members_of(app, target).await?;
    let mut out = Vec::new();
    for m in &members {
        if let Ok(user) = app.store.user(m.user_id).await {
            out.push(member(app, &user, m));
        }
    }
    Ok(ok(out))
}

async fn set(app: &App, target: Target, user_id: UserId, level: AccessLevel) -> ApiResult<()> {
    match target {
        Target::Project(p) => app.store.set_project_member(p, user_id, level).await?,
        Target::Group(g) => app.store.set_group_member(g, user_id, level).await?,
    }
    Ok(())
}

async fn add(app: &App, caller: &Caller, id: &str, project: bool, mut params: Params) -> ApiResult<Response> {
    let t = target(app, caller, id, project, true).await?;
    let user_id = params.integer("user_id");
    if user_id.is_none() && !params.has("user_id") {
        params.error("user_id is missing");
    }
    if params.integer("access_level").is_none() && !params.has("access_level") {
        params.error("access_level is missing");
    }
    let level = level_param(&mut params);
    params.check()?;
    let (Some(user_id), Some(level)) = (user_id, level) else {
        return Err(ApiError::params("access_level is invalid"));
    };
    let user = app.store.user(UserId(user_id)).await.map_err(|_| ApiError::not_found("User"))?;
    if members_of(app, t).await?.iter().any(|m| m.user_id == user.id) {
        return Err(ApiError::conflict("Member already exists"));
    }
    set(app, t, user.id, level).await?;
    Ok(created(render(app, t, user.id).await?))
}

async fn update(
    app: &App,
    caller: &Caller,
    id: &str,
    raw_user: &str,
    project: bool,
    mut params: Params,
) -> ApiResult<Response> {
    let t = target(app, caller, id, project, true).await?;
    let user_id = UserId(parse_id(raw_user, "user_id")?);
    if !params.has("access_level") {
        params.error("access_level is missing");
    }
    let level = level_param(&mut params);
    params.check()?;
    let Some(level) = level else { return Err(ApiError::params("access_level is invalid")) };
    if !members_of(app, t).await?.iter().any(|m| m.user_id == user_id) {
        return Err(ApiError::not_found("Member"));
    }
    set(app, t, user_id, level).await?;
    Ok(ok(render(app, t, user_id).await?))
}

async fn remove(app: &App, caller: &Caller, id: &str, raw_user: &str, project: bool) -> ApiResult<Response> {
    let t = target(app, caller, id, project, true).await?;
    let user_id = UserId(parse_id(raw_user, "user_id")?);
    if !members_of(app, t).await?.iter().any(|m| m.user_id == user_id) {
        return Err(ApiError::not_found("Member"));
    }
    match t {
        Target::Project(p) => app.store.remove_project_member(p, user_id).await?,
        Target::Group(g) => app.store.remove_group_member(g, user_id).await?,
    }
    Ok(no_content())
}

async fn project_list(State(app): State<App>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let t = target(&app, &caller, &id, true, false).await?;
    list(&app, t).await
}

async fn project_add(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Input(p): Input,
) -> ApiResult<Response> {
    add(&app, &caller, &id, true, p).await
}

async fn project_update(
    State(app): State<App>,
    caller: Caller,
    Path((id, user)): Path<(String, String)>,
    Input(p): Input,
) -> ApiResult<Response> {
    update(&app, &caller, &id, &user, true, p).await
}

async fn project_remove(
    State(app): State<App>,
    caller: Caller,
    Path((id, user)): Path<(String, String)>,
) -> ApiResult<Response> {
    remove(&app, &caller, &id, &user, true).await
}

async fn group_list(State(app): State<App>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let t = target(&app, &caller, &id, false, false).await?;
    list(&app, t).await
}

async fn group_add(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Input(p): Input,
) -> ApiResult<Response> {
    add(&app, &caller, &id, false, p).await
}

async fn group_update(
    State(app): State<App>,
    caller: Caller,
    Path((id, user)): Path<(String, String)>,
    Input(p): Input,
) -> ApiResult<Response> {
    update(&app, &caller, &id, &user, false, p).await
}

async fn group_remove(
    State(app): State<App>,
    caller: Caller,
    Path((id, user)): Path<(String, String)>,
) -> ApiResult<Response> {
    remove(&app, &caller, &id, &user, false).await
}
