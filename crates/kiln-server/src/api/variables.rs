//! CI/CD variables of projects (`/projects/:id/variables`), groups
//! (`/groups/:id/variables`) and the instance (`/admin/ci/variables`), with
//! GitLab's key and masking rules.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::Response;
use axum::routing::get;
use kiln_store::namespaces::AccessLevel;
use kiln_store::variables::{NewVariable, VariableOwner, VariableType, VariableUpdate};

use crate::access::{self, Action};
use crate::api::groups::find_group;
use crate::api::util::{created, no_content, ok};
use crate::app::App;
use crate::entities::misc::VariableEntity;
use crate::error::{ApiError, ApiResult};
use crate::http::Input;
use crate::http::auth::Caller;
use crate::http::pagination::{Pagination, paginated};
use crate::http::params::Params;

pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/projects/{id}/variables", get(project_list).post(project_create))
        .route("/projects/{id}/variables/{key}", get(project_show).put(project_update).delete(project_delete))
        .route("/groups/{id}/variables", get(group_list).post(group_create))
        .route("/groups/{id}/variables/{key}", get(group_show).put(group_update).delete(group_delete))
        .route("/admin/ci/variables", get(instance_list).post(instance_create))
        .route("/admin/ci/variables/{key}", get(instance_show).put(instance_update).delete(instance_delete))
}

/// Characters a masked value may contain (GitLab's `Ci::Maskable::REGEX`).
fn maskable_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_+=/@:.~-".contains(c)
}

/// Why a value cannot be masked, in GitLab's words; empty when it can.
pub(crate) fn masking_problems(value: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut bad: Vec<String> = Vec::new();
    let mut whitespace = false;
    for c in value.chars() {
        if c.is_whitespace() {
            whitespace = true;
        } else if !maskable_char(c) && !bad.contains(&c.to_string()) {
            bad.push(c.to_string());
        }
    }
    if whitespace {
        bad.insert(0, "whitespace characters".to_string());
    }
    if !bad.is_empty() {
        problems.push(format!(
            "This value cannot be masked because it contains the following characters: {}.",
            bad.join(", ")
        ));
    }
    if value.chars().count() < 8 {
        problems.push("The value must have at least 8 characters.".to_string());
    }
    problems
}

fn key_problem(key: &str) -> Option<&'static str> {
    if key.len() > 255 {
        Some("is too long (maximum is 255 characters)")
    } else if !kiln_store::variables::valid_key(key) {
        Some("can contain only letters, digits and '_'.")
    } else {
        None
    }
}

fn value_error(value: &str) -> ApiError {
    let mut messages = vec!["is invalid".to_string()];
    messages.extend(masking_problems(value));
    ApiError::Fields(BTreeMap::from([("value".to_string(), messages)]))
}

fn variable_type(params: &mut Params) -> Option<VariableType> {
    params.one_of("variable_type", &["env_var", "file"]).and_then(|t| VariableType::from_name(&t))
}

fn scope_filter(params: &mut Params) -> Option<String> {
    match params.raw("filter") {
        Some(serde_json::Value::Object(map)) => {
            map.get("environment_scope").and_then(|v| v.as_str()).map(str::to_string)
        }
        _ => params.string("filter[environment_scope]"),
    }
}

async fn list(app: &App, owner: VariableOwner, uri: &Uri, mut params: Params) -> ApiResult<Response> {
    let pagination = Pagination::from_params(&mut params);
    params.check()?;
    let all = app.store.list_variables(owner).await?;
    let total = all.len() as i64;
    let page = pagination.store_page();
    let items: Vec<VariableEntity> = all
        .iter()
        .skip(usize::try_from(page.offset).unwrap_or(usize::MAX))
        .take(usize::try_from(page.limit).unwrap_or(0))
        .map(Into::into)
        .collect();
    Ok(paginated(items, total, pagination, &app.config.external_url, uri))
}

fn store_error(e: kiln_store::Error, key: &str) -> ApiError {
    match e {
        kiln_store::Error::NotFound(_) => ApiError::not_found("Variable"),
        kiln_store::Error::Conflict(message) if message.contains("multiple") => ApiError::conflict(
            "There are multiple variables with provided parameters. Please use 'filter[environment_scope]'",
        ),
        kiln_store::Error::Conflict(_) => ApiError::field("key", format!("({key}) has already been taken")),
        other => other.into(),
    }
}

