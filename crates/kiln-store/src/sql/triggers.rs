//! Trigger tokens: queries (compiled per backend, see `sql`).

use sqlx::Row;

use super::{Conn, DbRow};
use crate::codec::{Millis, opt_millis};
use crate::error::{Error, Result};
use crate::ids::{ProjectId, TriggerId, UserId};
use crate::sql::sqlf;
use crate::triggers::Trigger;

const COLUMNS: &str =
    "id, project_id, owner_id, description, token_hint, expires_at, last_used_at, created_at, updated_at";

fn trigger(row: &DbRow) -> Result<Trigger> {
    Ok(Trigger {
        id: TriggerId(row.try_get("id")?),
        project_id: ProjectId(row.try_get("project_id")?),
        owner_id: row.try_get::<Option<i64>, _>("owner_id")?.map(UserId),
        description: row.try_get("description")?,
        token_hint: row.try_get("token_hint")?,
        expires_at: opt_millis(row.try_get("expires_at")?),
        last_used_at: opt_millis(row.try_get("last_used_at")?),
        created_at: Millis(row.try_get("created_at")?),
        updated_at: Millis(row.try_get("updated_at")?),
    })
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn create(
    c: &mut Conn,
    project: ProjectId,
    owner: UserId,
    description: &str,
    expires_at: Option<Millis>,
    digest: &str,
    hint: &str,
    now: Millis,
) -> Result<Trigger> {
    let row = sqlx::query(sqlf!(
        "INSERT INTO triggers (project_id, owner_id, description, token_digest, token_hint, expires_at, created_at,
             updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING {COLUMNS}"
    ))
    .bind(project.0)
    .bind(owner.0)
    .bind(description)
    .bind(digest)
    .bind(hint)
    .bind(expires_at.map(|t| t.0))
    .bind(now.0)
    .fetch_one(&mut *c)
    .await?;
    trigger(&row)
}

pub(crate) async fn by_digest(c: &mut Conn, digest: &str) -> Result<(Trigger, String)> {
    let row = sqlx::query(sqlf!("SELECT {COLUMNS}, token_digest FROM triggers WHERE token_digest = $1"))
        .bind(digest)
        .fetch_optional(&mut *c)
        .await?
        .ok_or(Error::NotFound("trigger"))?;
    Ok((trigger(&row)?, row.try_get("token_digest")?))
}

pub(crate) async fn by_id(c: &mut Conn, id: TriggerId) -> Result<Trigger> {
    let row = sqlx::query(sqlf!("SELECT {COLUMNS} FROM triggers WHERE id = $1"))
        .bind(id.0)
        .fetch_optional(&mut *c)
        .await?
        .ok_or(Error::NotFound("trigger"))?;
    trigger(&row)
}

pub(crate) async fn touch(c: &mut Conn, id: TriggerId, now: Millis) -> Result<()> {
    sqlx::query("UPDATE triggers SET last_used_at = $2 WHERE id = $1").bind(id.0).bind(now.0).execute(&mut *c).await?;
    Ok(())
}

pub(crate) async fn list(c: &mut Conn, project: ProjectId) -> Result<Vec<Trigger>> {
    let rows = sqlx::query(sqlf!("SELECT {COLUMNS} FROM triggers WHERE project_id = $1 ORDER BY id"))
        .bind(project.0)
        .fetch_all(&mut *c)
        .await?;
    rows.iter().map(trigger).collect()
}

pub(crate) async fn update(c: &mut Conn, id: TriggerId, description: &str, now: Millis) -> Result<Trigger> {
    let row = sqlx::query(sqlf!("UPDATE triggers SET description = $2, updated_at = $3 WHERE id = $1 RETURNING {COLUMNS}"))
        .bind(id.0)
        .bind(description)
        .bind(now.0)
        .fetch_optional(&mut *c)
        .await?
        .ok_or(Error::NotFound("trigger"))?;
    trigger(&row)
}

pub(crate) async fn delete(c: &mut Conn, id: TriggerId) -> Result<()> {
    let done = sqlx::query("DELETE FROM triggers WHERE id = $1").bind(id.0).execute(&mut *c).await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound("trigger"));
    }
    Ok(())
}
