//! The instance settings that concern runners and artifacts
//! (`GET/PUT /application/settings`, administrators), and the instance's
//! legacy runner registration token (`POST /runners/reset_registration_token`,
//! shown once; the store keeps only its digest).

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use kiln_store::settings::InstanceSettings;
use serde_json::{Value, json};

use crate::api::util::{created, ok};
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::http::Input;
use crate::http::auth::Caller;

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/application/settings", get(show).put(update))
        .route("/runners/reset_registration_token", post(reset_registration_token))
}

fn require_admin(caller: &Caller) -> ApiResult<()> {
    if caller.require_user()?.admin { Ok(()) } else { Err(ApiError::forbidden()) }
}

/// GitLab's names for the settings Kiln has.
fn render(s: &InstanceSettings) -> Value {
    json!({
        "allow_runner_registration_token": s.allow_runner_registration_token,
        "shared_runners_enabled": s.shared_runners_enabled,
        "max_artifacts_size": s.max_artifacts_size_mb,
        "default_artifacts_expire_in": s.default_artifacts_expire_in.map_or_else(|| "0".to_string(), |secs| format!("{secs} seconds")),
        "default_build_timeout": s.default_build_timeout,
        "ci_max_trace_size": s.max_trace_size_bytes,
    })
}

async fn show(State(app): State<App>, caller: Caller) -> ApiResult<Response> {
    require_admin(&caller)?;
    Ok(ok(render(&app.store.instance_settings().await?)))
}

async fn update(State(app): State<App>, caller: Caller, Input(mut params): Input) -> ApiResult<Response> {
    let allow = params.boolean("allow_runner_registration_token");
    let shared = params.boolean("shared_runners_enabled");
    let max_artifacts = params.integer("max_artifacts_size");
    let timeout = params.integer("default_build_timeout");
    let trace = params.integer("ci_max_trace_size");
    // `0` means "never expire", as in GitLab.
    let expire_in = params.string("default_artifacts_expire_in").map(|text| match text.trim() {
        "0" => Ok(None),
        other => kiln_config::model::duration::parse_duration(other)
            .and_then(|secs| i64::try_from(secs).ok())
            .map(Some)
            .ok_or(()),
    });
    if matches!(expire_in, Some(Err(()))) {
        params.error("default_artifacts_expire_in is invalid");
    }
    if max_artifacts.is_some_and(|v| v < 1) {
        params.error("max_artifacts_size is invalid");
    }
    if timeout.is_some_and(|v| v < 600) {
        params.error("default_build_timeout is invalid");
    }
    if trace.is_some_and(|v| v < 0) {
        params.error("ci_max_trace_size is invalid");
    }
    params.check()?;
    require_admin(&caller)?;
    let settings = app
        .store
        .update_instance_settings(|s| {
            if let Some(v) = allow {
                s.allow_runner_registration_token = v;
            }
            if let Some(v) = shared {
                s.shared_runners_enabled = v;
            }
            if let Some(v) = max_artifacts {
                s.max_artifacts_size_mb = v;
            }
            if let Some(v) = timeout {
                s.default_build_timeout = v;
            }
            if let Some(v) = trace {
                s.max_trace_size_bytes = v;
            }
            if let Some(Ok(v)) = expire_in {
                s.default_artifacts_expire_in = v;
            }
        })
        .await?;
    Ok(ok(render(&settings)))
}

/// A new registration token for legacy `POST /runners` registration; refused
/// while that registration is disabled, as GitLab refuses it.
async fn reset_registration_token(State(app): State<App>, caller: Caller) -> ApiResult<Response> {
    require_admin(&caller)?;
    if !app.store.instance_settings().await?.allow_runner_registration_token {
        return Err(ApiError::forbidden_because("runner registration by token is disabled"));
    }
    let token = app.store.reset_runner_registration_token().await?;
    Ok(created(json!({ "token": token, "token_expires_at": null })))
}
