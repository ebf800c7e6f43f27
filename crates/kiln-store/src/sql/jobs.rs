//! Job rows, specifications, limits scans and resource groups: queries (compiled per
//! backend, see `sql`).

use kiln_pipeline::resource_group::{Candidate, ProcessMode};
use kiln_pipeline::{JobDefinition, JobId, PipelineId, Status};
use sqlx::Row;

use super::{Conn, DbRow};
use crate::codec::{Millis, Page, Paged, decode, decode_opt, from_json, opt_millis, to_u32};
use crate::error::{Error, Result};
use crate::ids::{BuildId, ProjectId, RunnerId, RunnerManagerId, UserId, pipeline_db, pipeline_id};
use crate::jobs::{JobFilter, JobRecord, JobRef, ResourceGroup};
use crate::sql::sqlf;

pub(crate) const FROM: &str =
    "jobs j JOIN job_definitions d ON d.pipeline_id = j.pipeline_id AND d.idx = j.definition_idx";

pub(crate) const COLUMNS: &str = "j.id, j.pipeline_id, j.project_id, j.number, j.name, j.stage, j.stage_idx, \
    j.bridge, j.status, j.retried, j.allow_failure, j.failure_reason, j.exit_code, j.user_id, j.runner_id, \
    j.runner_manager_id, d.tags, j.downstream_pipeline_id, j.erased_at, j.created_at, j.updated_at, j.queued_at, \
    j.started_at, j.finished_at, j.scheduled_at";

pub(crate) fn job(row: &DbRow) -> Result<JobRecord> {
    job_with_tags(row, row.try_get("tags")?)
}

/// A job from a row of `jobs` columns, with its tags (JSON) from elsewhere.
pub(crate) fn job_with_tags(row: &DbRow, tags: String) -> Result<JobRecord> {
    Ok(JobRecord {
        id: BuildId(row.try_get("id")?),
        pipeline_id: pipeline_id(row.try_get("pipeline_id")?),
        project_id: ProjectId(row.try_get("project_id")?),
        number: JobId(to_u32(row.try_get("number")?, "job number")?),
        name: row.try_get("name")?,
        stage: row.try_get("stage")?,
        stage_idx: to_u32(row.try_get("stage_idx")?, "stage index")?,
        bridge: row.try_get("bridge")?,
        status: decode::<Status>(&row.try_get::<String, _>("status")?)?,
        retried: row.try_get("retried")?,
        allow_failure: row.try_get("allow_failure")?,
        failure_reason: decode_opt(row.try_get("failure_reason")?)?,
        exit_code: row.try_get("exit_code")?,
        user_id: row.try_get::<Option<i64>, _>("user_id")?.map(UserId),
        runner_id: row.try_get::<Option<i64>, _>("runner_id")?.map(RunnerId),
        runner_manager_id: row.try_get::<Option<i64>, _>("runner_manager_id")?.map(RunnerManagerId),
        tags: from_json(&tags)?,
        downstream_pipeline_id: row.try_get::<Option<i64>, _>("downstream_pipeline_id")?.map(pipeline_id),
        erased_at: opt_millis(row.try_get("erased_at")?),
        created_at: Millis(row.try_get("created_at")?),
        updated_at: Millis(row.try_get("updated_at")?),
        queued_at: opt_millis(row.try_get("queued_at")?),
        started_at: opt_millis(row.try_get("started_at")?),
        finished_at: opt_millis(row.try_get("finished_at")?),
        scheduled_at: opt_millis(row.try_get("scheduled_at")?),
    })
}

pub(crate) async fn by_id(c: &mut Conn, id: BuildId) -> Result<JobRecord> {
    let row = sqlx::query(sqlf!("SELECT {COLUMNS} FROM {FROM} WHERE j.id = $1"))
        .bind(id.0)
        .fetch_optional(&mut *c)
        .await?
        .ok_or(Error::NotFound("job"))?;
    job(&row)
}