async fn show(app: &App, owner: VariableOwner, key: &str, mut params: Params) -> ApiResult<Response> {
    let scope = scope_filter(&mut params);
    params.check()?;
    let variable = app.store.variable(owner, key, scope.as_deref()).await.map_err(|e| store_error(e, key))?;
    Ok(ok(VariableEntity::from(&variable)))
}

async fn create(app: &App, owner: VariableOwner, mut params: Params) -> ApiResult<Response> {
    let key = params.required_string("key");
    let value = params.required_string("value");
    let variable_type = variable_type(&mut params).unwrap_or(VariableType::EnvVar);
    let protected = params.boolean("protected").unwrap_or(false);
    let hidden = params.boolean("masked_and_hidden").unwrap_or(false);
    let masked = params.boolean("masked").unwrap_or(false) || hidden;
    let raw = params.boolean("raw").unwrap_or(false);
    let environment_scope =
        params.string("environment_scope").filter(|s| !s.is_empty()).unwrap_or_else(|| "*".into());
    let description = params.string("description");
    params.check()?;
    if let Some(problem) = key_problem(&key) {
        return Err(ApiError::field("key", problem));
    }
    if masked && !masking_problems(&value).is_empty() {
        return Err(value_error(&value));
    }
    let environment_scope =
        if owner == VariableOwner::Instance { "*".to_string() } else { environment_scope };
    let new = NewVariable {
        key: key.clone(),
        value,
        variable_type,
        protected,
        masked,
        hidden,
        raw,
        environment_scope,
        description,
    };
    let variable = app.store.create_variable(owner, &new).await.map_err(|e| store_error(e, &key))?;
    Ok(created(VariableEntity::from(&variable)))
}

async fn update(app: &App, owner: VariableOwner, key: &str, mut params: Params) -> ApiResult<Response> {
    let scope = scope_filter(&mut params);
    let update = VariableUpdate {
        value: params.string("value"),
        variable_type: variable_type(&mut params),
        protected: params.boolean("protected"),
        masked: params.boolean("masked"),
        raw: params.boolean("raw"),
        environment_scope: params.string("environment_scope").filter(|s| !s.is_empty()),
        description: params.string("description"),
    };
    params.check()?;
    let current = app.store.variable(owner, key, scope.as_deref()).await.map_err(|e| store_error(e, key))?;
    let masked = update.masked.unwrap_or(current.masked);
    let value = update.value.clone().unwrap_or_else(|| current.value.clone());
    if masked && !masking_problems(&value).is_empty() {
        return Err(value_error(&value));
    }
    let variable = app
        .store
        .update_variable(owner, key, Some(&current.environment_scope), &update)
        .await
        .map_err(|e| store_error(e, key))?;
    Ok(ok(VariableEntity::from(&variable)))
}

async fn delete(app: &App, owner: VariableOwner, key: &str, mut params: Params) -> ApiResult<Response> {
    let scope = scope_filter(&mut params);
    params.check()?;
    app.store.delete_variable(owner, key, scope.as_deref()).await.map_err(|e| store_error(e, key))?;
    Ok(no_content())
}

/// Maintainers manage project variables.
async fn project_owner(app: &App, caller: &Caller, id: &str) -> ApiResult<VariableOwner> {
    caller.require_user()?;
    let access = access::project(app, caller, id).await?;
    access.require(Action::Maintain)?;
    Ok(VariableOwner::Project(access.project.id))
}

/// Owners manage group variables.
async fn group_owner(app: &App, caller: &Caller, id: &str) -> ApiResult<VariableOwner> {
    let user = caller.require_user()?;
    let group = find_group(app, caller, id).await?;
    let level = app.store.group_access(group.id, user.id).await?;
    if !user.admin && level.is_none_or(|l| l < AccessLevel::Owner) {
        return Err(ApiError::forbidden());
    }
    Ok(VariableOwner::Group(group.id))
}

fn admin_owner(caller: &Caller) -> ApiResult<VariableOwner> {
    let user = caller.require_user()?;
    if !user.admin {
        return Err(ApiError::forbidden());
    }
    Ok(VariableOwner::Instance)
}

