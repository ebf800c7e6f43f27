//! Runner registration endpoints (`lib/api/ci/runner.rb`, `resource :runners`):
//! legacy registration with the instance's registration token, verify (which
//! records the runner manager), unregister, unregister one manager, and token
//! reset.

use std::net::SocketAddr;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{Extensions, StatusCode};
use axum::response::{IntoResponse, Response};
use kiln_api::request::VersionInfo;
use kiln_api::runners::{
    RegisterRunnerRequest, RegisterRunnerResponse, ResetTokenRequest, ResetTokenResponse,
    UnregisterManagerRequest, UnregisterRunnerRequest, VerifyRunnerRequest,
};
use kiln_store::Millis;
use kiln_store::runners::{
    ManagerInfo, NewRunner, RegistrationType, Runner, RunnerAccessLevel, RunnerManager,
};

use super::auth;
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::http::time::iso_opt;

/// Rails' manager id for runners that send no `system_id`.
pub(super) const LEGACY_SYSTEM_ID: &str = "<legacy>";

/// The caller's IP address, when the server knows it.
pub(super) fn peer_ip(extensions: &Extensions) -> String {
    extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string()).unwrap_or_default()
}

/// Records the runner manager behind a call (at most one write a minute).
pub(super) async fn touch_manager(
    app: &App,
    runner: &Runner,
    system_id: &str,
    info: &VersionInfo,
    ip: String,
) -> ApiResult<RunnerManager> {
    let system_id = if system_id.is_empty() { LEGACY_SYSTEM_ID } else { system_id };
    let info = ManagerInfo {
        system_id: system_id.to_string(),
        version: info.version.clone(),
        revision: info.revision.clone(),
        platform: info.platform.clone(),
        architecture: info.architecture.clone(),
        executor: info.executor.clone(),
        ip_address: ip,
    };
    let key = (runner.id.0, info.system_id.clone());
    if let Some((seen, manager)) = app.runner.managers.get(&key)
        && seen == info
    {
        return Ok(manager);
    }
    let manager = app.store.touch_runner_manager(runner.id, &info, Millis::now()).await?;
    app.runner.managers.put(key, (info, manager.clone()));
    Ok(manager)
}

fn details(runner: &Runner, token: String) -> RegisterRunnerResponse {
    RegisterRunnerResponse { id: runner.id.0, token, token_expires_at: iso_opt(runner.token_expires_at) }
}

/// `POST /runners`: legacy registration. 403 for a wrong token, 410 when
/// registration tokens are disabled, 201 with `id`, `token`, `token_expires_at`.
pub(super) async fn register(
    State(app): State<App>,
    extensions: Extensions,
    body: Bytes,
) -> ApiResult<Response> {
    let req: RegisterRunnerRequest = auth::json_body(&body)?;
    if req.token.is_empty() {
        return Err(ApiError::params("token is missing"));
    }
    let settings = app.store.instance_settings().await?;
    if !settings.allow_runner_registration_token {
        return Err(ApiError::Message(StatusCode::GONE, "410 Gone - runner registration disallowed".into()));
    }
    if app.store.check_runner_registration_token(&req.token).await.is_err() {
        return Err(ApiError::forbidden());
    }
    let access_level = match req.access_level.as_str() {
        "" | "not_protected" => RunnerAccessLevel::NotProtected,
        "ref_protected" => RunnerAccessLevel::RefProtected,
        _ => return Err(ApiError::params("access_level does not have a valid value")),
    };
    if req.maximum_timeout.is_some_and(|t| t < 600) {
        return Err(ApiError::field("maximum_timeout", "needs to be at least 10 minutes"));
    }
    let tags: Vec<String> =
        req.tag_list.split(',').map(|t| t.trim().to_string()).filter(|t| !t.is_empty()).collect();
    let description =
        if req.description.is_empty() { req.info.name.clone() } else { req.description.clone() };
    let new = NewRunner {
        description,
        // Rails: a runner registered without tags takes untagged jobs whatever it asked.
        run_untagged: req.run_untagged || tags.is_empty(),
        tags,
        locked: req.locked,
        access_level,
        paused: req.paused,
        maximum_timeout: req.maximum_timeout,
        registration_type: RegistrationType::RegistrationToken,
        ..NewRunner::instance()
    };
    let (runner, token) = app.store.create_runner(&new).await?;
    touch_manager(&app, &runner, "", &req.info, peer_ip(&extensions)).await.ok();
    Ok((StatusCode::CREATED, Json(details(&runner, token))).into_response())
}

/// `POST /runners/verify`: 200 with the runner's details; records the manager.
pub(super) async fn verify(
    State(app): State<App>,
    extensions: Extensions,
    body: Bytes,
) -> ApiResult<Response> {
    let req: VerifyRunnerRequest = auth::json_body(&body)?;
    let runner = auth::runner(&app, &req.token).await?;
    touch_manager(&app, &runner, &req.system_id, &req.info, peer_ip(&extensions)).await?;
    Ok((StatusCode::OK, Json(details(&runner, req.token))).into_response())
}

/// `DELETE /runners`: deletes the runner (204).
pub(super) async fn unregister(State(app): State<App>, body: Bytes) -> ApiResult<Response> {
    let req: UnregisterRunnerRequest = auth::json_body(&body)?;
    let runner = auth::runner(&app, &req.token).await?;
    app.store.delete_runner(runner.id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /runners/managers`: deletes this machine's manager (204, 404 unknown).
pub(super) async fn unregister_manager(State(app): State<App>, body: Bytes) -> ApiResult<Response> {
    let req: UnregisterManagerRequest = auth::json_body(&body)?;
    let runner = auth::runner(&app, &req.token).await?;
    if req.system_id.is_empty() {
        return Err(ApiError::params("system_id is missing"));
    }
    app.runner.managers.remove(&(runner.id.0, req.system_id.clone()));
    match app.store.delete_runner_manager(runner.id, &req.system_id).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT.into_response()),
        Err(kiln_store::Error::NotFound(_)) => Err(ApiError::not_found("Runner Manager")),
        Err(e) => Err(e.into()),
    }
}

/// `POST /runners/reset_authentication_token`: 201 with the new token; the old one
/// stops working at once.
pub(super) async fn reset_token(State(app): State<App>, body: Bytes) -> ApiResult<Response> {
    let req: ResetTokenRequest = auth::json_body(&body)?;
    let runner = auth::runner(&app, &req.token).await?;
    let (runner, token) = app.store.reset_runner_token(runner.id, runner.token_expires_at).await?;
    let body = ResetTokenResponse { token, token_expires_at: iso_opt(runner.token_expires_at) };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}