pub(crate) async fn by_number(c: &mut Conn, pipeline: PipelineId, number: JobId) -> Result<JobRecord> {
    let row = sqlx::query(sqlf!("SELECT {COLUMNS} FROM {FROM} WHERE j.pipeline_id = $1 AND j.number = $2"))
        .bind(pipeline_db(pipeline))
        .bind(i64::from(number.0))
        .fetch_optional(&mut *c)
        .await?
        .ok_or(Error::NotFound("job"))?;
    job(&row)
}

pub(crate) async fn list(c: &mut Conn, f: &JobFilter, page: Page) -> Result<Paged<JobRecord>> {
    let statuses: Vec<&str> = f.statuses.iter().map(|s| s.as_str()).collect();
    let statuses = crate::codec::to_json(&statuses)?;
    let status_filter = if super::PG {
        "j.status IN (SELECT jsonb_array_elements_text($4::jsonb))"
    } else {
        "j.status IN (SELECT value FROM json_each($4))"
    };
    let wher = format!(
        "($1 IS NULL OR j.project_id = $1) AND ($2 IS NULL OR j.pipeline_id = $2) AND ($3 IS NULL OR j.runner_id = $3)
         AND ($5 OR {status_filter}) AND ($6 IS NULL OR j.bridge = $6) AND ($7 OR j.retried = FALSE)"
    );
    macro_rules! binds {
        ($q:expr) => {
            $q.bind(f.project.map(|p| p.0))
                .bind(f.pipeline.map(pipeline_db))
                .bind(f.runner.map(|r| r.0))
                .bind(&statuses)
                .bind(f.statuses.is_empty())
                .bind(f.bridge)
                .bind(f.include_retried)
        };
    }
    let rows = binds!(sqlx::query(sqlf!(
        "SELECT {COLUMNS} FROM {FROM} WHERE {wher} ORDER BY j.id DESC LIMIT $8 OFFSET $9"
    )))
    .bind(page.limit)
    .bind(page.offset)
    .fetch_all(&mut *c)
    .await?;
    let total: i64 = binds!(sqlx::query_scalar(sqlf!("SELECT COUNT(*) FROM jobs j WHERE {wher}")))
        .fetch_one(&mut *c)
        .await?;
    Ok(Paged { items: rows.iter().map(job).collect::<Result<_>>()?, total })
}

pub(crate) async fn spec(c: &mut Conn, id: BuildId) -> Result<serde_json::Value> {
    let spec: String = sqlx::query_scalar(sqlf!("SELECT d.spec FROM {FROM} WHERE j.id = $1"))
        .bind(id.0)
        .fetch_optional(&mut *c)
        .await?
        .ok_or(Error::NotFound("job"))?;
    from_json(&spec)
}

pub(crate) async fn variables(c: &mut Conn, id: BuildId) -> Result<Vec<kiln_pipeline::JobVariable>> {
    let vars: String = sqlx::query_scalar("SELECT variables FROM jobs WHERE id = $1")
        .bind(id.0)
        .fetch_optional(&mut *c)
        .await?
        .ok_or(Error::NotFound("job"))?;
    from_json(&vars)
}

pub(crate) async fn spec_and_variables(
    c: &mut Conn,
    id: BuildId,
) -> Result<(serde_json::Value, Vec<kiln_pipeline::JobVariable>)> {
    let row = sqlx::query(sqlf!("SELECT d.spec, j.variables FROM {FROM} WHERE j.id = $1"))
        .bind(id.0)
        .fetch_optional(&mut *c)
        .await?
        .ok_or(Error::NotFound("job"))?;
    Ok((from_json(&row.try_get::<String, _>("spec")?)?, from_json(&row.try_get::<String, _>("variables")?)?))
}

pub(crate) async fn first_stage_index(c: &mut Conn, pipeline: PipelineId) -> Result<Option<u32>> {
    let first: Option<i64> = sqlx::query_scalar("SELECT MIN(stage_idx) FROM jobs WHERE pipeline_id = $1")
        .bind(pipeline_db(pipeline))
        .fetch_one(&mut *c)
        .await?;
    first.map(|i| to_u32(i, "stage index")).transpose()
}

