//! Groups: `GET/POST /groups`, `GET/DELETE /groups/:id`, `/groups/:id/projects`.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::Response;
use axum::routing::get;
use kiln_store::namespaces::{AccessLevel, Namespace, NamespaceKind, NewGroup, Visibility};
use kiln_store::projects::ProjectFilter;
use kiln_store::{NamespaceId, Page};

use crate::access;
use crate::api::projects::view;
use crate::api::util::{accepted, created, ok};
use crate::app::App;
use crate::entities::misc::group;
use crate::entities::project::ProjectEntity;
use crate::error::{ApiError, ApiResult};
use crate::http::Input;
use crate::http::auth::Caller;
use crate::http::pagination::{Pagination, paginated};

pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/groups", get(list).post(create))
        .route("/groups/{id}", get(show).delete(destroy))
        .route("/groups/{id}/projects", get(projects))
}

/// A group by id or full path, as the caller may see it (`404 Group Not Found`).
pub(crate) async fn find_group(app: &App, caller: &Caller, id: &str) -> ApiResult<Namespace> {
    let found = match id.parse::<i64>() {
        Ok(n) => app.store.namespace(NamespaceId(n)).await,
        Err(_) => app.store.namespace_by_path(id).await,
    };
    let ns = match found {
        Ok(ns) if ns.kind == NamespaceKind::Group => ns,
        Ok(_) | Err(kiln_store::Error::NotFound(_)) => return Err(ApiError::not_found("Group")),
        Err(e) => return Err(e.into()),
    };
    let visible = match caller.user() {
        Some(user) if user.admin => true,
        Some(user) => {
            ns.visibility != Visibility::Private || app.store.group_access(ns.id, user.id).await?.is_some()
        }
        None => ns.visibility == Visibility::Public,
    };
    if visible { Ok(ns) } else { Err(ApiError::not_found("Group")) }
}

/// `Parent / Child` (GitLab's `full_name`).
pub(crate) async fn full_name(app: &App, ns: &Namespace) -> ApiResult<String> {
    let lineage = app.store.namespace_lineage(ns.id).await?;
    Ok(lineage.iter().map(|n| n.name.as_str()).collect::<Vec<_>>().join(" / "))
}

async fn list(
    State(app): State<App>,
    caller: Caller,
    uri: Uri,
    Input(mut params): Input,
) -> ApiResult<Response> {
    let pagination = Pagination::from_params(&mut params);
    params.check()?;
    let member = match caller.user() {
        Some(u) if u.admin => None,
        Some(u) => Some(u.id),
        None => {
            return Ok(paginated(
                Vec::<serde_json::Value>::new(),
                0,
                pagination,
                &app.config.external_url,
                &uri,
            ));
        }
    };
    let page = app.store.list_groups(member, pagination.store_page()).await?;
    let mut out = Vec::new();
    for ns in &page.items {
        out.push(group(&app, ns, &full_name(&app, ns).await?));
    }
    Ok(paginated(out, page.total, pagination, &app.config.external_url, &uri))
}

async fn create(State(app): State<App>, caller: Caller, Input(mut params): Input) -> ApiResult<Response> {
    let user = caller.require_user()?.clone();
    let name = params.required_nonblank("name");
    let path = params.required_nonblank("path");
    let parent = params.integer("parent_id");
    let visibility = params
        .one_of("visibility", &["private", "internal", "public"])
        .and_then(|v| Visibility::from_name(&v))
        .unwrap_or(Visibility::Private);
    let description = params.string("description").unwrap_or_default();
    params.check()?;
    if let Some(parent) = parent {
        let level = app.store.group_access(NamespaceId(parent), user.id).await.ok().flatten();
        let exists = app.store.namespace(NamespaceId(parent)).await.is_ok();
        if !exists {
            return Err(ApiError::not_found("Parent group"));
        }
        if !user.admin && level.is_none_or(|l| l < AccessLevel::Maintainer) {
            return Err(ApiError::forbidden());
        }
    }
    let new = NewGroup { name, path, parent: parent.map(NamespaceId), visibility, description };
    let ns = match app.store.create_group(&new, user.id).await {
        Ok(ns) => ns,
        Err(kiln_store::Error::Conflict(_)) => {
            return Err(ApiError::bad_request_message(
                "Failed to save group {:path=>[\"has already been taken\"]}",
            ));
        }
        Err(kiln_store::Error::Invalid(_)) => {
            return Err(ApiError::field(
                "path",
                "can contain only letters, digits, '_', '-' and '.'. Cannot start with '-', end in '.git' or end in '.atom'",
            ));
        }
        Err(e) => return Err(e.into()),
    };
    Ok(created(group(&app, &ns, &full_name(&app, &ns).await?)))
}

async fn show(State(app): State<App>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let ns = find_group(&app, &caller, &id).await?;
    Ok(ok(group(&app, &ns, &full_name(&app, &ns).await?)))
}

async fn destroy(State(app): State<App>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let user = caller.require_user()?.clone();
    let ns = find_group(&app, &caller, &id).await?;
    let level = app.store.group_access(ns.id, user.id).await?;
    if !user.admin && level.is_none_or(|l| l < AccessLevel::Owner) {
        return Err(ApiError::forbidden());
    }
    let projects = app
        .store
        .list_projects(&ProjectFilter { namespace: Some(ns.id), ..Default::default() }, Page::all())
        .await?;
    app.store.delete_group(ns.id).await?;
    for p in projects.items {
        let _ = app.repos.delete(p.id).await;
    }
    Ok(accepted())
}

async fn projects(
    State(app): State<App>,
    caller: Caller,
    uri: Uri,
    Path(id): Path<String>,
    Input(mut params): Input,
) -> ApiResult<Response> {
    let ns = find_group(&app, &caller, &id).await?;
    let pagination = Pagination::from_params(&mut params);
    params.check()?;
    let all = app
        .store
        .list_projects(&ProjectFilter { namespace: Some(ns.id), ..Default::default() }, Page::all())
        .await?;
    let mut visible = Vec::new();
    for project in all.items {
        if let Ok(access) = access::access_to(&app, &caller, project).await {
            visible.push(access);
        }
    }
    let total = visible.len() as i64;
    let page = pagination.store_page();
    let mut out = Vec::new();
    for access in visible
        .iter()
        .skip(usize::try_from(page.offset).unwrap_or(usize::MAX))
        .take(usize::try_from(page.limit).unwrap_or(0))
    {
        out.push(ProjectEntity::new(&app, &view(&app, access).await?));
    }
    Ok(paginated(out, total, pagination, &app.config.external_url, &uri))
}
