//! The runner administration API (`lib/api/ci/runners.rb`, `user_runners.rb`):
//! runners by id, instance-wide, per project and per group, their jobs and
//! managers, creating runners with `glrt-` tokens, and the instance's runner
//! registration settings. The runner-facing protocol lives in `runner_api`.
//!
//! Permissions follow GitLab's runner policies: administrators manage every
//! runner; owners of a group manage its group runners; maintainers of a project
//! manage the project runners assigned to it. Instance runners are readable by
//! every signed-in user.

mod admin;
mod scoped;
mod settings;

use std::collections::HashMap;

use axum::Router;
use kiln_store::namespaces::AccessLevel;
use kiln_store::runners::{Runner, RunnerAccessLevel, RunnerFilter, RunnerType};
use kiln_store::users::User;
use kiln_store::{Millis, NamespaceId, Page, ProjectId, RunnerId};
use serde_json::{Value, json};

use crate::app::App;
use crate::entities::runner::{RunnerDetails, RunnerEntity, RunnerStatus};
use crate::error::{ApiError, ApiResult};
use crate::http::params::Params;

pub(crate) fn routes() -> Router<App> {
    Router::new().merge(admin::routes()).merge(scoped::routes()).merge(settings::routes())
}

/// A runner by its path id: `404 Runner Not Found` when there is none.
async fn find_runner(app: &App, raw: &str) -> ApiResult<Runner> {
    let Some(id) = raw.parse::<i64>().ok().filter(|n| *n > 0) else {
        return Err(ApiError::not_found("Runner"));
    };
    match app.store.runner(RunnerId(id)).await {
        Ok(r) => Ok(r),
        Err(kiln_store::Error::NotFound(_)) => Err(ApiError::not_found("Runner")),
        Err(e) => Err(e.into()),
    }
}

/// Remembers a user's access per project and group while one request checks
/// many runners.
struct Owner<'a> {
    app: &'a App,
    user: &'a User,
    projects: HashMap<ProjectId, Option<AccessLevel>>,
    groups: HashMap<NamespaceId, Option<AccessLevel>>,
}

