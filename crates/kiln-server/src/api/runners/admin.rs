//! Runners by id: the caller's own runners (`GET /runners`), every runner
//! (`GET /runners/all`, administrators), one runner's details, changes,
//! deletion, jobs, managers and token reset.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::Response;
use axum::routing::{get, post};
use kiln_pipeline::Status;
use kiln_store::jobs::JobFilter;
use kiln_store::runners::{RunnerFilter, RunnerType, RunnerUpdate};
use kiln_store::{Millis, Page, ProjectId};
use serde_json::Value;

use super::{
    ListFilter, Owner, access_level, collect, details, entities, find_runner, maximum_timeout, no_access,
    page_of, project_json, tag_list, token_body,
};
use crate::api::render::Renderer;
use crate::api::util::{created, no_content, ok};
use crate::app::App;
use crate::entities::runner::RunnerManagerEntity;
use crate::error::{ApiError, ApiResult};
use crate::http::Input;
use crate::http::auth::Caller;
use crate::http::pagination::{Pagination, paginated};

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/runners", get(own))
        .route("/runners/all", get(all))
        .route("/runners/{id}", get(show).put(update).delete(destroy))
        .route("/runners/{id}/jobs", get(jobs))
        .route("/runners/{id}/managers", get(managers))
        .route("/runners/{id}/reset_authentication_token", post(reset_token))
}

/// Runners of the projects the caller maintains and the groups it owns.
async fn own(
    State(app): State<App>,
    caller: Caller,
    uri: Uri,
    Input(mut params): Input,
) -> ApiResult<Response> {
    let user = caller.require_user()?;
    let filter = ListFilter::from_params(&mut params);
    let pagination = Pagination::from_params(&mut params);
    params.check()?;
    let candidates = collect(
        &app,
        &[
            RunnerFilter { runner_type: Some(RunnerType::GroupType), ..RunnerFilter::default() },
            RunnerFilter { runner_type: Some(RunnerType::ProjectType), ..RunnerFilter::default() },
        ],
        &filter,
    )
    .await?;
    let mut owner = Owner::new(&app, user);
    let mut mine = Vec::new();
    for runner in candidates {
        // Administrators see instance runners through `/runners/all`, as in GitLab.
        let member_owned =
            if user.admin { owns_as_member(&app, user, &runner).await? } else { owner.owns(&runner).await? };
        if member_owned {
            mine.push(runner);
        }
    }
    let total = i64::try_from(mine.len()).unwrap_or(i64::MAX);
    let items = entities(&app, &page_of(mine, pagination)).await?;
    Ok(paginated(items, total, pagination, &app.config.external_url, &uri))
}

/// Ownership through memberships only (an administrator's own runners).
async fn owns_as_member(
    app: &App,
    user: &kiln_store::users::User,
    runner: &kiln_store::runners::Runner,
) -> ApiResult<bool> {
    let member = kiln_store::users::User { admin: false, ..user.clone() };
    Owner::new(app, &member).owns(runner).await
}

async fn all(
    State(app): State<App>,
    caller: Caller,
    uri: Uri,
    Input(mut params): Input,
) -> ApiResult<Response> {
    let user = caller.require_user()?;
    let filter = ListFilter::from_params(&mut params);
    let pagination = Pagination::from_params(&mut params);
    params.check()?;
    if !user.admin {
        return Err(ApiError::forbidden());
    }
    let runners = collect(&app, &[RunnerFilter::default()], &filter).await?;
    let total = i64::try_from(runners.len()).unwrap_or(i64::MAX);
    let items = entities(&app, &page_of(runners, pagination)).await?;
    Ok(paginated(items, total, pagination, &app.config.external_url, &uri))
}

/// The runner, if the caller owns it (`403 No access granted` otherwise).
async fn owned_runner(app: &App, caller: &Caller, id: &str) -> ApiResult<kiln_store::runners::Runner> {
    let user = caller.require_user()?;
    let runner = find_runner(app, id).await?;
    if !Owner::new(app, user).owns(&runner).await? {
        return Err(no_access());
    }
    Ok(runner)
}

async fn show(State(app): State<App>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let user = caller.require_user()?;
    let runner = find_runner(&app, &id).await?;
    // Every signed-in user may look at instance runners.
    if runner.runner_type != RunnerType::InstanceType && !Owner::new(&app, user).owns(&runner).await? {
        return Err(no_access());
    }
    Ok(ok(details(&app, &runner).await?))
}