pub(crate) async fn definition(c: &mut Conn, id: BuildId) -> Result<JobDefinition> {
    let def: String = sqlx::query_scalar(sqlf!("SELECT d.definition FROM {FROM} WHERE j.id = $1"))
        .bind(id.0)
        .fetch_optional(&mut *c)
        .await?
        .ok_or(Error::NotFound("job"))?;
    from_json(&def)
}

pub(crate) async fn by_token_digest(c: &mut Conn, digest: &str) -> Result<(JobRecord, String)> {
    let row = sqlx::query(sqlf!("SELECT {COLUMNS}, j.token_digest FROM {FROM} WHERE j.token_digest = $1"))
        .bind(digest)
        .fetch_optional(&mut *c)
        .await?
        .ok_or(Error::NotFound("job token"))?;
    Ok((job(&row)?, row.try_get("token_digest")?))
}

fn expect_one(done: u64) -> Result<()> {
    if done == 0 { Err(Error::NotFound("job")) } else { Ok(()) }
}

pub(crate) async fn set_user(c: &mut Conn, id: BuildId, user: Option<UserId>) -> Result<()> {
    let done = sqlx::query("UPDATE jobs SET user_id = $2 WHERE id = $1")
        .bind(id.0)
        .bind(user.map(|u| u.0))
        .execute(&mut *c)
        .await?;
    expect_one(done.rows_affected())
}

pub(crate) async fn set_downstream(c: &mut Conn, id: BuildId, downstream: PipelineId) -> Result<()> {
    let done = sqlx::query("UPDATE jobs SET downstream_pipeline_id = $2 WHERE id = $1")
        .bind(id.0)
        .bind(pipeline_db(downstream))
        .execute(&mut *c)
        .await?;
    expect_one(done.rows_affected())
}

pub(crate) async fn erase(c: &mut Conn, id: BuildId, now: Millis) -> Result<()> {
    let done = sqlx::query("UPDATE jobs SET erased_at = $2 WHERE id = $1")
        .bind(id.0)
        .bind(now.0)
        .execute(&mut *c)
        .await?;
    expect_one(done.rows_affected())?;
    sqlx::query("DELETE FROM artifacts WHERE job_id = $1").bind(id.0).execute(&mut *c).await?;
    sqlx::query("DELETE FROM trace_chunks WHERE job_id = $1").bind(id.0).execute(&mut *c).await?;
    sqlx::query("DELETE FROM traces WHERE job_id = $1").bind(id.0).execute(&mut *c).await?;
    Ok(())
}

fn job_ref(row: &DbRow) -> Result<JobRef> {
    Ok(JobRef {
        build: BuildId(row.try_get("id")?),
        pipeline: pipeline_id(row.try_get("pipeline_id")?),
        number: JobId(to_u32(row.try_get("number")?, "job number")?),
    })
}

pub(crate) async fn stale(
    c: &mut Conn,
    statuses: &[Status],
    before: Millis,
    limit: i64,
) -> Result<Vec<JobRef>> {
    let mut out = Vec::new();
    for status in statuses {
        let rows = sqlx::query(
            "SELECT id, pipeline_id, number FROM jobs WHERE status = $1 AND updated_at < $2 AND retried = FALSE
             ORDER BY updated_at LIMIT $3",
        )
        .bind(status.as_str())
        .bind(before.0)
        .bind(limit)
        .fetch_all(&mut *c)
        .await?;
        for row in &rows {
            out.push(job_ref(row)?);
        }
    }
    Ok(out)
}

pub(crate) async fn due_scheduled(c: &mut Conn, now: Millis, limit: i64) -> Result<Vec<JobRef>> {
    let rows = sqlx::query(
        "SELECT id, pipeline_id, number FROM jobs WHERE scheduled_at IS NOT NULL AND scheduled_at <= $1
             AND status = 'scheduled' ORDER BY scheduled_at LIMIT $2",
    )
    .bind(now.0)
    .bind(limit)
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(job_ref).collect()
}

