//! `cache-archiver` and `cache-extractor`: local zip files under `cache_dir`, uploaded to
//! or downloaded from presigned URLs when a remote cache is configured.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use futures::StreamExt;
use tokio::io::AsyncWriteExt;

use crate::archive::{ExtractLimits, extract_zip, select_files, write_zip};
use crate::helper::{ArchiverArgs, ExtractorArgs, HelperError, redact};

/// `cache-archiver`.
pub async fn archive_cache(
    a: &ArchiverArgs,
    cwd: &Path,
    out: &mut (dyn Write + Send),
) -> Result<(), HelperError> {
    let (files, warnings) =
        select_files(cwd, &a.paths, &[], a.untracked).map_err(|e| HelperError(e.to_string()))?;
    for w in &warnings {
        let _ = writeln!(out, "\x1b[0;33mWARNING: {w}\x1b[0;m");
    }
    let _ = writeln!(
        out,
        "{}: found {} matching artifact files and directories",
        a.paths.join(", "),
        files.len()
    );
    let target = Path::new(&a.file).to_path_buf();
    let dir = target.parent().map(Path::to_path_buf).unwrap_or_else(|| cwd.to_path_buf());
    std::fs::create_dir_all(&dir)
        .map_err(|e| HelperError(format!("failed to create {}: {e}", dir.display())))?;
    let root = cwd.to_path_buf();
    let tmp = tempfile::NamedTempFile::new_in(&dir)
        .map_err(|e| HelperError(format!("failed to create a temporary file in {}: {e}", dir.display())))?;
    let writer = tmp.reopen().map_err(|e| HelperError(e.to_string()))?;
    tokio::task::spawn_blocking(move || write_zip(&root, &files, std::io::BufWriter::new(writer)))
        .await
        .map_err(|e| HelperError(e.to_string()))?
        .map_err(|e| HelperError(format!("failed to write the cache archive: {e}")))?;
    tmp.persist(&target)
        .map_err(|e| HelperError(format!("failed to store {}: {}", target.display(), e.error)))?;
    let size = std::fs::metadata(&target).map(|m| m.len()).unwrap_or(0);
    if a.max_uploaded_archive_size > 0 && size > a.max_uploaded_archive_size {
        return Err(HelperError(format!(
            "cache archive size {size} exceeds the maximum of {} bytes",
            a.max_uploaded_archive_size
        )));
    }
    if let Some(url) = &a.url {
        let _ = writeln!(
            out,
            "Uploading {} to {}",
            target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            redact(url)
        );
        let file = tokio::fs::File::open(&target).await.map_err(|e| HelperError(e.to_string()))?;
        let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(file));
        let r = reqwest::Client::new()
            .put(url)
            .header("Content-Length", size)
            .header("Content-Type", "application/zip")
            .body(body)
            .send()
            .await
            .map_err(|e| HelperError(format!("failed to upload the cache: {e}")))?;
        if !r.status().is_success() {
            return Err(HelperError(format!("failed to upload the cache: {}", r.status())));
        }
    } else {
        let _ = writeln!(
            out,
            "No URL provided, cache will not be uploaded to shared cache server. Cache will be stored only locally."
        );
    }
    Ok(())
}

/// `cache-extractor`.
pub async fn extract_cache(
    a: &ExtractorArgs,
    cwd: &Path,
    out: &mut (dyn Write + Send),
) -> Result<(), HelperError> {
    let target = Path::new(&a.file).to_path_buf();
    if let Some(url) = &a.url {
        let _ = writeln!(
            out,
            "Downloading {} from {}",
            target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            redact(url)
        );
        let fetch = async {
            let r = reqwest::Client::new()
                .get(url)
                .send()
                .await
                .map_err(|e| HelperError(format!("failed to download the cache: {e}")))?;
            if r.status().as_u16() == 404 {
                return Err(HelperError("cache not found on the cache server".into()));
            }
            if !r.status().is_success() {
                return Err(HelperError(format!("failed to download the cache: {}", r.status())));
            }
            let dir = target.parent().map(Path::to_path_buf).unwrap_or_else(|| cwd.to_path_buf());
            std::fs::create_dir_all(&dir).map_err(|e| HelperError(e.to_string()))?;
            let tmp = tempfile::NamedTempFile::new_in(&dir).map_err(|e| HelperError(e.to_string()))?;
            let mut file = tokio::fs::File::from_std(tmp.reopen().map_err(|e| HelperError(e.to_string()))?);
            let mut stream = r.bytes_stream();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| HelperError(format!("failed to download the cache: {e}")))?;
                file.write_all(&chunk).await.map_err(|e| HelperError(e.to_string()))?;
            }
            file.flush().await.map_err(|e| HelperError(e.to_string()))?;
            tmp.persist(&target).map_err(|e| HelperError(e.error.to_string()))?;
            Ok(())
        };
        match tokio::time::timeout(Duration::from_secs(a.timeout.max(1) * 60), fetch).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let _ = writeln!(out, "\x1b[0;33mWARNING: {e}\x1b[0;m");
            }
            Err(_) => {
                let _ = writeln!(out, "\x1b[0;33mWARNING: timed out downloading the cache\x1b[0;m");
            }
        }
    } else {
        let _ = writeln!(
            out,
            "No URL provided, cache will not be downloaded from shared cache server. Instead a local version of cache will be extracted."
        );
    }
    if !target.is_file() {
        return Err(HelperError(format!("{}: file does not exist", target.display())));
    }
    let dest = cwd.to_path_buf();
    tokio::task::spawn_blocking(move || extract_zip(&target, &dest, ExtractLimits::default()))
        .await
        .map_err(|e| HelperError(e.to_string()))?
        .map_err(|e| HelperError(e.to_string()))?;
    Ok(())
}
