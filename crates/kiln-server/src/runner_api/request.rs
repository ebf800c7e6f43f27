//! `POST /jobs/request`: authenticate the runner, record its manager, then claim
//! a matching pending job, holding the request open (long polling) until one
//! becomes pending or the poll times out.
//!
//! `X-GitLab-Last-Update` is this process's queue generation (bumped whenever
//! jobs become pending, here or on another replica through PostgreSQL's
//! notifications). A runner echoing the current generation is parked without
//! touching the queue: nothing became pending since it last looked. The
//! generation is read before each claim, so a job queued during a claim bumps it
//! past the value the runner is given. Two processes on one SQLite file do not
//! notify each other, so parked requests also look at the queue (a cheap read)
//! every second.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Extensions, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use kiln_api::JobRequest;
use kiln_api::headers;
use kiln_store::{Backend, Millis};
use tokio::sync::watch;
use tokio::time::Instant;

use super::payload::{self, Assigned};
use super::{auth, register};
use crate::app::App;
use crate::error::{ApiError, ApiResult};

/// How often a parked request looks at the queue without a wake-up.
fn recheck_every(app: &App) -> Duration {
    match app.store.backend() {
        Backend::Sqlite => Duration::from_secs(1),
        Backend::Postgres => Duration::from_secs(5),
    }
}

pub(super) async fn request(State(app): State<App>, extensions: Extensions, body: Bytes) -> Response {
    match serve(&app, &extensions, &body).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

enum Wake {
    Changed,
    Recheck,
    Timeout,
}

/// Waits for the generation to move, the recheck interval, or the deadline.
async fn wait(version: &mut watch::Receiver<u64>, deadline: Instant, recheck: Duration) -> Wake {
    let now = Instant::now();
    if now >= deadline {
        return Wake::Timeout;
    }
    let until = deadline.min(now + recheck);
    match tokio::time::timeout_at(until, version.changed()).await {
        Ok(Ok(())) => Wake::Changed,
        Ok(Err(_)) => Wake::Timeout,
        Err(_) if until >= deadline => Wake::Timeout,
        Err(_) => Wake::Recheck,
    }
}

/// `204 No Content` with the generation the runner should echo next time.
fn no_job(app: &App, version: u64) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Ok(v) = HeaderValue::from_str(&app.runner.last_update(version)) {
        response.headers_mut().insert(headers::LAST_UPDATE, v);
    }
    response.headers_mut().insert(headers::BUILDS_POLLING, HeaderValue::from_static("yes"));
    response
}

async fn serve(app: &App, extensions: &Extensions, body: &[u8]) -> ApiResult<Response> {
    let req: JobRequest = auth::json_body(body)?;
    let runner = auth::runner(app, &req.token).await?;
    let manager =
        register::touch_manager(app, &runner, &req.system_id, &req.info, register::peer_ip(extensions))
            .await?;
    let mut version = app.runner.subscribe();
    let mut seen = *version.borrow_and_update();
    if runner.paused {
        return Ok(no_job(app, seen));
    }
    let deadline = Instant::now() + app.config.limits.long_poll_timeout;
    let recheck = recheck_every(app);
    let matcher = match app.runner.matchers.get(&(runner.id.0, manager.id.0)) {
        Some(m) => m,
        None => {
            let m = app.store.runner_match(&runner, manager.id).await?;
            app.runner.matchers.put((runner.id.0, manager.id.0), m.clone());
            m
        }
    };
    // The runner saw this generation already: nothing new is pending for it.
    let mut look = req.last_update != app.runner.last_update(seen);
    loop {
        if look {
            seen = *version.borrow_and_update();
            let asked = std::time::Instant::now();
            let claimed =
                match app.store.claim_job(&matcher, req.info.features.cancel_gracefully, Millis::now()).await
                {
                    Ok(claimed) => claimed,
                    Err(kiln_store::Error::Conflict(_)) => return Err(ApiError::conflict("409 Conflict")),
                    Err(e) => return Err(e.into()),
                };
            let claim_took = asked.elapsed();
            tracing::debug!(runner = runner.id.0, claimed = claimed.is_some(), took = ?claim_took, "claim");
            if let Some(claimed) = claimed {
                // The claim asked for the pipeline to be processed (it is running now).
                app.processing.notify_one();
                let assigned = payload::assign(app, &runner, &req, claimed).await?;
                tracing::debug!(runner = runner.id.0, took = ?(asked.elapsed() - claim_took), "payload");
                match assigned {
                    Assigned::Job(job) => {
                        let mut response = (StatusCode::CREATED, axum::Json(job)).into_response();
                        response
                            .headers_mut()
                            .insert(headers::BUILDS_POLLING, HeaderValue::from_static("yes"));
                        return Ok(response);
                    }
                    // Dropped (the runner lacks a feature the job needs): take the next.
                    Assigned::Dropped => continue,
                }
            }
        }
        look = match wait(&mut version, deadline, recheck).await {
            Wake::Changed => true,
            Wake::Recheck => app.store.has_matching_job(&matcher).await.unwrap_or(true),
            Wake::Timeout => return Ok(no_job(app, seen)),
        };
    }
}