fn mode_name(mode: ProcessMode) -> &'static str {
    match mode {
        ProcessMode::Unordered => "unordered",
        ProcessMode::OldestFirst => "oldest_first",
        ProcessMode::NewestFirst => "newest_first",
        ProcessMode::NewestReadyFirst => "newest_ready_first",
    }
}

fn mode_from(name: &str) -> Result<ProcessMode> {
    [
        ProcessMode::Unordered,
        ProcessMode::OldestFirst,
        ProcessMode::NewestFirst,
        ProcessMode::NewestReadyFirst,
    ]
    .into_iter()
    .find(|m| mode_name(*m) == name)
    .ok_or_else(|| Error::Invalid(format!("stored process mode `{name}`")))
}

pub(crate) async fn resource_group(c: &mut Conn, project: ProjectId, key: &str) -> Result<ResourceGroup> {
    sqlx::query("INSERT INTO resource_groups (project_id, key) VALUES ($1, $2) ON CONFLICT (project_id, key) DO NOTHING")
        .bind(project.0)
        .bind(key)
        .execute(&mut *c)
        .await?;
    let row = sqlx::query(
        "SELECT process_mode, holder_job_id FROM resource_groups WHERE project_id = $1 AND key = $2",
    )
    .bind(project.0)
    .bind(key)
    .fetch_one(&mut *c)
    .await?;
    Ok(ResourceGroup {
        project_id: project,
        key: key.to_owned(),
        process_mode: mode_from(&row.try_get::<String, _>("process_mode")?)?,
        holder: row.try_get::<Option<i64>, _>("holder_job_id")?.map(BuildId),
    })
}

pub(crate) async fn set_resource_group_mode(
    c: &mut Conn,
    project: ProjectId,
    key: &str,
    mode: ProcessMode,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO resource_groups (project_id, key, process_mode) VALUES ($1, $2, $3)
         ON CONFLICT (project_id, key) DO UPDATE SET process_mode = excluded.process_mode",
    )
    .bind(project.0)
    .bind(key)
    .bind(mode_name(mode))
    .execute(&mut *c)
    .await?;
    Ok(())
}

pub(crate) async fn resource_candidates(
    c: &mut Conn,
    project: ProjectId,
    key: &str,
) -> Result<Vec<Candidate>> {
    // The group is in the definition JSON; filter the project's alive jobs by it here.
    let rows = sqlx::query(sqlf!(
        "SELECT j.pipeline_id, j.number, j.status, d.definition FROM {FROM}
         WHERE j.project_id = $1 AND j.retried = FALSE
           AND j.status IN ('created', 'scheduled', 'waiting_for_resource')
         ORDER BY j.pipeline_id, j.number"
    ))
    .bind(project.0)
    .fetch_all(&mut *c)
    .await?;
    let mut out = Vec::new();
    for row in &rows {
        let def: JobDefinition = from_json(&row.try_get::<String, _>("definition")?)?;
        if def.resource_group.as_deref() == Some(key) {
            out.push(Candidate {
                pipeline: pipeline_id(row.try_get("pipeline_id")?),
                job: JobId(to_u32(row.try_get("number")?, "job number")?),
                status: decode::<Status>(&row.try_get::<String, _>("status")?)?,
            });
        }
    }
    Ok(out)
}

pub(crate) async fn grant_resource(
    c: &mut Conn,
    project: ProjectId,
    key: &str,
    job: BuildId,
) -> Result<bool> {
    resource_group(c, project, key).await?;
    let done = sqlx::query(
        "UPDATE resource_groups SET holder_job_id = $3 WHERE project_id = $1 AND key = $2 AND holder_job_id IS NULL",
    )
    .bind(project.0)
    .bind(key)
    .bind(job.0)
    .execute(&mut *c)
    .await?;
    Ok(done.rows_affected() == 1)
}
