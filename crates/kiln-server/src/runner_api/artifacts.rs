//! Job artifacts on the runner side: `POST /jobs/:id/artifacts` (multipart field
//! `file`, streamed into the blob store with the instance's size limit; `413`
//! over it), `POST /jobs/:id/artifacts/authorize` (Workhorse's pre-check, which a
//! runner may call), and `GET /jobs/:id/artifacts` (a dependency's archive, for
//! a running job of the same project). A `dotenv` report is parsed on upload and
//! its variables stored for later jobs.

use std::io::Read;

use axum::body::Body;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use kiln_store::artifacts::{ArtifactFormat, ArtifactType, NewArtifact};
use kiln_store::{BuildId, Millis};

use super::auth::{self, Denied, plain};
use crate::app::App;
use crate::error::{ApiError, ApiResult};

/// Upload parameters, from the query string and form fields.
#[derive(Debug, Default)]
struct Params {
    token: Option<String>,
    artifact_type: Option<String>,
    artifact_format: Option<String>,
    expire_in: Option<String>,
}

impl Params {
    fn set(&mut self, key: &str, value: String) {
        match key {
            "token" => self.token = Some(value),
            "artifact_type" => self.artifact_type = Some(value),
            "artifact_format" => self.artifact_format = Some(value),
            "expire_in" => self.expire_in = Some(value),
            _ => {}
        }
    }

    fn from_query(query: Option<&str>) -> Params {
        let mut p = Params::default();
        for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            p.set(&k, v.into_owned());
        }
        p
    }
}

async fn max_size(app: &App) -> ApiResult<u64> {
    let mb = app.runner.settings(&app.store).await?.max_artifacts_size_mb;
    Ok(u64::try_from(mb).unwrap_or(0).saturating_mul(1024 * 1024))
}

/// The artifact's expiry: `expire_in` (`never` keeps it), else the instance default.
async fn expiry(app: &App, expire_in: Option<&str>) -> ApiResult<Option<Millis>> {
    let seconds = match expire_in.map(str::trim).filter(|s| !s.is_empty()) {
        Some("never") => return Ok(None),
        Some(text) => Some(
            kiln_config::model::duration::parse_duration(text)
                .ok_or_else(|| ApiError::params("expire_in is invalid"))?,
        ),
        None => app.runner.settings(&app.store).await?.default_artifacts_expire_in.map(i64::unsigned_abs),
    };
    Ok(seconds.map(|s| {
        Millis(Millis::now().0.saturating_add(i64::try_from(s).unwrap_or(i64::MAX).saturating_mul(1000)))
    }))
}

pub(super) async fn upload(
    State(app): State<App>,
    Path(id): Path<String>,
    uri: Uri,
    headers_map: HeaderMap,
    multipart: Multipart,
) -> Response {
    match receive(&app, &id, &uri, &headers_map, multipart).await {
        Ok(response) => response,
        Err(denied) => denied.into_response(),
    }
}

async fn receive(
    app: &App,
    id: &str,
    uri: &Uri,
    headers_map: &HeaderMap,
    mut multipart: Multipart,
) -> Result<Response, Denied> {
    let id = auth::job_id(id)?;
    let limit = max_size(app).await?;
    let declared = headers_map.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit.saturating_add(64 * 1024)) {
        return Err(ApiError::too_large().into());
    }
    let mut params = Params::from_query(uri.query());
    let mut stored = None;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => return Err(ApiError::bad_request(&format!("multipart body: {e}")).into()),
        };
        let name = field.name().unwrap_or("").to_string();
        if name != kiln_api::artifacts::UPLOAD_FILE_FIELD {
            if stored.is_none()
                && let Ok(text) = field.text().await
            {
                params.set(&name, text);
            }
            continue;
        }
        if stored.is_some() {
            continue;
        }
        let token = auth::job_token(params.token.as_deref(), headers_map, None);
        let job = auth::running_job(app, id, &token).await?;
        let file_type = match params.artifact_type.as_deref().filter(|s| !s.is_empty()) {
            None => ArtifactType::Archive,
            Some(t) => ArtifactType::from_name(t)
                .ok_or_else(|| ApiError::params("artifact_type does not have a valid value"))?,
        };
        let file_format = match params.artifact_format.as_deref().filter(|s| !s.is_empty()) {
            None => ArtifactFormat::Zip,
            Some(f) => ArtifactFormat::from_name(f)
                .ok_or_else(|| ApiError::params("artifact_format does not have a valid value"))?,
        };
        let expire_at = expiry(app, params.expire_in.as_deref()).await?;
        let file_name = field.file_name().filter(|n| !n.is_empty()).unwrap_or("artifacts.zip").to_string();
        let new = NewArtifact { job: job.id, file_type, file_format, file_name, expire_at };
        let artifact = match app.store.store_artifact(&app.blobs, &new, field, Some(limit)).await {
            Ok(a) => a,
            Err(kiln_store::Error::TooLarge { .. }) => return Err(ApiError::too_large().into()),
            Err(e) => return Err(e.into()),
        };
        if file_type == ArtifactType::Dotenv {
            dotenv(app, job.id, &artifact.blob_key, file_format).await?;
        }
        stored = Some(artifact);
    }
    if stored.is_none() {
        return Err(ApiError::params("file is missing").into());
    }
    Ok(plain(StatusCode::CREATED))
}

