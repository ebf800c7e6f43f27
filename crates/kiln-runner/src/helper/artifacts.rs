//! Uploading artifacts as a multipart stream while the archive is being written, and
//! downloading and safely extracting a dependency's artifacts.

use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::StreamExt;
use kiln_api::artifacts::{ArtifactFormat, UPLOAD_FILE_FIELD, UploadQuery};
use kiln_api::headers;
use tokio::io::AsyncWriteExt;

use crate::archive::{ExtractLimits, extract_zip, select_files, write_gzip, write_zip};
use crate::helper::{DownloaderArgs, HelperError, UploaderArgs};
use crate::network::api_url;

/// The HTTP client for `url`. Plain `http://` needs no TLS roots: loading the system's
/// certificates is most of a short helper run's time, so only `https://` pays for it.
pub(crate) fn client_for(url: &str) -> Result<reqwest::Client, HelperError> {
    let mut builder = reqwest::Client::builder().user_agent(crate::version::user_agent());
    if url.get(..7).is_some_and(|s| s.eq_ignore_ascii_case("http://")) {
        builder = builder.tls_certs_only(Vec::new()).https_only(false);
    }
    builder.build().map_err(|e| HelperError(format!("failed to build the HTTP client: {e}")))
}

/// Streams the archive of `files` through a pipe: a thread writes, the request reads.
fn archive_body(
    root: PathBuf,
    files: Vec<PathBuf>,
    format: ArtifactFormat,
) -> Result<(reqwest::Body, std::thread::JoinHandle<std::io::Result<u64>>), HelperError> {
    let (reader, writer) =
        std::io::pipe().map_err(|e| HelperError(format!("failed to create a pipe: {e}")))?;
    let handle = std::thread::spawn(move || {
        let out = std::io::BufWriter::with_capacity(256 * 1024, writer);
        match format {
            ArtifactFormat::Gzip => write_gzip(&root, &files, out),
            ArtifactFormat::Raw => {
                let mut out = out;
                let mut n = 0;
                for f in &files {
                    let mut file = std::fs::File::open(root.join(f))?;
                    std::io::copy(&mut file, &mut out)?;
                    n += 1;
                }
                out.flush()?;
                Ok(n)
            }
            _ => write_zip(&root, &files, out),
        }
    });
    let rx = tokio::net::unix::pipe::Receiver::from_owned_fd(OwnedFd::from(reader))
        .map_err(|e| HelperError(format!("failed to read the archive pipe: {e}")))?;
    let stream = tokio_util::io::ReaderStream::with_capacity(rx, 256 * 1024);
    Ok((reqwest::Body::wrap_stream(stream), handle))
}

/// `artifacts-uploader`.
pub async fn upload_artifacts(
    a: &UploaderArgs,
    cwd: &Path,
    out: &mut (dyn Write + Send),
) -> Result<(), HelperError> {
    let format = ArtifactFormat::parse(&a.artifact_format);
    if matches!(format, ArtifactFormat::ZipZstd | ArtifactFormat::TarZstd | ArtifactFormat::Unknown(_)) {
        return Err(HelperError(format!("unsupported archive format: {}", a.artifact_format)));
    }
    let (files, warnings) =
        select_files(cwd, &a.paths, &a.exclude, a.untracked).map_err(|e| HelperError(e.to_string()))?;
    for w in &warnings {
        let _ = writeln!(out, "\x1b[0;33mWARNING: {w}\x1b[0;m");
    }
    let regular: Vec<PathBuf> = files.iter().filter(|f| cwd.join(f).is_file()).cloned().collect();
    if files.is_empty() || (format != ArtifactFormat::Zip && regular.is_empty()) {
        let _ = writeln!(out, "\x1b[0;33mWARNING: No files to upload\x1b[0;m");
        return Ok(());
    }
    if format == ArtifactFormat::Raw && regular.len() != 1 {
        return Err(HelperError(format!("the raw format needs exactly one file, found {}", regular.len())));
    }
    let _ = writeln!(
        out,
        "{}: found {} matching artifact files and directories",
        a.paths.join(", "),
        files.len()
    );
    let query = UploadQuery {
        artifact_format: format.as_str().into(),
        artifact_type: a.artifact_type.clone(),
        expire_in: a.expire_in.clone(),
    };
    let file_name = format!("{}{}", a.name, format.extension());
    let url = api_url(&a.url, &format!("jobs/{}/artifacts", a.id));
    let http = client_for(&url)?;
    let mut backoff = Duration::from_secs(1);
    for attempt in 1..=3 {
        let chosen = if format == ArtifactFormat::Zip { files.clone() } else { regular.clone() };
        let (body, writer) = archive_body(cwd.to_path_buf(), chosen, format.clone())?;
        let part = reqwest::multipart::Part::stream(body)
            .file_name(file_name.clone())
            .mime_str("application/octet-stream")
            .map_err(|e| HelperError(e.to_string()))?;
        let form = reqwest::multipart::Form::new().part(UPLOAD_FILE_FIELD, part);
        let result = http
            .post(&url)
            .query(&query.pairs())
            .header(headers::JOB_TOKEN, &a.token)
            .multipart(form)
            .send()
            .await;
        let written = writer.join().map_err(|_| HelperError("the archive writer panicked".into()))?;
        if let Err(e) = written {
            return Err(HelperError(format!("failed to create the archive: {e}")));
        }
        match result {
            Ok(r) if r.status().as_u16() == 201 => {
                let _ = writeln!(
                    out,
                    "Uploading artifacts as \"{}\" to coordinator... 201 Created  id={} responseStatus=201 Created",
                    format, a.id
                );
                return Ok(());
            }
            Ok(r) if matches!(r.status().as_u16(), 403 | 413 | 400 | 405) => {
                return Err(HelperError(format!(
                    "Uploading artifacts as \"{format}\" to coordinator... {}",
                    r.status()
                )));
            }
            Ok(r) => {
                let _ = writeln!(
                    out,
                    "\x1b[0;33mWARNING: Uploading artifacts as \"{format}\" to coordinator... {} (attempt {attempt})\x1b[0;m",
                    r.status()
                );
            }
            Err(e) => {
                let _ = writeln!(
                    out,
                    "\x1b[0;33mWARNING: Uploading artifacts as \"{format}\" to coordinator... error: {e} (attempt {attempt})\x1b[0;m"
                );
            }
        }
        tokio::time::sleep(backoff).await;
        backoff *= 2;
    }
    Err(HelperError("failed to upload the artifacts".into()))
}

