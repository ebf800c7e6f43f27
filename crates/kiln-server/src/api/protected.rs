//! Protected branches and tags (`/projects/:id/protected_branches`,
//! `/projects/:id/protected_tags`).

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use kiln_store::namespaces::AccessLevel;
use kiln_store::projects::{NewProtectedRef, RefKind};

use crate::access::{self, Action, ProjectAccess};
use crate::api::util::{created, no_content, ok};
use crate::app::App;
use crate::entities::misc::{protected_branch, protected_tag};
use crate::error::{ApiError, ApiResult};
use crate::http::Input;
use crate::http::auth::Caller;
use crate::http::params::Params;

pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/projects/{id}/protected_branches", get(list_branches).post(create_branch))
        .route("/projects/{id}/protected_branches/{name}", get(show_branch).delete(delete_branch))
        .route("/projects/{id}/protected_tags", get(list_tags).post(create_tag))
        .route("/projects/{id}/protected_tags/{name}", get(show_tag).delete(delete_tag))
}

async fn maintainer(app: &App, caller: &Caller, id: &str) -> ApiResult<ProjectAccess> {
    caller.require_user()?;
    let access = access::project(app, caller, id).await?;
    access.require(Action::Maintain)?;
    Ok(access)
}

/// `0` (no one), `30` (developers), `40` (maintainers), `60` (admins, treated as owners).
fn level_param(params: &mut Params, key: &str) -> Option<Option<AccessLevel>> {
    let value = params.integer(key)?;
    match value {
        0 => Some(None),
        30 => Some(Some(AccessLevel::Developer)),
        40 => Some(Some(AccessLevel::Maintainer)),
        60 => Some(Some(AccessLevel::Owner)),
        _ => {
            params.error(format!("{key} does not have a valid value"));
            None
        }
    }
}

fn render(kind: RefKind, rule: &kiln_store::projects::ProtectedRef) -> serde_json::Value {
    match kind {
        RefKind::Branch => protected_branch(rule),
        RefKind::Tag => protected_tag(rule),
    }
}

async fn list(app: &App, caller: &Caller, id: &str, kind: RefKind) -> ApiResult<Response> {
    let access = maintainer(app, caller, id).await?;
    let rules = app.store.protected_refs(access.project.id, kind).await?;
    Ok(ok(rules.iter().map(|r| render(kind, r)).collect::<Vec<_>>()))
}

async fn show(app: &App, caller: &Caller, id: &str, name: &str, kind: RefKind) -> ApiResult<Response> {
    let access = maintainer(app, caller, id).await?;
    let rules = app.store.protected_refs(access.project.id, kind).await?;
    let rule = rules.iter().find(|r| r.name == name).ok_or_else(ApiError::record_not_found)?;
    Ok(ok(render(kind, rule)))
}

async fn create(
    app: &App,
    caller: &Caller,
    id: &str,
    kind: RefKind,
    mut params: Params,
) -> ApiResult<Response> {
    let access = maintainer(app, caller, id).await?;
    let name = params.required_nonblank("name");
    let (push, merge) = match kind {
        RefKind::Branch => {
            (level_param(&mut params, "push_access_level"), level_param(&mut params, "merge_access_level"))
        }
        RefKind::Tag => (level_param(&mut params, "create_access_level"), None),
    };
    let allow_force_push = params.boolean("allow_force_push").unwrap_or(false);
    params.check()?;
    let existing = app.store.protected_refs(access.project.id, kind).await?;
    if existing.iter().any(|r| r.name == name) {
        let what = if kind == RefKind::Branch { "branch" } else { "tag" };
        return Err(ApiError::conflict(format!("Protected {what} '{name}' already exists")));
    }
    let new = NewProtectedRef {
        kind,
        name,
        push_access_level: push.unwrap_or(Some(AccessLevel::Maintainer)),
        merge_access_level: merge.unwrap_or(Some(AccessLevel::Maintainer)),
        allow_force_push,
    };
    let rule = app.store.protect_ref(access.project.id, &new).await?;
    Ok(created(render(kind, &rule)))
}

async fn delete(app: &App, caller: &Caller, id: &str, name: &str, kind: RefKind) -> ApiResult<Response> {
    let access = maintainer(app, caller, id).await?;
    app.store.unprotect_ref(access.project.id, kind, name).await?;
    Ok(no_content())
}

async fn list_branches(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    list(&app, &caller, &id, RefKind::Branch).await
}

async fn create_branch(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Input(p): Input,
) -> ApiResult<Response> {
    create(&app, &caller, &id, RefKind::Branch, p).await
}

async fn show_branch(
    State(app): State<App>,
    caller: Caller,
    Path((id, name)): Path<(String, String)>,
) -> ApiResult<Response> {
    show(&app, &caller, &id, &name, RefKind::Branch).await
}

async fn delete_branch(
    State(app): State<App>,
    caller: Caller,
    Path((id, name)): Path<(String, String)>,
) -> ApiResult<Response> {
    delete(&app, &caller, &id, &name, RefKind::Branch).await
}

async fn list_tags(State(app): State<App>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    list(&app, &caller, &id, RefKind::Tag).await
}

async fn create_tag(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Input(p): Input,
) -> ApiResult<Response> {
    create(&app, &caller, &id, RefKind::Tag, p).await
}

async fn show_tag(
    State(app): State<App>,
    caller: Caller,
    Path((id, name)): Path<(String, String)>,
) -> ApiResult<Response> {
    show(&app, &caller, &id, &name, RefKind::Tag).await
}

async fn delete_tag(
    State(app): State<App>,
    caller: Caller,
    Path((id, name)): Path<(String, String)>,
) -> ApiResult<Response> {
    delete(&app, &caller, &id, &name, RefKind::Tag).await
}
