//! Projects: `GET/POST /projects`, `GET/PUT/DELETE /projects/:id` with the
//! CI/CD settings (`ci_config_path`, `default_branch`, `build_timeout`,
//! `ci_default_git_depth`, ...).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::Response;
use axum::routing::get;
use kiln_store::namespaces::{AccessLevel, NamespaceKind, Visibility};
use kiln_store::projects::{NewProject, Project, ProjectFilter, ProjectUpdate};
use kiln_store::{NamespaceId, Page};

use crate::access::{self, Action, ProjectAccess};
use crate::api::util::{accepted, created, ok};
use crate::app::App;
use crate::entities::project::{ProjectEntity, ProjectView};
use crate::error::{ApiError, ApiResult};
use crate::http::Input;
use crate::http::auth::Caller;
use crate::http::pagination::{Pagination, paginated};
use crate::http::params::Params;

pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/projects", get(list).post(create))
        .route("/projects/{id}", get(show).put(update).delete(destroy))
}

const NAME_RULE: &str = "can contain only letters, digits, emoji, '_', '.', '+', dashes, or spaces. \
                         It must start with a letter, digit, emoji, or '_'.";
const PATH_RULE: &str = "can contain only letters, digits, '_', '-' and '.'. Cannot start with '-', end in '.git' or end in '.atom'";

/// Everything rendering a project needs.
pub(crate) async fn view(app: &App, access: &ProjectAccess) -> ApiResult<ProjectView> {
    view_of(app, access.project.clone(), access.level).await
}

async fn view_of(app: &App, project: Project, level: Option<AccessLevel>) -> ApiResult<ProjectView> {
    let lineage = app.store.namespace_lineage(project.namespace_id).await?;
    let namespace = lineage.last().cloned().ok_or_else(ApiError::record_not_found)?;
    let namespace_human_name = lineage.iter().map(|n| n.name.as_str()).collect::<Vec<_>>().join(" / ");
    let empty_repo = app.repos.get(project.id).refs().await.map_or(true, |refs| refs.is_empty());
    Ok(ProjectView { project, namespace, namespace_human_name, level, empty_repo })
}

async fn show(State(app): State<App>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let access = access::project(&app, &caller, &id).await?;
    Ok(ok(ProjectEntity::new(&app, &view(&app, &access).await?)))
}

async fn list(
    State(app): State<App>,
    caller: Caller,
    uri: Uri,
    Input(mut params): Input,
) -> ApiResult<Response> {
    let membership =
        params.boolean("membership").unwrap_or(false) || params.boolean("owned").unwrap_or(false);
    let search = params.string("search").map(|s| s.to_lowercase());
    let visibility = params.one_of("visibility", &["private", "internal", "public"]);
    let pagination = Pagination::from_params(&mut params);
    params.check()?;
    let user = caller.user().cloned();
    let mut projects: Vec<Project> = match (&user, membership) {
        (Some(u), true) => {
            app.store
                .list_projects(&ProjectFilter { member: Some(u.id), ..Default::default() }, Page::all())
                .await?
                .items
        }
        (Some(u), false) if u.admin => {
            app.store.list_projects(&ProjectFilter::default(), Page::all()).await?.items
        }
        (Some(u), false) => {
            let mut mine = app
                .store
                .list_projects(&ProjectFilter { member: Some(u.id), ..Default::default() }, Page::all())
                .await?
                .items;
            let open = ProjectFilter { min_visibility: Some(Visibility::Internal), ..Default::default() };
            mine.extend(app.store.list_projects(&open, Page::all()).await?.items);
            mine
        }
        (None, _) => {
            let open = ProjectFilter { min_visibility: Some(Visibility::Public), ..Default::default() };
            app.store.list_projects(&open, Page::all()).await?.items
        }
    };
    projects.sort_by_key(|p| std::cmp::Reverse(p.id));
    projects.dedup_by_key(|p| p.id);
    if let Some(search) = &search {
        projects.retain(|p| {
            p.name.to_lowercase().contains(search) || p.full_path.to_lowercase().contains(search)
        });
    }
    if let Some(v) = &visibility {
        projects.retain(|p| p.visibility.as_str() == v);
    }
    let total = projects.len() as i64;
    let page = pagination.store_page();
    let mut entities = Vec::new();
    for project in projects
        .into_iter()
        .skip(usize::try_from(page.offset).unwrap_or(usize::MAX))
        .take(page.limit as usize)
    {
        let access = access::access_to(&app, &caller, project).await?;
        entities.push(ProjectEntity::new(&app, &view(&app, &access).await?));
    }
    Ok(paginated(entities, total, pagination, &app.config.external_url, &uri))
}

