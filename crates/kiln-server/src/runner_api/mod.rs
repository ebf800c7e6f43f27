//! The coordinator's side of the runner protocol (GitLab's `lib/api/ci/runner.rb`
//! and `lib/api/ci/helpers/runner.rb`): registration, the long-polled job request,
//! job updates, incremental logs (with a Server-Sent-Events view for watchers) and
//! artifacts. Every body and header is a `kiln_api` wire type; the store decides
//! (claims, state machine), this module only speaks HTTP.
//!
//! [`RunnerApi`] is the per-process state the endpoints share: the queue
//! generation behind `X-GitLab-Last-Update`, which logs someone is watching, and
//! small caches that keep the hot paths (job request, trace patch) free of
//! repeated lookups.

mod artifacts;
mod auth;
mod cache;
mod payload;
mod register;
mod request;
mod state;
mod stream;
mod trace;
mod update;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, patch, post, put};

pub(crate) use artifacts::stream_blob;
pub(crate) use state::RunnerApi;

use crate::app::App;

/// The runner-facing routes, mounted under `/api/v4`.
pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/runners", post(register::register).delete(register::unregister))
        .route("/runners/verify", post(register::verify))
        .route("/runners/managers", delete(register::unregister_manager))
        .route("/runners/reset_authentication_token", post(register::reset_token))
        .route("/jobs/request", post(request::request))
        .route("/jobs/{id}", put(update::update))
        .route("/jobs/{id}/trace", patch(trace::patch_trace))
        .route(
            "/jobs/{id}/artifacts",
            post(artifacts::upload).layer(DefaultBodyLimit::disable()).get(artifacts::download),
        )
        .route("/jobs/{id}/artifacts/authorize", post(artifacts::authorize))
        .route("/projects/{id}/jobs/{job_id}/trace/stream", get(stream::stream))
}
