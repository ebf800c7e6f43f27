//! Namespaces as administrators see them: `GET /namespaces/:id` and
//! `PUT /namespaces/:id` with `shared_runners_minutes_limit`, the monthly compute
//! quota of a top-level namespace (see `ci::quota`). As in GitLab, `0` or `null`
//! means no limit.

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use kiln_store::NamespaceId;
use kiln_store::namespaces::{Namespace, NamespaceKind};
use serde_json::{Value, json};

use crate::api::util::{ok, parse_id};
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::http::Input;
use crate::http::auth::Caller;

pub(crate) fn routes() -> Router<App> {
    Router::new().route("/namespaces/{id}", get(show).put(update))
}

/// The namespace, for an administrator (`403` for anyone else, `404` when absent).
async fn find(app: &App, caller: &Caller, id: &str) -> ApiResult<Namespace> {
    if !caller.require_user()?.admin {
        return Err(ApiError::forbidden());
    }
    let id = parse_id(id, "id")?;
    match app.store.namespace(NamespaceId(id)).await {
        Ok(ns) => Ok(ns),
        Err(kiln_store::Error::NotFound(_)) => Err(ApiError::not_found("Namespace")),
        Err(e) => Err(e.into()),
    }
}

async fn entity(app: &App, ns: &Namespace) -> ApiResult<Value> {
    let web_url = match ns.kind {
        NamespaceKind::Group => format!("{}/groups/{}", app.config.external_url, ns.full_path),
        NamespaceKind::User => format!("{}/{}", app.config.external_url, ns.full_path),
    };
    let limit = app.store.namespace_quota(ns.id).await?;
    Ok(json!({
        "id": ns.id.0,
        "name": ns.name,
        "path": ns.path,
        "kind": ns.kind.as_str(),
        "full_path": ns.full_path,
        "parent_id": ns.parent_id.map(|p| p.0),
        "avatar_url": null,
        "web_url": web_url,
        "shared_runners_minutes_limit": limit,
        "extra_shared_runners_minutes_limit": null,
    }))
}

async fn show(State(app): State<App>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let ns = find(&app, &caller, &id).await?;
    Ok(ok(entity(&app, &ns).await?))
}

async fn update(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Input(mut params): Input,
) -> ApiResult<Response> {
    let ns = find(&app, &caller, &id).await?;
    let given = params.has("shared_runners_minutes_limit");
    let limit = params.integer("shared_runners_minutes_limit");
    params.check()?;
    if let Some(minutes) = limit
        && minutes < 0
    {
        return Err(ApiError::field("shared_runners_minutes_limit", "must be greater than or equal to 0"));
    }
    if ns.parent_id.is_some() && given {
        return Err(ApiError::bad_request_message("compute quotas apply to top-level namespaces only"));
    }
    if given {
        app.store.set_namespace_quota(ns.id, limit.filter(|m| *m > 0)).await?;
    }
    Ok(ok(entity(&app, &ns).await?))
}