async fn update(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Input(mut params): Input,
) -> ApiResult<Response> {
    let runner = owned_runner(&app, &caller, &id).await?;
    let mut change = RunnerUpdate {
        description: params.string("description"),
        tags: tag_list(&mut params),
        run_untagged: params.boolean("run_untagged"),
        locked: params.boolean("locked"),
        access_level: access_level(&mut params),
        paused: params.boolean("paused"),
        ..RunnerUpdate::default()
    };
    if let Some(active) = params.boolean("active") {
        change.paused = Some(!active);
    }
    let timeout = maximum_timeout(&mut params);
    params.check()?;
    change.maximum_timeout = timeout?;
    let given = [
        "description",
        "active",
        "paused",
        "tag_list",
        "run_untagged",
        "locked",
        "access_level",
        "maximum_timeout",
        "maintenance_note",
    ];
    if !given.iter().any(|k| params.has(k)) {
        return Err(ApiError::params(format!(
            "{} are missing, at least one parameter must be provided",
            given.join(", ")
        )));
    }
    let tags_after = change.tags.clone().unwrap_or_else(|| runner.tags.clone());
    if !change.run_untagged.unwrap_or(runner.run_untagged) && tags_after.is_empty() {
        return Err(ApiError::field(
            "tags_list",
            "can not be empty when runner is not allowed to pick untagged jobs",
        ));
    }
    let runner = app.store.update_runner(runner.id, &change).await?;
    Ok(ok(details(&app, &runner).await?))
}

async fn destroy(State(app): State<App>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let user = caller.require_user()?;
    let runner = find_runner(&app, &id).await?;
    if !user.admin && runner.projects.len() > 1 {
        return Err(ApiError::forbidden_because("Runner associated with more than one project"));
    }
    if !Owner::new(&app, user).owns(&runner).await? {
        return Err(no_access());
    }
    app.store.delete_runner(runner.id).await?;
    Ok(no_content())
}

const JOB_STATUSES: &[&str] = &["running", "success", "failed", "canceled"];

async fn jobs(
    State(app): State<App>,
    caller: Caller,
    uri: Uri,
    Path(id): Path<String>,
    Input(mut params): Input,
) -> ApiResult<Response> {
    let status = params.one_of("status", JOB_STATUSES).and_then(|s| Status::from_name(&s));
    params.one_of("order_by", &["id"]);
    let ascending = params.one_of("sort", &["asc", "desc"]).as_deref() == Some("asc");
    let pagination = Pagination::from_params(&mut params);
    params.check()?;
    let runner = owned_runner(&app, &caller, &id).await?;
    let filter = JobFilter {
        runner: Some(runner.id),
        statuses: status.into_iter().collect(),
        include_retried: true,
        ..JobFilter::default()
    };
    // The store lists newest first; oldest first needs the whole list.
    let (records, total) = if ascending {
        let all = app.store.list_jobs(&filter, Page::all()).await?;
        let mut items = all.items;
        items.reverse();
        (page_of(items, pagination), all.total)
    } else {
        let page = app.store.list_jobs(&filter, pagination.store_page()).await?;
        (page.items, page.total)
    };
    let mut projects: HashMap<ProjectId, (kiln_store::projects::Project, Value)> = HashMap::new();
    let mut out = Vec::with_capacity(records.len());
    for job in &records {
        if let std::collections::hash_map::Entry::Vacant(slot) = projects.entry(job.project_id) {
            let project = app.store.project(job.project_id).await?;
            let json = project_json(&app, &project).await?;
            slot.insert((project, json));
        }
        let Some((project, json)) = projects.get(&job.project_id) else { continue };
        let mut entity = Renderer::new(&app, project).job(job).await?;
        entity.project = json.clone();
        out.push(entity);
    }
    Ok(paginated(out, total, pagination, &app.config.external_url, &uri))
}

async fn managers(State(app): State<App>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let runner = owned_runner(&app, &caller, &id).await?;
    let now = Millis::now();
    let list = app.store.runner_managers(runner.id).await?;
    Ok(ok(list.iter().map(|m| RunnerManagerEntity::new(m, now)).collect::<Vec<_>>()))
}

async fn reset_token(State(app): State<App>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let runner = owned_runner(&app, &caller, &id).await?;
    // A rotated token keeps the runner's expiry policy: none is configured here.
    let (runner, token) = app.store.reset_runner_token(runner.id, None).await?;
    Ok(created(token_body(&runner, &token)))
}