/// `artifacts-downloader`: every dependency in turn, each downloaded to a temporary file
/// (in `tmp`, else the system's temporary directory), then extracted safely.
pub async fn download_artifacts(
    a: &DownloaderArgs,
    cwd: &Path,
    tmp: Option<&Path>,
    out: &mut (dyn Write + Send),
) -> Result<(), HelperError> {
    if a.tokens.len() != a.ids.len() || (!a.names.is_empty() && a.names.len() != a.ids.len()) {
        return Err(HelperError("every --id needs its --token (and --name, when names are given)".into()));
    }
    let http = client_for(&a.url)?;
    for (i, (id, token)) in a.ids.iter().zip(&a.tokens).enumerate() {
        if let Some(name) = a.names.get(i) {
            let _ = writeln!(out, "\x1b[32;1mDownloading artifacts for {name} ({id})...\x1b[0;m");
        }
        download_one(&http, &a.url, *id, token, cwd, tmp, out).await?;
    }
    Ok(())
}

async fn download_one(
    http: &reqwest::Client,
    base: &str,
    id: i64,
    token: &str,
    cwd: &Path,
    tmp: Option<&Path>,
    out: &mut (dyn Write + Send),
) -> Result<(), HelperError> {
    let url = api_url(base, &format!("jobs/{id}/artifacts"));
    let response = http
        .get(&url)
        .query(&[("direct_download", "false")])
        .header(headers::JOB_TOKEN, token)
        .send()
        .await
        .map_err(|e| HelperError(format!("Downloading artifacts from coordinator... error: {e}")))?;
    let status = response.status();
    if !status.is_success() {
        return Err(HelperError(format!("Downloading artifacts from coordinator... {status}")));
    }
    let tmp = match tmp {
        Some(dir) => tempfile::NamedTempFile::new_in(dir),
        None => tempfile::NamedTempFile::new(),
    }
    .map_err(|e| HelperError(format!("failed to create a temporary file: {e}")))?;
    let mut file = tokio::fs::File::from_std(tmp.reopen().map_err(|e| HelperError(e.to_string()))?);
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk
            .map_err(|e| HelperError(format!("Downloading artifacts from coordinator... error: {e}")))?;
        file.write_all(&chunk)
            .await
            .map_err(|e| HelperError(format!("failed to store the download: {e}")))?;
    }
    file.flush().await.map_err(|e| HelperError(e.to_string()))?;
    let _ =
        writeln!(out, "Downloading artifacts from coordinator... ok        id={id} responseStatus={status}");
    let path = tmp.path().to_path_buf();
    let dest = cwd.to_path_buf();
    let n = tokio::task::spawn_blocking(move || extract_zip(&path, &dest, ExtractLimits::default()))
        .await
        .map_err(|e| HelperError(e.to_string()))?
        .map_err(|e| HelperError(e.to_string()))?;
    let _ = writeln!(out, "{n} files extracted");
    Ok(())
}
