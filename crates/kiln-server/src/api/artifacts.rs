//! Job artifacts through the REST API (`lib/api/ci/job_artifacts.rb`): the
//! archive of a job (by id, or the latest successful job of a name on a ref),
//! one file out of it, keeping them from expiring, and deleting them.

mod browse;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use kiln_pipeline::Status;
use kiln_store::artifacts::{Artifact, ArtifactFormat, ArtifactType};
use kiln_store::jobs::{JobFilter, JobRecord};
use kiln_store::pipelines::PipelineFilter;
use kiln_store::{BuildId, Page};

use crate::access::{self, Action, ProjectAccess};
use crate::api::render::Renderer;
use crate::api::util::{no_content, ok, parse_id};
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::http::Input;
use crate::http::auth::Caller;

pub(crate) use browse::BrowseError;

pub(crate) fn routes() -> Router<App> {
    Router::new()
        // `GET` of the same path is the jobs API's archive download.
        .route("/projects/{id}/jobs/{job_id}/artifacts", delete(destroy))
        .route("/projects/{id}/jobs/{job_id}/artifacts/{*artifact_path}", get(file))
        .route("/projects/{id}/jobs/{job_id}/artifacts/keep", post(keep))
        .route("/projects/{id}/jobs/artifacts/{ref_name}/download", get(download_by_ref))
        .route("/projects/{id}/jobs/artifacts/{ref_name}/raw/{*artifact_path}", get(file_by_ref))
}

async fn readable_project(app: &App, caller: &Caller, id: &str) -> ApiResult<ProjectAccess> {
    caller.require_authenticated()?;
    let access = access::project(app, caller, id).await?;
    access.require(Action::ReadBuilds)?;
    Ok(access)
}

async fn project_job(app: &App, access: &ProjectAccess, raw: &str) -> ApiResult<JobRecord> {
    let job = app.store.job(BuildId(parse_id(raw, "job_id")?)).await?;
    if job.project_id != access.project.id || job.bridge {
        return Err(ApiError::not_found("Job"));
    }
    Ok(job)
}

/// The job's archive, unless it was erased.
async fn archive_of(app: &App, job: &JobRecord) -> ApiResult<Artifact> {
    if job.erased_at.is_some() {
        return Err(ApiError::not_found("Artifact"));
    }
    match app.store.job_artifact(job.id, ArtifactType::Archive).await {
        Ok(a) => Ok(a),
        Err(kiln_store::Error::NotFound(_)) => Err(ApiError::not_found("Artifact")),
        Err(e) => Err(e.into()),
    }
}

/// `GET /projects/:id/jobs/:job_id/artifacts`: the archive, streamed.
pub(crate) async fn archive_download(app: &App, job: &JobRecord) -> ApiResult<Response> {
    let artifact = archive_of(app, job).await?;
    Ok(crate::runner_api::stream_blob(app, &artifact.blob_key, &artifact.file_name, artifact.size).await)
}

