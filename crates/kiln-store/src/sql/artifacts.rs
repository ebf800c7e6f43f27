//! Artifacts: queries (compiled per backend, see `sql`).

use sqlx::Row;

use super::{Conn, DbRow};
use crate::artifacts::{Artifact, ArtifactFormat, ArtifactType, NewArtifact};
use crate::blob::PutInfo;
use crate::codec::{Millis, decode, opt_millis, to_i64};
use crate::error::{Error, Result};
use crate::ids::{ArtifactId, BuildId, ProjectId};
use crate::sql::sqlf;

const COLUMNS: &str = "id, job_id, project_id, file_type, file_format, file_name, size, sha256, blob_key, expire_at, created_at";

fn artifact(row: &DbRow) -> Result<Artifact> {
    Ok(Artifact {
        id: ArtifactId(row.try_get("id")?),
        job_id: BuildId(row.try_get("job_id")?),
        project_id: ProjectId(row.try_get("project_id")?),
        file_type: decode::<ArtifactType>(&row.try_get::<String, _>("file_type")?)?,
        file_format: decode::<ArtifactFormat>(&row.try_get::<String, _>("file_format")?)?,
        file_name: row.try_get("file_name")?,
        size: u64::try_from(row.try_get::<i64, _>("size")?).unwrap_or(0),
        sha256: row.try_get("sha256")?,
        blob_key: row.try_get("blob_key")?,
        expire_at: opt_millis(row.try_get("expire_at")?),
        created_at: Millis(row.try_get("created_at")?),
    })
}

/// Records an upload; returns it and the blob key of the file it replaced.
pub(crate) async fn record(
    c: &mut Conn,
    new: &NewArtifact,
    project: ProjectId,
    key: &str,
    put: &PutInfo,
    now: Millis,
) -> Result<(Artifact, Option<String>)> {
    let replaced: Option<String> =
        sqlx::query_scalar("DELETE FROM artifacts WHERE job_id = $1 AND file_type = $2 RETURNING blob_key")
            .bind(new.job.0)
            .bind(new.file_type.as_str())
            .fetch_optional(&mut *c)
            .await?;
    let row = sqlx::query(sqlf!(
        "INSERT INTO artifacts (job_id, project_id, file_type, file_format, file_name, size, sha256, blob_key,
             expire_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {COLUMNS}"
    ))
    .bind(new.job.0)
    .bind(project.0)
    .bind(new.file_type.as_str())
    .bind(new.file_format.as_str())
    .bind(&new.file_name)
    .bind(to_i64(put.size))
    .bind(&put.sha256)
    .bind(key)
    .bind(new.expire_at.map(|t| t.0))
    .bind(now.0)
    .fetch_one(&mut *c)
    .await?;
    Ok((artifact(&row)?, replaced))
}

pub(crate) async fn of_job(c: &mut Conn, job: BuildId) -> Result<Vec<Artifact>> {
    let rows = sqlx::query(sqlf!("SELECT {COLUMNS} FROM artifacts WHERE job_id = $1 ORDER BY id"))
        .bind(job.0)
        .fetch_all(&mut *c)
        .await?;
    rows.iter().map(artifact).collect()
}

pub(crate) async fn of_job_by_type(c: &mut Conn, job: BuildId, file_type: ArtifactType) -> Result<Artifact> {
    let row = sqlx::query(sqlf!("SELECT {COLUMNS} FROM artifacts WHERE job_id = $1 AND file_type = $2"))
        .bind(job.0)
        .bind(file_type.as_str())
        .fetch_optional(&mut *c)
        .await?
        .ok_or(Error::NotFound("artifact"))?;
    artifact(&row)
}

pub(crate) async fn expired(
    c: &mut Conn,
    now: Millis,
    after: Option<(Millis, ArtifactId)>,
    limit: i64,
) -> Result<Vec<Artifact>> {
    // Keyset paging on (expire_at, id): a caller that skips some rows still
    // reaches the ones behind them.
    let (after_at, after_id) = after.map_or((i64::MIN, i64::MIN), |(t, id)| (t.0, id.0));
    let rows = sqlx::query(sqlf!(
        "SELECT {COLUMNS} FROM artifacts WHERE expire_at IS NOT NULL AND expire_at <= $1
             AND (expire_at > $3 OR (expire_at = $3 AND id > $4))
         ORDER BY expire_at, id LIMIT $2"
    ))
    .bind(now.0)
    .bind(limit)
    .bind(after_at)
    .bind(after_id)
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(artifact).collect()
}

pub(crate) async fn delete(c: &mut Conn, id: ArtifactId) -> Result<String> {
    sqlx::query_scalar("DELETE FROM artifacts WHERE id = $1 RETURNING blob_key")
        .bind(id.0)
        .fetch_optional(&mut *c)
        .await?
        .ok_or(Error::NotFound("artifact"))
}

pub(crate) async fn set_expiry(c: &mut Conn, job: BuildId, expire_at: Option<Millis>) -> Result<()> {
    sqlx::query("UPDATE artifacts SET expire_at = $2 WHERE job_id = $1")
        .bind(job.0)
        .bind(expire_at.map(|t| t.0))
        .execute(&mut *c)
        .await?;
    Ok(())
}
