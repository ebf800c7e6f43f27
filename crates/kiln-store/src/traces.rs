//! Job logs (traces): chunked, append-only, readable from any offset while they grow.
//!
//! Layout: while a job runs, its log lives in the database as 128 KiB chunks
//! (`trace_chunks`, one row per chunk, the last one partial) beside a `traces` row
//! with the length and the running CRC-32. An append is accepted only at the current
//! length (the server turns a mismatch into HTTP 416 with `Range: 0-<length>`), and
//! rewrites just the chunks it touches, in one transaction with the new length and
//! checksum, so a reader never sees a length without its bytes. When the job is done
//! the server archives the log: the chunks are streamed into one blob
//! (`traces/<job>/job.log`), then one transaction marks the trace archived and
//! deletes the chunks. Reads serve from the chunks or from the blob, whichever holds
//! the log. Keeping live chunks in the database makes every append one small
//! transaction that is durable before it is acknowledged, and lets any replica
//! serve a live log; the blob store holds only finished logs, written once.

use bytes::Bytes;
use futures::StreamExt;

use crate::Store;
use crate::blob::BlobStore;
use crate::codec::Millis;
use crate::db::{read_tx, write_tx};
use crate::error::{Error, Result};
use crate::ids::BuildId;

/// Size of one stored chunk.
pub const CHUNK_SIZE: u64 = 128 * 1024;

/// A log's length and checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TraceInfo {
    pub size: u64,
    /// CRC-32 (IEEE) of the whole log, as the runner's `output.checksum` reports it.
    pub crc32: u32,
    /// The log moved to the blob store (the job is done).
    pub archived: bool,
}

impl TraceInfo {
    /// The runner's format: `crc32:<8 hex digits>`.
    pub fn checksum(&self) -> String {
        format!("crc32:{:08x}", self.crc32)
    }
}

/// The outcome of an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Append {
    /// Stored; the log is now this long.
    Appended(TraceInfo),
    /// `offset` was not the log's length; nothing stored.
    WrongOffset(TraceInfo),
    /// The log would exceed its limit; nothing stored.
    LimitExceeded(TraceInfo),
}

/// The blob key of a job's archived log.
pub fn blob_key(job: BuildId) -> String {
    format!("traces/{}/job.log", job.0)
}

impl Store {
    /// Appends `data` at `offset`, which must be the log's current length. The
    /// result is durable when this returns. `max_size` caps the log's length.
    pub async fn append_trace(
        &self,
        job: BuildId,
        offset: u64,
        data: &[u8],
        max_size: u64,
    ) -> Result<Append> {
        let now = Millis::now();
        let out = write_tx!(self, |c, q| q::traces::append(c, job, offset, data, max_size, now).await?)?;
        if let Append::Appended(info) = out {
            self.notifier().trace_grew(job, info.size);
        }
        Ok(out)
    }

    /// The log's length and checksum (zero for a job that has logged nothing).
    pub async fn trace_info(&self, job: BuildId) -> Result<TraceInfo> {
        read_tx!(self, |c, q| q::traces::info(c, job).await?)
    }

    /// Up to `limit` bytes of the log from `offset` (fewer at its end).
    pub async fn read_trace(
        &self,
        blobs: &BlobStore,
        job: BuildId,
        offset: u64,
        limit: u64,
    ) -> Result<Bytes> {
        let (info, live) = read_tx!(self, |c, q| {
            let info = q::traces::info(c, job).await?;
            let live = if info.archived { None } else { Some(q::traces::read(c, job, offset, limit).await?) };
            (info, live)
        })?;
        if let Some(bytes) = live {
            return Ok(bytes);
        }
        let end = offset.saturating_add(limit).min(info.size);
        let mut stream = blobs.get_range(&blob_key(job), offset..end).await?;
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out.into())
    }

    /// Moves a finished job's log into the blob store. Idempotent: a crash between
    /// the upload and the commit leaves the chunks, and archiving again rewrites the
    /// same blob.
    pub async fn archive_trace(&self, blobs: &BlobStore, job: BuildId) -> Result<TraceInfo> {
        let info = self.trace_info(job).await?;
        if info.archived {
            return Ok(info);
        }
        let chunks = info.size.div_ceil(CHUNK_SIZE);
        let store = self.clone();
        let body = futures::stream::iter(0..chunks).then(move |index| {
            let store = store.clone();
            async move { store.trace_chunk(job, index).await }
        });
        let put = blobs.put_stream(&blob_key(job), body, None).await?;
        if put.size != info.size {
            return Err(Error::Invalid(format!(
                "trace of job {job}: archived {} of {} bytes",
                put.size, info.size
            )));
        }
        write_tx!(self, |c, q| q::traces::mark_archived(c, job, info.size).await?)?;
        Ok(TraceInfo { archived: true, ..info })
    }

    async fn trace_chunk(&self, job: BuildId, index: u64) -> Result<Bytes> {
        read_tx!(self, |c, q| q::traces::chunk(c, job, index).await?)
    }

    /// Deletes a job's log (chunks and row); the caller deletes the blob.
    pub async fn delete_trace(&self, job: BuildId) -> Result<()> {
        write_tx!(self, |c, q| q::traces::delete(c, job).await?)
    }

    /// Subscribes to log growth on this replica: `(job, new length)`; a live log
    /// view reads from its offset when its job shows up.
    pub fn trace_updates(&self) -> tokio::sync::broadcast::Receiver<(BuildId, u64)> {
        self.notifier().trace_subscribe()
    }
}
