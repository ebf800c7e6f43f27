//! The application state every handler shares, and the HTTP router: the
//! REST API under `/api/v4`, git smart HTTP under `/<namespace>/<project>.git`,
//! and GitLab's JSON 404 and 405 for everything else.

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kiln_store::Store;
use tokio::sync::Notify;

use crate::config::Config;
use crate::error::ApiError;
use crate::repos::Repos;

/// Shared by every request and background loop.
#[derive(Debug)]
pub(crate) struct AppState {
    pub(crate) store: Store,
    pub(crate) config: Config,
    pub(crate) repos: Repos,
    /// Wakes the processing loop when a pipeline needs processing.
    pub(crate) processing: Notify,
    /// Fetches `include:remote` files.
    pub(crate) http_client: reqwest::Client,
    /// Logs and artifacts.
    pub(crate) blobs: kiln_store::BlobStore,
    /// The runner API's per-process state.
    pub(crate) runner: crate::runner_api::RunnerApi,
}

pub(crate) type App = Arc<AppState>;

impl AppState {
    /// The project's web URL.
    pub(crate) fn project_url(&self, full_path: &str) -> String {
        format!("{}/{full_path}", self.config.external_url)
    }
}

/// The whole HTTP surface.
pub(crate) fn router(app: App) -> Router {
    Router::new()
        .nest("/api/v4", crate::api::routes().merge(crate::runner_api::routes()))
        .fallback(crate::git_http::fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(app)
}

async fn method_not_allowed() -> Response {
    ApiError::Error(StatusCode::METHOD_NOT_ALLOWED, "405 Not Allowed".into()).into_response()
}

/// GitLab's answer for a path nothing serves.
pub(crate) fn route_not_found() -> Response {
    ApiError::Error(StatusCode::NOT_FOUND, "404 Not Found".into()).into_response()
}
