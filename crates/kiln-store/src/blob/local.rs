//! Blobs in a local directory: temporary file, fsync, rename, fsync of the directory.

use std::io::SeekFrom;
use std::ops::Range;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};
use rand::TryRngCore;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::{BlobMeta, BlobStream};
use crate::error::{Error, Result};

/// Temporary files live here, inside the root, so the rename stays on one file system.
const TMP: &str = ".tmp";

#[derive(Debug)]
pub(super) struct Local {
    root: PathBuf,
}

impl Local {
    pub(super) fn open(root: PathBuf) -> Result<Local> {
        std::fs::create_dir_all(root.join(TMP))
            .map_err(|e| Error::Blob(format!("{}: {e}", root.display())))?;
        Ok(Local { root })
    }

    fn path(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }

    pub(super) async fn put(&self, key: &str, mut body: BoxStream<'_, Result<Bytes>>) -> Result<()> {
        let mut name = [0u8; 12];
        rand::rngs::OsRng.try_fill_bytes(&mut name).map_err(|e| Error::Blob(format!("os random: {e}")))?;
        let tmp = self.root.join(TMP).join(hex::encode(name));
        let written = async {
            let mut file = tokio::fs::File::create(&tmp).await?;
            while let Some(chunk) = body.next().await {
                file.write_all(&chunk?).await?;
            }
            file.sync_all().await?;
            Ok::<_, Error>(())
        }
        .await;
        if let Err(e) = written {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(e);
        }
        let target = self.path(key);
        let parent = target.parent().unwrap_or(&self.root).to_path_buf();
        tokio::fs::create_dir_all(&parent).await?;
        if let Err(e) = tokio::fs::rename(&tmp, &target).await {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(e.into());
        }
        sync_dir(&parent).await
    }

    pub(super) async fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<BlobStream> {
        let mut file = tokio::fs::File::open(self.path(key)).await?;
        let (start, len) = match range {
            Some(r) => (r.start, r.end.saturating_sub(r.start)),
            None => (0, u64::MAX),
        };
        if start > 0 {
            file.seek(SeekFrom::Start(start)).await?;
        }
        let reader = tokio_util::io::ReaderStream::with_capacity(file.take(len), 64 * 1024);
        Ok(reader.map(|r| r.map_err(Error::from)).boxed())
    }

    pub(super) async fn size(&self, key: &str) -> Result<u64> {
        Ok(tokio::fs::metadata(self.path(key)).await?.len())
    }

    pub(super) async fn delete(&self, key: &str) -> Result<()> {
        match tokio::fs::remove_file(self.path(key)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    pub(super) async fn list(&self, prefix: &str) -> Result<Vec<BlobMeta>> {
        // Walk the deepest directory the prefix names, then filter by the full prefix.
        let dir_part = prefix.rsplit_once('/').map_or("", |(d, _)| d);
        let start = if dir_part.is_empty() { self.root.clone() } else { self.path(dir_part) };
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || walk(&root, &start))
            .await
            .map_err(|e| Error::Blob(format!("listing: {e}")))?
    }
}

fn walk(root: &Path, start: &Path) -> Result<Vec<BlobMeta>> {
    let mut out = Vec::new();
    if !start.exists() {
        return Ok(out);
    }
    let mut stack = vec![start.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let path = entry.path();
            let kind = entry.file_type()?;
            let rel = path.strip_prefix(root).map_err(|e| Error::Blob(e.to_string()))?;
            let key = rel.to_string_lossy().replace('\\', "/");
            if key == TMP || key.starts_with(&format!("{TMP}/")) {
                continue;
            }
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() {
                out.push(BlobMeta { key, size: entry.metadata()?.len() });
            }
        }
    }
    Ok(out)
}

/// The rename is durable once the directory entry is on disk.
async fn sync_dir(dir: &Path) -> Result<()> {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || std::fs::File::open(&dir).and_then(|d| d.sync_all()))
        .await
        .map_err(|e| Error::Blob(format!("fsync: {e}")))??;
    Ok(())
}