impl<'a> Owner<'a> {
    fn new(app: &'a App, user: &'a User) -> Owner<'a> {
        Owner { app, user, projects: HashMap::new(), groups: HashMap::new() }
    }

    async fn project(&mut self, id: ProjectId) -> ApiResult<Option<AccessLevel>> {
        if let Some(level) = self.projects.get(&id) {
            return Ok(*level);
        }
        let level = self.app.store.project_access(id, self.user.id).await?;
        self.projects.insert(id, level);
        Ok(level)
    }

    async fn group(&mut self, id: NamespaceId) -> ApiResult<Option<AccessLevel>> {
        if let Some(level) = self.groups.get(&id) {
            return Ok(*level);
        }
        let level = self.app.store.group_access(id, self.user.id).await?;
        self.groups.insert(id, level);
        Ok(level)
    }

    /// Whether the user owns (may change, delete, list the jobs of) the runner:
    /// not instance runners, unless an administrator.
    async fn owns(&mut self, runner: &Runner) -> ApiResult<bool> {
        if self.user.admin {
            return Ok(true);
        }
        match runner.runner_type {
            RunnerType::InstanceType => Ok(false),
            RunnerType::GroupType => match runner.group_id {
                Some(g) => Ok(self.group(g).await?.is_some_and(|l| l >= AccessLevel::Owner)),
                None => Ok(false),
            },
            RunnerType::ProjectType => {
                for p in &runner.projects {
                    if self.project(*p).await?.is_some_and(|l| l >= AccessLevel::Maintainer) {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
        }
    }
}

/// `403 Forbidden - No access granted`.
fn no_access() -> ApiError {
    ApiError::forbidden_because("No access granted")
}

/// The list filters GitLab's runner lists take: `type`, `status`, `paused`,
/// `tag_list` (an array or a comma-separated string), `version_prefix`.
struct ListFilter {
    store: RunnerFilter,
    status: Option<RunnerStatus>,
    /// Runners with a manager whose version starts with this.
    version_prefix: Option<String>,
}

const TYPES: &[&str] = &["instance_type", "group_type", "project_type"];
const STATUSES: &[&str] = &["online", "offline", "stale", "never_contacted", "active", "paused"];

impl ListFilter {
    fn from_params(params: &mut Params) -> ListFilter {
        let mut store = RunnerFilter {
            runner_type: params.one_of("type", TYPES).and_then(|t| RunnerType::from_name(&t)),
            paused: params.boolean("paused"),
            ..RunnerFilter::default()
        };
        store.tags = tag_list(params).unwrap_or_default();
        let mut status = None;
        // `active` and `paused` are the deprecated spellings of the `paused` filter.
        match params.one_of("status", STATUSES).as_deref() {
            Some("active") => store.paused = Some(false),
            Some("paused") => store.paused = Some(true),
            Some(other) => status = RunnerStatus::from_name(other),
            None => {}
        }
        let version_prefix = params.string("version_prefix").filter(|v| !v.is_empty());
        ListFilter { store, status, version_prefix }
    }

    fn matches(&self, runner: &Runner, now: Millis) -> bool {
        self.store.runner_type.is_none_or(|t| runner.runner_type == t)
            && self.status.is_none_or(|s| RunnerStatus::of(runner.created_at, runner.contacted_at, now) == s)
    }
}

/// `tag_list` as Grape's comma-separated array coercion reads it.
fn tag_list(params: &mut Params) -> Option<Vec<String>> {
    let items = params.string_array("tag_list")?;
    Some(
        items
            .iter()
            .flat_map(|s| s.split(','))
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
    )
}

/// `access_level`.
fn access_level(params: &mut Params) -> Option<RunnerAccessLevel> {
    params
        .one_of("access_level", &["not_protected", "ref_protected"])
        .and_then(|a| RunnerAccessLevel::from_name(&a))
}

/// `maximum_timeout`: at least 10 minutes, as GitLab validates it.
fn maximum_timeout(params: &mut Params) -> ApiResult<Option<Option<i64>>> {
    if !params.has("maximum_timeout") {
        return Ok(None);
    }
    match params.raw("maximum_timeout") {
        Some(Value::Null) => return Ok(Some(None)),
        Some(Value::String(s)) if s.is_empty() => return Ok(Some(None)),
        _ => {}
    }
    let Some(seconds) = params.integer("maximum_timeout") else { return Ok(None) };
    if seconds < 600 {
        return Err(ApiError::field("maximum_timeout", "needs to be at least 10 minutes"));
    }
    Ok(Some(Some(seconds)))
}

/// Runners of `filters` (their union, without duplicates, by id) that pass `filter`.
async fn collect(app: &App, filters: &[RunnerFilter], filter: &ListFilter) -> ApiResult<Vec<Runner>> {
    let now = Millis::now();
    let mut out: Vec<Runner> = Vec::new();
    for base in filters {
        let wanted =
            RunnerFilter { paused: filter.store.paused, tags: filter.store.tags.clone(), ..base.clone() };
        let page = app.store.list_runners(&wanted, Page::all()).await?;
        out.extend(page.items.into_iter().filter(|r| filter.matches(r, now)));
    }
    out.sort_by_key(|r| r.id.0);
    out.dedup_by_key(|r| r.id.0);
    if let Some(prefix) = &filter.version_prefix {
        let mut kept = Vec::with_capacity(out.len());
        for runner in out {
            let managers = app.store.runner_managers(runner.id).await?;
            if managers.iter().any(|m| m.version.starts_with(prefix.as_str())) {
                kept.push(runner);
            }
        }
        out = kept;
    }
    Ok(out)
}

/// The `Runner` entities of a list, with their managers' latest IP.
async fn entities(app: &App, runners: &[Runner]) -> ApiResult<Vec<RunnerEntity>> {
    let now = Millis::now();
    let mut out = Vec::with_capacity(runners.len());
    for r in runners {
        let managers = app.store.runner_managers(r.id).await?;
        out.push(RunnerEntity::new(r, &managers, now));
    }
    Ok(out)
}

/// `RunnerDetails`: with the runner's projects (those the caller may see
/// when not an administrator) and its group.
async fn details(app: &App, runner: &Runner) -> ApiResult<RunnerDetails> {
    let managers = app.store.runner_managers(runner.id).await?;
    let mut projects = Vec::new();
    for id in &runner.projects {
        let Ok(p) = app.store.project(*id).await else { continue };
        projects.push(project_json(app, &p).await?);
    }
    let mut groups = Vec::new();
    if let Some(g) = runner.group_id
        && let Ok(ns) = app.store.namespace(g).await
    {
        groups.push(json!({
            "id": ns.id.0,
            "web_url": format!("{}/groups/{}", app.config.external_url, ns.full_path),
            "name": ns.name,
        }));
    }
    Ok(RunnerDetails::new(runner, &managers, projects, groups, Millis::now()))
}

/// A project as runner details and runner jobs show it (`ProjectIdentity`).
async fn project_json(app: &App, p: &kiln_store::projects::Project) -> ApiResult<Value> {
    let namespace = crate::api::groups::full_name(app, &app.store.namespace(p.namespace_id).await?).await?;
    Ok(json!({
        "id": p.id.0,
        "description": p.description,
        "name": p.name,
        "name_with_namespace": format!("{namespace} / {}", p.name),
        "path": p.path,
        "path_with_namespace": p.full_path,
        "created_at": crate::http::time::iso(p.created_at),
    }))
}

/// Slices one page out of a list built in memory.
fn page_of<T>(items: Vec<T>, pagination: crate::http::pagination::Pagination) -> Vec<T> {
    let page = pagination.store_page();
    let start = usize::try_from(page.offset).unwrap_or(usize::MAX);
    let take = usize::try_from(page.limit).unwrap_or(usize::MAX);
    items.into_iter().skip(start).take(take).collect()
}

/// `{"id", "token", "token_expires_at"}`: the only time a token is shown.
fn token_body(runner: &Runner, token: &str) -> Value {
    json!({
        "id": runner.id.0,
        "token": token,
        "token_expires_at": crate::http::time::iso_opt(runner.token_expires_at),
    })
}