async fn file(
    State(app): State<App>,
    caller: Caller,
    Path((id, job_id, path)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let access = readable_project(&app, &caller, &id).await?;
    let job = project_job(&app, &access, &job_id).await?;
    serve_entry(&app, &job, &path).await
}

/// One file of a zip archive as a download.
async fn serve_entry(app: &App, job: &JobRecord, path: &str) -> ApiResult<Response> {
    let artifact = archive_of(app, job).await?;
    if artifact.file_format != ArtifactFormat::Zip {
        return Err(ApiError::not_found("Artifact"));
    }
    let entry = match browse::open_entry(&app.blobs, &artifact.blob_key, artifact.size, path).await {
        Ok(e) => e,
        Err(BrowseError::BadPath(_)) => return Err(ApiError::bad_request("artifact path is invalid")),
        Err(BrowseError::NotFound(_)) => return Err(ApiError::record_not_found()),
        Err(BrowseError::TooLarge(_)) => return Err(ApiError::too_large()),
        Err(e @ (BrowseError::BadArchive(_) | BrowseError::Io(_))) => {
            tracing::warn!(job = job.id.0, error = %e, "artifacts archive cannot be browsed");
            return Err(ApiError::not_found("Artifact"));
        }
    };
    let stream =
        futures::stream::unfold(entry.body, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    let mut response = (StatusCode::OK, Body::from_stream(stream)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(entry.size));
    let safe: String = entry.name.chars().filter(|c| !matches!(c, '"' | '\\' | '\r' | '\n')).collect();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{safe}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

/// The newest successful job called `name` of the newest successful pipeline
/// on `ref_name` (GitLab's `latest_successful_build_for_ref`).
async fn latest_successful(
    app: &App,
    access: &ProjectAccess,
    ref_name: &str,
    name: &str,
) -> ApiResult<JobRecord> {
    let pipelines = app
        .store
        .list_pipelines(
            &PipelineFilter {
                project: Some(access.project.id),
                ref_name: Some(ref_name.to_string()),
                status: Some(Status::Success),
                ..PipelineFilter::default()
            },
            Page::new(1, 1),
        )
        .await?;
    let Some(pipeline) = pipelines.items.first() else { return Err(ApiError::not_found("Job")) };
    let jobs = app
        .store
        .list_jobs(
            &JobFilter {
                pipeline: Some(pipeline.id),
                statuses: vec![Status::Success],
                bridge: Some(false),
                ..JobFilter::default()
            },
            Page::all(),
        )
        .await?;
    jobs.items.into_iter().find(|j| j.name == name).ok_or_else(|| ApiError::not_found("Job"))
}

async fn download_by_ref(
    State(app): State<App>,
    caller: Caller,
    Path((id, ref_name)): Path<(String, String)>,
    Input(mut params): Input,
) -> ApiResult<Response> {
    let name = params.required_string("job");
    params.check()?;
    let access = readable_project(&app, &caller, &id).await?;
    let job = latest_successful(&app, &access, &ref_name, &name).await?;
    archive_download(&app, &job).await
}

async fn file_by_ref(
    State(app): State<App>,
    caller: Caller,
    Path((id, ref_name, path)): Path<(String, String, String)>,
    Input(mut params): Input,
) -> ApiResult<Response> {
    let name = params.required_string("job");
    params.check()?;
    let access = readable_project(&app, &caller, &id).await?;
    let job = latest_successful(&app, &access, &ref_name, &name).await?;
    serve_entry(&app, &job, &path).await
}

/// Keeps a job's artifacts: they no longer expire (developers, as GitLab's
/// `update_build`). Answers with the job.
async fn keep(
    State(app): State<App>,
    caller: Caller,
    Path((id, job_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    caller.require_user()?;
    let access = readable_project(&app, &caller, &id).await?;
    let job = project_job(&app, &access, &job_id).await?;
    access.require(Action::Develop)?;
    if job.erased_at.is_some() || app.store.job_artifacts(job.id).await?.is_empty() {
        return Err(ApiError::not_found("Artifact"));
    }
    app.store.set_artifacts_expiry(job.id, None).await?;
    Ok(ok(Renderer::new(&app, &access.project).job(&job).await?))
}

/// Deletes every artifact file of a job (maintainers), rows then blobs.
async fn destroy(
    State(app): State<App>,
    caller: Caller,
    Path((id, job_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    caller.require_user()?;
    let access = readable_project(&app, &caller, &id).await?;
    let job = project_job(&app, &access, &job_id).await?;
    access.require(Action::Maintain)?;
    let artifacts = app.store.job_artifacts(job.id).await?;
    if artifacts.is_empty() {
        return Err(ApiError::not_found("Artifact"));
    }
    for artifact in artifacts {
        match app.store.delete_artifact(&app.blobs, artifact.id).await {
            Ok(()) | Err(kiln_store::Error::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(no_content())
}
