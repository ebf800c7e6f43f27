//! Blob storage for logs, artifacts and cache: one interface over a local directory
//! (the default) and an S3-compatible bucket (through `object_store`).
//!
//! Keys are relative, `/`-separated paths (`traces/12/job.log`). Writes stream: a
//! put consumes its body chunk by chunk and never holds the whole blob in memory
//! (local: straight into a temporary file; S3: a multipart upload through a bounded
//! buffer). A blob appears whole or not at all: local writes go to a temporary file
//! that is fsynced and renamed into place (then the directory is fsynced), S3 makes
//! an object visible only when its upload completes.

mod local;
mod s3;

use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::{BoxStream, Stream, StreamExt};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// A stream of a blob's bytes.
pub type BlobStream = BoxStream<'static, Result<Bytes>>;

/// What a streaming put wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutInfo {
    pub size: u64,
    /// Lowercase hex SHA-256 of the content.
    pub sha256: String,
}

/// One listed blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobMeta {
    pub key: String,
    pub size: u64,
}

#[derive(Debug)]
enum Inner {
    Local(local::Local),
    S3(s3::S3),
}

/// Where blobs live. Cheap to clone.
#[derive(Debug, Clone)]
pub struct BlobStore {
    inner: Arc<Inner>,
}

impl BlobStore {
    /// Opens `file:///dir` or a plain path (a local directory, created if missing), or
    /// `s3://bucket[/prefix][?endpoint=http://host:port&region=...]`. S3 credentials
    /// come from the environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_SESSION_TOKEN`, ...) or from `access_key_id` / `secret_access_key` query
    /// parameters; an `http://` endpoint is allowed (for MinIO, moto, s3s).
    pub fn open(url: &str) -> Result<BlobStore> {
        if url.starts_with("s3://") {
            return Ok(BlobStore { inner: Arc::new(Inner::S3(s3::S3::open(url)?)) });
        }
        let path = url.strip_prefix("file://").unwrap_or(url);
        if path.is_empty() || url.contains("://") && !url.starts_with("file://") {
            return Err(Error::Invalid(format!("blob url `{url}`: expected a directory, file:// or s3://")));
        }
        BlobStore::local(path)
    }

    /// A local directory (created if missing).
    pub fn local(dir: impl Into<PathBuf>) -> Result<BlobStore> {
        Ok(BlobStore { inner: Arc::new(Inner::Local(local::Local::open(dir.into())?)) })
    }

    /// Stores `bytes` under `key`, replacing what was there.
    pub async fn put(&self, key: &str, bytes: Bytes) -> Result<PutInfo> {
        self.put_stream(key, futures::stream::iter([Ok::<_, Error>(bytes)]), None).await
    }

    /// Stores a stream under `key` without buffering it whole. With `max_size`, a
    /// longer stream fails with [`Error::TooLarge`] and nothing is stored.
    pub async fn put_stream<S, E>(&self, key: &str, body: S, max_size: Option<u64>) -> Result<PutInfo>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        check_key(key)?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let counted = body.map(|chunk| {
            let chunk = chunk.map_err(|e| Error::Blob(format!("reading the upload: {e}")))?;
            size = size.saturating_add(chunk.len() as u64);
            if let Some(limit) = max_size.filter(|limit| size > *limit) {
                return Err(Error::TooLarge { limit });
            }
            hasher.update(&chunk);
            Ok(chunk)
        });
        let counted = Box::pin(counted);
        match &*self.inner {
            Inner::Local(l) => l.put(key, counted).await?,
            Inner::S3(s) => s.put(key, counted).await?,
        }
        Ok(PutInfo { size, sha256: hex::encode(hasher.finalize()) })
    }

    /// The whole blob, as a stream.
    pub async fn get(&self, key: &str) -> Result<BlobStream> {
        check_key(key)?;
        match &*self.inner {
            Inner::Local(l) => l.get(key, None).await,
            Inner::S3(s) => s.get(key, None).await,
        }
    }

    /// Bytes `range` of the blob (clamped to its end), as a stream. An empty range,
    /// or one that starts at or past the end, yields nothing.
    pub async fn get_range(&self, key: &str, range: Range<u64>) -> Result<BlobStream> {
        check_key(key)?;
        if range.start >= range.end {
            return Ok(futures::stream::empty().boxed());
        }
        let size = self.size(key).await?;
        if range.start >= size {
            return Ok(futures::stream::empty().boxed());
        }
        let range = range.start..range.end.min(size);
        match &*self.inner {
            Inner::Local(l) => l.get(key, Some(range)).await,
            Inner::S3(s) => s.get(key, Some(range)).await,
        }
    }

    /// The whole blob in memory (for small blobs).
    pub async fn read_all(&self, key: &str) -> Result<Bytes> {
        let mut stream = self.get(key).await?;
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out.into())
    }

    /// The blob's size.
    pub async fn size(&self, key: &str) -> Result<u64> {
        check_key(key)?;
        match &*self.inner {
            Inner::Local(l) => l.size(key).await,
            Inner::S3(s) => s.size(key).await,
        }
    }

    /// Deletes a blob; deleting a missing blob is not an error.
    pub async fn delete(&self, key: &str) -> Result<()> {
        check_key(key)?;
        match &*self.inner {
            Inner::Local(l) => l.delete(key).await,
            Inner::S3(s) => s.delete(key).await,
        }
    }

    /// Every blob whose key starts with `prefix` (a directory-like prefix such as
    /// `artifacts/3/`), sorted by key.
    pub async fn list(&self, prefix: &str) -> Result<Vec<BlobMeta>> {
        let mut out = match &*self.inner {
            Inner::Local(l) => l.list(prefix).await?,
            Inner::S3(s) => s.list(prefix).await?,
        };
        out.retain(|m| m.key.starts_with(prefix));
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }
}

/// Keys are relative paths of plain segments: no `..`, no empty segments, no
/// leading `/`, nothing outside printable ASCII.
pub(crate) fn check_key(key: &str) -> Result<()> {
    let ok = !key.is_empty()
        && key.len() <= 1024
        && key.split('/').all(|s| !s.is_empty() && s != "." && s != "..")
        && key.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
    if ok { Ok(()) } else { Err(Error::Invalid(format!("blob key `{key}`"))) }
}

#[cfg(test)]
mod tests {
    use super::check_key;

    #[test]
    fn keys_stay_inside_the_store() {
        assert!(check_key("traces/1/job.log").is_ok());
        for bad in ["", "/abs", "a//b", "../x", "a/../b", "a/./b", "a\\b", "a b", "trailing/"] {
            assert!(check_key(bad).is_err(), "{bad}");
        }
    }
}
