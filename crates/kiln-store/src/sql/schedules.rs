//! Pipeline schedules: queries (compiled per backend, see `sql`).

use kiln_pipeline::PipelineId;
use sqlx::Row;

use super::{Conn, DbRow};
use crate::codec::{Millis, Page, Paged, decode, opt_millis};
use crate::error::{Error, Result};
use crate::ids::{ProjectId, ScheduleId, UserId, pipeline_db, pipeline_id};
use crate::pipelines::PipelineVariable;
use crate::schedules::{NewSchedule, Schedule, ScheduleUpdate};
use crate::sql::sqlf;
use crate::variables::VariableType;

const COLUMNS: &str = "id, project_id, description, ref, cron, cron_timezone, active, owner_id, next_run_at, \
    last_pipeline_id, created_at, updated_at";

async fn schedule(c: &mut Conn, row: &DbRow) -> Result<Schedule> {
    let id: i64 = row.try_get("id")?;
    let vars = sqlx::query("SELECT key, value, variable_type FROM schedule_variables WHERE schedule_id = $1 ORDER BY key")
        .bind(id)
        .fetch_all(&mut *c)
        .await?;
    let variables = vars
        .iter()
        .map(|v| {
            Ok(PipelineVariable {
                key: v.try_get("key")?,
                value: v.try_get("value")?,
                variable_type: decode::<VariableType>(&v.try_get::<String, _>("variable_type")?)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Schedule {
        id: ScheduleId(id),
        project_id: ProjectId(row.try_get("project_id")?),
        description: row.try_get("description")?,
        ref_name: row.try_get("ref")?,
        cron: row.try_get("cron")?,
        cron_timezone: row.try_get("cron_timezone")?,
        active: row.try_get("active")?,
        owner_id: row.try_get::<Option<i64>, _>("owner_id")?.map(UserId),
        next_run_at: opt_millis(row.try_get("next_run_at")?),
        last_pipeline_id: row.try_get::<Option<i64>, _>("last_pipeline_id")?.map(pipeline_id),
        variables,
        created_at: Millis(row.try_get("created_at")?),
        updated_at: Millis(row.try_get("updated_at")?),
    })
}

pub(crate) async fn create(c: &mut Conn, new: &NewSchedule, now: Millis) -> Result<Schedule> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO pipeline_schedules (project_id, description, ref, cron, cron_timezone, active, owner_id,
             next_run_at, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id",
    )
    .bind(new.project.0)
    .bind(&new.description)
    .bind(&new.ref_name)
    .bind(&new.cron)
    .bind(&new.cron_timezone)
    .bind(new.active)
    .bind(new.owner.map(|u| u.0))
    .bind(new.next_run_at.map(|t| t.0))
    .bind(now.0)
    .fetch_one(&mut *c)
    .await?;
    by_id(c, ScheduleId(id)).await
}

pub(crate) async fn by_id(c: &mut Conn, id: ScheduleId) -> Result<Schedule> {
    let row = sqlx::query(sqlf!("SELECT {COLUMNS} FROM pipeline_schedules WHERE id = $1"))
        .bind(id.0)
        .fetch_optional(&mut *c)
        .await?
        .ok_or(Error::NotFound("pipeline schedule"))?;
    schedule(c, &row).await
}

pub(crate) async fn list(c: &mut Conn, project: ProjectId, active: Option<bool>, page: Page) -> Result<Paged<Schedule>> {
    let wher = "project_id = $1 AND ($2 IS NULL OR active = $2)";
    let rows = sqlx::query(sqlf!("SELECT {COLUMNS} FROM pipeline_schedules WHERE {wher} ORDER BY id LIMIT $3 OFFSET $4"))
        .bind(project.0)
        .bind(active)
        .bind(page.limit)
        .bind(page.offset)
        .fetch_all(&mut *c)
        .await?;
    let total: i64 = sqlx::query_scalar(sqlf!("SELECT COUNT(*) FROM pipeline_schedules WHERE {wher}"))
        .bind(project.0)
        .bind(active)
        .fetch_one(&mut *c)
        .await?;
    let mut items = Vec::with_capacity(rows.len());
    for row in &rows {
        items.push(schedule(c, row).await?);
    }
    Ok(Paged { items, total })
}

pub(crate) async fn update(c: &mut Conn, id: ScheduleId, u: &ScheduleUpdate, now: Millis) -> Result<Schedule> {
    let cur = by_id(c, id).await?;
    sqlx::query(
        "UPDATE pipeline_schedules SET description = $2, ref = $3, cron = $4, cron_timezone = $5, active = $6,
             next_run_at = $7, updated_at = $8 WHERE id = $1",
    )
    .bind(id.0)
    .bind(u.description.as_ref().unwrap_or(&cur.description))
    .bind(u.ref_name.as_ref().unwrap_or(&cur.ref_name))
    .bind(u.cron.as_ref().unwrap_or(&cur.cron))
    .bind(u.cron_timezone.as_ref().unwrap_or(&cur.cron_timezone))
    .bind(u.active.unwrap_or(cur.active))
    .bind(u.next_run_at.unwrap_or(cur.next_run_at).map(|t| t.0))
    .bind(now.0)
    .execute(&mut *c)
    .await?;
    by_id(c, id).await
}

pub(crate) async fn set_owner(c: &mut Conn, id: ScheduleId, user: UserId, now: Millis) -> Result<Schedule> {
    let done = sqlx::query("UPDATE pipeline_schedules SET owner_id = $2, updated_at = $3 WHERE id = $1")
        .bind(id.0)
        .bind(user.0)
        .bind(now.0)
        .execute(&mut *c)
        .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound("pipeline schedule"));
    }
    by_id(c, id).await
}