/// Reads a `dotenv` report (gzip, as the runner uploads it, or raw) into the
/// job's report variables.
async fn dotenv(app: &App, job: BuildId, key: &str, format: ArtifactFormat) -> ApiResult<()> {
    let bytes = app.blobs.read_all(key).await?;
    let text = if format == ArtifactFormat::Gzip {
        let mut out = String::new();
        flate2::read::MultiGzDecoder::new(&bytes[..])
            .take(1024 * 1024)
            .read_to_string(&mut out)
            .map_err(|e| ApiError::bad_request(&format!("dotenv report: {e}")))?;
        out
    } else {
        String::from_utf8(bytes.to_vec()).map_err(|_| ApiError::bad_request("dotenv report: not UTF-8"))?
    };
    let variables = parse_dotenv(&text).map_err(|e| ApiError::bad_request(&format!("dotenv report: {e}")))?;
    app.store.set_job_report_variables(job, &variables).await?;
    Ok(())
}

/// GitLab's dotenv rules: `KEY=VALUE` per line, blank lines skipped, no comments
/// or quoting beyond stripping one pair of surrounding quotes.
pub(super) fn parse_dotenv(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!("line {}: missing `=`", n + 1));
        };
        let key = key.trim();
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            .unwrap_or(value);
        out.push((key.to_string(), value.to_string()));
    }
    Ok(out)
}

/// `POST /jobs/:id/artifacts/authorize`: where to put the upload and how large it
/// may be (`413` when `filesize` is already over it).
pub(super) async fn authorize(
    State(app): State<App>,
    Path(id): Path<String>,
    uri: Uri,
    headers_map: HeaderMap,
) -> Response {
    let id = match auth::job_id(&id) {
        Ok(id) => id,
        Err(r) => return r.into_response(),
    };
    let params: Vec<(String, String)> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()).into_owned().collect();
    let get = |k: &str| params.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    let token = auth::job_token(get("token"), &headers_map, None);
    if let Err(r) = auth::running_job(&app, id, &token).await {
        return r.into_response();
    }
    let limit = match max_size(&app).await {
        Ok(l) => l,
        Err(e) => return e.into_response(),
    };
    if get("filesize").and_then(|s| s.parse::<u64>().ok()).is_some_and(|s| s > limit) {
        return ApiError::too_large().into_response();
    }
    let temp = app.config.data_dir.join("tmp").join("uploads");
    let body = serde_json::json!({ "TempPath": temp.display().to_string(), "MaximumSize": limit });
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/vnd.gitlab-workhorse+json")], body.to_string())
        .into_response()
}

/// `GET /jobs/:id/artifacts`: the archive of job `id`, for the token of a running
/// job of the same project (the dependency download of `download_artifacts`).
pub(super) async fn download(
    State(app): State<App>,
    Path(id): Path<String>,
    uri: Uri,
    headers_map: HeaderMap,
) -> Response {
    let id = match auth::job_id(&id) {
        Ok(id) => id,
        Err(r) => return r.into_response(),
    };
    let token = auth::job_token(None, &headers_map, uri.query());
    if token.is_empty() {
        return ApiError::unauthorized().into_response();
    }
    let caller = match app.store.job_by_token(&token).await {
        Ok(job) if auth::is_executing(job.status) => job,
        Ok(_) | Err(kiln_store::Error::NotFound(_)) => return ApiError::forbidden().into_response(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let target = match app.store.job(id).await {
        Ok(job) => job,
        Err(e) => return ApiError::from(e).into_response(),
    };
    if target.project_id != caller.project_id {
        return ApiError::forbidden().into_response();
    }
    let artifact = match app.store.job_artifact(target.id, ArtifactType::Archive).await {
        Ok(a) => a,
        Err(kiln_store::Error::NotFound(_)) => return ApiError::not_found("Artifact").into_response(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    stream_blob(&app, &artifact.blob_key, &artifact.file_name, artifact.size).await
}

/// A blob as a download.
pub(crate) async fn stream_blob(app: &App, key: &str, file_name: &str, size: u64) -> Response {
    let stream = match app.blobs.get(key).await {
        Ok(s) => s,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    let safe: String = file_name.chars().filter(|c| !matches!(c, '"' | '\\' | '\r' | '\n')).collect();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{safe}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::parse_dotenv;

    #[test]
    fn dotenv_lines() {
        let vars = parse_dotenv("A=1\n\nB = \"two words\"\r\nC='x'\n").unwrap();
        assert_eq!(
            vars,
            vec![("A".into(), "1".into()), ("B".into(), "two words".into()), ("C".into(), "x".into())]
        );
        assert!(parse_dotenv("no equals").is_err());
    }
}