async fn project_list(
    State(app): State<App>,
    caller: Caller,
    uri: Uri,
    Path(id): Path<String>,
    Input(p): Input,
) -> ApiResult<Response> {
    let owner = project_owner(&app, &caller, &id).await?;
    list(&app, owner, &uri, p).await
}

async fn project_create(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Input(p): Input,
) -> ApiResult<Response> {
    let owner = project_owner(&app, &caller, &id).await?;
    create(&app, owner, p).await
}

async fn project_show(
    State(app): State<App>,
    caller: Caller,
    Path((id, key)): Path<(String, String)>,
    Input(p): Input,
) -> ApiResult<Response> {
    let owner = project_owner(&app, &caller, &id).await?;
    show(&app, owner, &key, p).await
}

async fn project_update(
    State(app): State<App>,
    caller: Caller,
    Path((id, key)): Path<(String, String)>,
    Input(p): Input,
) -> ApiResult<Response> {
    let owner = project_owner(&app, &caller, &id).await?;
    update(&app, owner, &key, p).await
}

async fn project_delete(
    State(app): State<App>,
    caller: Caller,
    Path((id, key)): Path<(String, String)>,
    Input(p): Input,
) -> ApiResult<Response> {
    let owner = project_owner(&app, &caller, &id).await?;
    delete(&app, owner, &key, p).await
}

async fn group_list(
    State(app): State<App>,
    caller: Caller,
    uri: Uri,
    Path(id): Path<String>,
    Input(p): Input,
) -> ApiResult<Response> {
    let owner = group_owner(&app, &caller, &id).await?;
    list(&app, owner, &uri, p).await
}

async fn group_create(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Input(p): Input,
) -> ApiResult<Response> {
    let owner = group_owner(&app, &caller, &id).await?;
    create(&app, owner, p).await
}

async fn group_show(
    State(app): State<App>,
    caller: Caller,
    Path((id, key)): Path<(String, String)>,
    Input(p): Input,
) -> ApiResult<Response> {
    let owner = group_owner(&app, &caller, &id).await?;
    show(&app, owner, &key, p).await
}

async fn group_update(
    State(app): State<App>,
    caller: Caller,
    Path((id, key)): Path<(String, String)>,
    Input(p): Input,
) -> ApiResult<Response> {
    let owner = group_owner(&app, &caller, &id).await?;
    update(&app, owner, &key, p).await
}

async fn group_delete(
    State(app): State<App>,
    caller: Caller,
    Path((id, key)): Path<(String, String)>,
    Input(p): Input,
) -> ApiResult<Response> {
    let owner = group_owner(&app, &caller, &id).await?;
    delete(&app, owner, &key, p).await
}

async fn instance_list(
    State(app): State<App>,
    caller: Caller,
    uri: Uri,
    Input(p): Input,
) -> ApiResult<Response> {
    list(&app, admin_owner(&caller)?, &uri, p).await
}

async fn instance_create(State(app): State<App>, caller: Caller, Input(p): Input) -> ApiResult<Response> {
    create(&app, admin_owner(&caller)?, p).await
}

async fn instance_show(
    State(app): State<App>,
    caller: Caller,
    Path(key): Path<String>,
    Input(p): Input,
) -> ApiResult<Response> {
    show(&app, admin_owner(&caller)?, &key, p).await
}

async fn instance_update(
    State(app): State<App>,
    caller: Caller,
    Path(key): Path<String>,
    Input(p): Input,
) -> ApiResult<Response> {
    update(&app, admin_owner(&caller)?, &key, p).await
}

async fn instance_delete(
    State(app): State<App>,
    caller: Caller,
    Path(key): Path<String>,
    Input(p): Input,
) -> ApiResult<Response> {
    delete(&app, admin_owner(&caller)?, &key, p).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking_rules_say_what_is_wrong() {
        assert!(masking_problems("abcdefgh").is_empty());
        assert!(masking_problems("a+b=c/d@e:f.g~h-i_j").is_empty());
        assert_eq!(masking_problems("short"), ["The value must have at least 8 characters."]);
        assert_eq!(
            masking_problems("two words!!"),
            [
                "This value cannot be masked because it contains the following characters: whitespace characters, !."
            ]
        );
        assert_eq!(masking_problems("line\nbreak$").len(), 1);
        assert_eq!(masking_problems("sh\nort").len(), 2);
    }
}