pub(crate) async fn delete(c: &mut Conn, id: ScheduleId) -> Result<()> {
    let done = sqlx::query("DELETE FROM pipeline_schedules WHERE id = $1").bind(id.0).execute(&mut *c).await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound("pipeline schedule"));
    }
    Ok(())
}

pub(crate) async fn set_variable(c: &mut Conn, id: ScheduleId, v: &PipelineVariable) -> Result<()> {
    by_id(c, id).await?;
    sqlx::query(
        "INSERT INTO schedule_variables (schedule_id, key, value, variable_type) VALUES ($1, $2, $3, $4)
         ON CONFLICT (schedule_id, key) DO UPDATE SET value = excluded.value, variable_type = excluded.variable_type",
    )
    .bind(id.0)
    .bind(&v.key)
    .bind(&v.value)
    .bind(v.variable_type.as_str())
    .execute(&mut *c)
    .await?;
    Ok(())
}

pub(crate) async fn delete_variable(c: &mut Conn, id: ScheduleId, key: &str) -> Result<()> {
    let done = sqlx::query("DELETE FROM schedule_variables WHERE schedule_id = $1 AND key = $2")
        .bind(id.0)
        .bind(key)
        .execute(&mut *c)
        .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound("schedule variable"));
    }
    Ok(())
}

pub(crate) async fn due(c: &mut Conn, now: Millis, limit: i64) -> Result<Vec<Schedule>> {
    let rows = sqlx::query(sqlf!(
        "SELECT {COLUMNS} FROM pipeline_schedules WHERE active = TRUE AND next_run_at IS NOT NULL AND next_run_at <= $1
         ORDER BY next_run_at LIMIT $2"
    ))
    .bind(now.0)
    .bind(limit)
    .fetch_all(&mut *c)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        out.push(schedule(c, row).await?);
    }
    Ok(out)
}

pub(crate) async fn advance(c: &mut Conn, id: ScheduleId, seen: Millis, next: Option<Millis>, now: Millis) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE pipeline_schedules SET next_run_at = $3, updated_at = $4 WHERE id = $1 AND next_run_at = $2",
    )
    .bind(id.0)
    .bind(seen.0)
    .bind(next.map(|t| t.0))
    .bind(now.0)
    .execute(&mut *c)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn set_last_pipeline(c: &mut Conn, id: ScheduleId, pipeline: PipelineId) -> Result<()> {
    sqlx::query("UPDATE pipeline_schedules SET last_pipeline_id = $2 WHERE id = $1")
        .bind(id.0)
        .bind(pipeline_db(pipeline))
        .execute(&mut *c)
        .await?;
    Ok(())
}