/// GitLab's `parameterize` for a path made from a name.
fn path_from_name(name: &str) -> String {
    let mut out = String::new();
    for ch in name.trim().chars() {
        let ch = ch.to_ascii_lowercase();
        if ch.is_ascii_alphanumeric() || matches!(ch, '_' | '.') {
            out.push(ch);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_alphanumeric() || c == '_')
        && name.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '+' | '-' | ' '))
}

fn visibility_param(params: &mut Params) -> Option<Visibility> {
    params.one_of("visibility", &["private", "internal", "public"]).and_then(|v| Visibility::from_name(&v))
}

async fn create(State(app): State<App>, caller: Caller, Input(mut params): Input) -> ApiResult<Response> {
    let user = caller.require_user()?.clone();
    let name = params.string("name");
    let path = params.string("path");
    if name.as_deref().is_none_or(str::is_empty) && path.as_deref().is_none_or(str::is_empty) {
        params.error("name, path are missing, at least one parameter must be provided");
    }
    let description = params.string("description").unwrap_or_default();
    let visibility = visibility_param(&mut params).unwrap_or(Visibility::Private);
    let default_branch =
        params.string("default_branch").filter(|b| !b.is_empty()).unwrap_or_else(|| "main".into());
    let namespace_param = params.string("namespace_id").or_else(|| params.string("namespace"));
    let settings = settings_params(&mut params);
    params.check()?;
    let name = name.filter(|n| !n.is_empty()).or_else(|| path.clone()).unwrap_or_default();
    let path = path.filter(|p| !p.is_empty()).unwrap_or_else(|| path_from_name(&name));
    if !valid_name(&name) {
        return Err(ApiError::field("name", NAME_RULE));
    }
    if kiln_git::validate_branch_name(&default_branch).is_err() {
        return Err(ApiError::field("default_branch", "is invalid"));
    }

    // The namespace: the caller's own, or a group they may create projects in.
    let namespace = match namespace_param {
        None => app.store.user_namespace(user.id).await?,
        Some(ns) => {
            let found = match ns.parse::<i64>() {
                Ok(id) => app.store.namespace(NamespaceId(id)).await,
                Err(_) => app.store.namespace_by_path(&ns).await,
            };
            let Ok(namespace) = found else { return Err(ApiError::field("namespace", "is not valid")) };
            let allowed = user.admin
                || match namespace.kind {
                    NamespaceKind::User => namespace.owner_id == Some(user.id),
                    NamespaceKind::Group => app
                        .store
                        .group_access(namespace.id, user.id)
                        .await?
                        .is_some_and(|l| l >= AccessLevel::Maintainer),
                };
            if !allowed {
                return Err(ApiError::field("namespace", "is not valid"));
            }
            namespace
        }
    };
    let new = NewProject {
        namespace: namespace.id,
        name,
        path,
        description,
        visibility,
        default_branch: default_branch.clone(),
        creator: Some(user.id),
    };
    let project = match app.store.create_project(&new).await {
        Ok(project) => project,
        Err(kiln_store::Error::Conflict(_)) => {
            let mut fields = std::collections::BTreeMap::new();
            fields.insert("name".to_string(), vec!["has already been taken".to_string()]);
            fields.insert("path".to_string(), vec!["has already been taken".to_string()]);
            return Err(ApiError::Fields(fields));
        }
        Err(kiln_store::Error::Invalid(_)) => return Err(ApiError::field("path", PATH_RULE)),
        Err(e) => return Err(e.into()),
    };
    if let Err(e) = app.repos.create(project.id, &default_branch).await {
        // Without a repository the project is of no use: take it back.
        let _ = app.store.delete_project(project.id).await;
        return Err(ApiError::internal(format!("creating the repository of project {}: {e}", project.id)));
    }
    let project =
        if settings.is_empty() { project } else { app.store.update_project(project.id, &settings).await? };
    let access = access::access_to(&app, &caller, project).await?;
    Ok(created(ProjectEntity::new(&app, &view(&app, &access).await?)))
}

