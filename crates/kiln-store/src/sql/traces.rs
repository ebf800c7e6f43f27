//! Trace chunks: queries (compiled per backend, see `sql`).

use bytes::Bytes;
use sqlx::Row;

use super::Conn;
use crate::codec::{Millis, to_i64};
use crate::error::{Error, Result};
use crate::ids::BuildId;
use crate::traces::{Append, CHUNK_SIZE, TraceInfo};

pub(crate) async fn info(c: &mut Conn, job: BuildId) -> Result<TraceInfo> {
    let row = sqlx::query("SELECT size, crc32, archived FROM traces WHERE job_id = $1")
        .bind(job.0)
        .fetch_optional(&mut *c)
        .await?;
    let Some(row) = row else { return Ok(TraceInfo::default()) };
    Ok(TraceInfo {
        size: u64::try_from(row.try_get::<i64, _>("size")?).unwrap_or(0),
        crc32: u32::try_from(row.try_get::<i64, _>("crc32")?).unwrap_or(0),
        archived: row.try_get("archived")?,
    })
}

pub(crate) async fn append(
    c: &mut Conn,
    job: BuildId,
    offset: u64,
    data: &[u8],
    max_size: u64,
    now: Millis,
) -> Result<Append> {
    sqlx::query("INSERT INTO traces (job_id, updated_at) VALUES ($1, $2) ON CONFLICT (job_id) DO NOTHING")
        .bind(job.0)
        .bind(now.0)
        .execute(&mut *c)
        .await?;
    let current = info(c, job).await?;
    if current.archived {
        return Err(Error::Invalid(format!("trace of job {job}: already archived")));
    }
    if offset != current.size {
        return Ok(Append::WrongOffset(current));
    }
    let new_size = current.size.saturating_add(data.len() as u64);
    if new_size > max_size {
        return Ok(Append::LimitExceeded(current));
    }
    if data.is_empty() {
        return Ok(Append::Appended(current));
    }
    // All the chunks the append touches in one statement: a round trip per
    // 128 KiB chunk was most of a 1 MiB patch's time on PostgreSQL.
    let mut rows: Vec<(i64, Vec<u8>)> = Vec::new();
    let mut pos = current.size;
    let mut rest = data;
    while !rest.is_empty() {
        let index = pos / CHUNK_SIZE;
        let within = pos % CHUNK_SIZE;
        let room = usize::try_from(CHUNK_SIZE - within).unwrap_or(usize::MAX);
        let (piece, tail) = rest.split_at(room.min(rest.len()));
        let stored = if within == 0 { Vec::with_capacity(piece.len()) } else { chunk(c, job, index).await?.to_vec() };
        if stored.len() as u64 != within {
            return Err(Error::Invalid(format!("trace of job {job}: chunk {index} has {} bytes, expected {within}", stored.len())));
        }
        let mut joined = stored;
        joined.extend_from_slice(piece);
        rows.push((to_i64(index), joined));
        pos += piece.len() as u64;
        rest = tail;
    }
    let mut insert = sqlx::QueryBuilder::new("INSERT INTO trace_chunks (job_id, chunk_index, data) ");
    insert.push_values(rows, |mut b, (index, bytes)| {
        b.push_bind(job.0).push_bind(index).push_bind(bytes);
    });
    insert.push(" ON CONFLICT (job_id, chunk_index) DO UPDATE SET data = excluded.data");
    insert.build().execute(&mut *c).await?;
    let mut hasher = crc32fast::Hasher::new_with_initial(current.crc32);
    hasher.update(data);
    let crc = hasher.finalize();
    sqlx::query("UPDATE traces SET size = $2, crc32 = $3, updated_at = $4 WHERE job_id = $1")
        .bind(job.0)
        .bind(to_i64(new_size))
        .bind(i64::from(crc))
        .bind(now.0)
        .execute(&mut *c)
        .await?;
    Ok(Append::Appended(TraceInfo { size: new_size, crc32: crc, archived: false }))
}

pub(crate) async fn chunk(c: &mut Conn, job: BuildId, index: u64) -> Result<Bytes> {
    let data: Option<Vec<u8>> = sqlx::query_scalar("SELECT data FROM trace_chunks WHERE job_id = $1 AND chunk_index = $2")
        .bind(job.0)
        .bind(to_i64(index))
        .fetch_optional(&mut *c)
        .await?;
    Ok(data.unwrap_or_default().into())
}

pub(crate) async fn read(c: &mut Conn, job: BuildId, offset: u64, limit: u64) -> Result<Bytes> {
    if limit == 0 {
        return Ok(Bytes::new());
    }
    let end = offset.saturating_add(limit);
    let first = offset / CHUNK_SIZE;
    let last = (end - 1) / CHUNK_SIZE;
    let rows = sqlx::query(
        "SELECT chunk_index, data FROM trace_chunks WHERE job_id = $1 AND chunk_index >= $2 AND chunk_index <= $3
         ORDER BY chunk_index",
    )
    .bind(job.0)
    .bind(to_i64(first))
    .bind(to_i64(last))
    .fetch_all(&mut *c)
    .await?;
    let mut out = Vec::new();
    for row in &rows {
        let index = u64::try_from(row.try_get::<i64, _>("chunk_index")?).unwrap_or(0);
        let data: Vec<u8> = row.try_get("data")?;
        let chunk_start = index * CHUNK_SIZE;
        let from = usize::try_from(offset.saturating_sub(chunk_start)).unwrap_or(usize::MAX).min(data.len());
        let to = usize::try_from(end.saturating_sub(chunk_start)).unwrap_or(usize::MAX).min(data.len());
        if let Some(slice) = data.get(from..to) {
            out.extend_from_slice(slice);
        }
    }
    Ok(out.into())
}

pub(crate) async fn mark_archived(c: &mut Conn, job: BuildId, size: u64) -> Result<()> {
    // Only if nothing was appended meanwhile (finished jobs take no appends).
    let done = sqlx::query("UPDATE traces SET archived = TRUE WHERE job_id = $1 AND size = $2")
        .bind(job.0)
        .bind(to_i64(size))
        .execute(&mut *c)
        .await?;
    if done.rows_affected() == 0 && size > 0 {
        return Err(Error::Conflict(format!("trace of job {job} grew while it was archived")));
    }
    if size == 0 {
        sqlx::query("INSERT INTO traces (job_id, archived, updated_at) VALUES ($1, TRUE, 0)
             ON CONFLICT (job_id) DO UPDATE SET archived = TRUE")
        .bind(job.0)
        .execute(&mut *c)
        .await?;
    }
    sqlx::query("DELETE FROM trace_chunks WHERE job_id = $1").bind(job.0).execute(&mut *c).await?;
    Ok(())
}

pub(crate) async fn delete(c: &mut Conn, job: BuildId) -> Result<()> {
    sqlx::query("DELETE FROM trace_chunks WHERE job_id = $1").bind(job.0).execute(&mut *c).await?;
    sqlx::query("DELETE FROM traces WHERE job_id = $1").bind(job.0).execute(&mut *c).await?;
    Ok(())
}