/// The CI/CD settings both create and update accept.
fn settings_params(params: &mut Params) -> ProjectUpdate {
    let mut update = ProjectUpdate {
        ci_config_path: params.string("ci_config_path"),
        build_timeout: params.integer("build_timeout"),
        ci_default_git_depth: params.integer("ci_default_git_depth"),
        shared_runners_enabled: params.boolean("shared_runners_enabled"),
        public_jobs: params.boolean("public_jobs").or_else(|| params.boolean("public_builds")),
        ..ProjectUpdate::default()
    };
    if update.build_timeout.is_some_and(|t| !(600..=2_592_000).contains(&t)) {
        params.error("build_timeout needs to be between 10 minutes and 1 month");
        update.build_timeout = None;
    }
    if update.ci_default_git_depth.is_some_and(|d| !(0..=1000).contains(&d)) {
        params.error("ci_default_git_depth must be between 0 and 1000");
        update.ci_default_git_depth = None;
    }
    update
}

trait IsEmpty {
    fn is_empty(&self) -> bool;
}

impl IsEmpty for ProjectUpdate {
    fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.description.is_none()
            && self.visibility.is_none()
            && self.default_branch.is_none()
            && self.ci_config_path.is_none()
            && self.build_timeout.is_none()
            && self.ci_default_git_depth.is_none()
            && self.shared_runners_enabled.is_none()
            && self.public_jobs.is_none()
            && self.archived.is_none()
    }
}

async fn update(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Input(mut params): Input,
) -> ApiResult<Response> {
    caller.require_user()?;
    let access = access::project(&app, &caller, &id).await?;
    access.require(Action::Maintain)?;
    let mut update = settings_params(&mut params);
    update.name = params.string("name");
    update.description = params.string("description");
    update.visibility = visibility_param(&mut params);
    update.default_branch = params.string("default_branch");
    update.archived = params.boolean("archived");
    params.check()?;
    if update.name.as_deref().is_some_and(|n| !valid_name(n)) {
        return Err(ApiError::field("name", NAME_RULE));
    }
    if let Some(branch) = &update.default_branch {
        if kiln_git::validate_branch_name(branch).is_err() {
            return Err(ApiError::field("default_branch", "is invalid"));
        }
        app.repos.get(access.project.id).set_default_branch(branch).await?;
    }
    let project = app.store.update_project(access.project.id, &update).await?;
    let view = view_of(&app, project, access.level).await?;
    Ok(ok(ProjectEntity::new(&app, &view)))
}

async fn destroy(State(app): State<App>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    caller.require_user()?;
    let access = access::project(&app, &caller, &id).await?;
    access.require(Action::Own)?;
    app.store.delete_project(access.project.id).await?;
    if let Err(e) = app.repos.delete(access.project.id).await {
        tracing::warn!(project = access.project.id.0, error = %e, "cannot delete repository");
    }
    Ok(accepted())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths() {
        assert_eq!(path_from_name("My Project!"), "my-project");
        assert_eq!(path_from_name("  a__b.c "), "a__b.c");
        assert!(valid_name("My project+1"));
        assert!(!valid_name("-x"));
        assert!(!valid_name("a/b"));
    }
}
