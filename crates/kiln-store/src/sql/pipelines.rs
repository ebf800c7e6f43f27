//! Pipelines, their persisted state and processing requests: queries (compiled per
//! backend, see `sql`).

use kiln_pipeline::{DefinitionId, Job, JobDefinition, JobId, JobVariable, PipelineId, PipelineState, Status, Timestamp};
use sqlx::{QueryBuilder, Row};

use super::{Conn, DbRow};
use crate::codec::{Millis, Page, Paged, decode, decode_opt, from_json, opt_millis, to_json, to_u32};
use crate::error::{Error, Result};
use crate::ids::{BuildId, ProjectId, ScheduleId, TriggerId, UserId, pipeline_db, pipeline_id};
use crate::pipelines::{NewPipeline, Pipeline, PipelineFailureReason, PipelineFilter, PipelineSource};
use crate::sql::sqlf;

const COLUMNS: &str = "id, project_id, iid, sha, before_sha, ref, tag, protected, source, status, user_id, \
    schedule_id, trigger_id, parent_pipeline_id, parent_job_id, settings, variables, yaml_errors, failure_reason, \
    auto_canceled_by, created_at, updated_at, started_at, finished_at";

fn pipeline(row: &DbRow) -> Result<Pipeline> {
    Ok(Pipeline {
        id: pipeline_id(row.try_get("id")?),
        project_id: ProjectId(row.try_get("project_id")?),
        iid: row.try_get("iid")?,
        sha: row.try_get("sha")?,
        before_sha: row.try_get("before_sha")?,
        ref_name: row.try_get("ref")?,
        tag: row.try_get("tag")?,
        protected: row.try_get("protected")?,
        source: decode::<PipelineSource>(&row.try_get::<String, _>("source")?)?,
        status: decode::<Status>(&row.try_get::<String, _>("status")?)?,
        user_id: row.try_get::<Option<i64>, _>("user_id")?.map(UserId),
        schedule_id: row.try_get::<Option<i64>, _>("schedule_id")?.map(ScheduleId),
        trigger_id: row.try_get::<Option<i64>, _>("trigger_id")?.map(TriggerId),
        parent_pipeline_id: row.try_get::<Option<i64>, _>("parent_pipeline_id")?.map(pipeline_id),
        parent_job_id: row.try_get::<Option<i64>, _>("parent_job_id")?.map(BuildId),
        settings: from_json(&row.try_get::<String, _>("settings")?)?,
        variables: from_json(&row.try_get::<String, _>("variables")?)?,
        yaml_errors: row.try_get("yaml_errors")?,
        failure_reason: decode_opt::<PipelineFailureReason>(row.try_get("failure_reason")?)?,
        auto_canceled_by: row.try_get::<Option<i64>, _>("auto_canceled_by")?.map(pipeline_id),
        created_at: Millis(row.try_get("created_at")?),
        updated_at: Millis(row.try_get("updated_at")?),
        started_at: opt_millis(row.try_get("started_at")?),
        finished_at: opt_millis(row.try_get("finished_at")?),
    })
}

pub(crate) async fn create(c: &mut Conn, new: &NewPipeline, now: Millis) -> Result<Pipeline> {
    // The row lock on the project serialises iid allocation per project.
    let iid: i64 = sqlx::query_scalar("UPDATE projects SET pipeline_iid = pipeline_iid + 1 WHERE id = $1 RETURNING pipeline_iid")
        .bind(new.project.0)
        .fetch_optional(&mut *c)
        .await?
        .ok_or(Error::NotFound("project"))?;
    let finished = new.status.is_complete().then_some(now.0);
    let row = sqlx::query(sqlf!(
        "INSERT INTO pipelines (project_id, iid, sha, before_sha, ref, tag, protected, source, status, user_id,
             schedule_id, trigger_id, parent_pipeline_id, parent_job_id, settings, variables, yaml_errors,
             failure_reason, created_at, updated_at, finished_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $19, $20)
         RETURNING {COLUMNS}"
    ))
    .bind(new.project.0)
    .bind(iid)
    .bind(&new.sha)
    .bind(&new.before_sha)
    .bind(&new.ref_name)
    .bind(new.tag)
    .bind(new.protected)
    .bind(new.source.as_str())
    .bind(new.status.as_str())
    .bind(new.user.map(|u| u.0))
    .bind(new.schedule.map(|s| s.0))
    .bind(new.trigger.map(|t| t.0))
    .bind(new.parent_pipeline.map(pipeline_db))
    .bind(new.parent_job.map(|j| j.0))
    .bind(to_json(&new.settings)?)
    .bind(to_json(&new.variables)?)
    .bind(&new.yaml_errors)
    .bind(new.failure_reason.map(|r| r.as_str()))
    .bind(now.0)
    .bind(finished)
    .fetch_one(&mut *c)
    .await?;
    let created = pipeline(&row)?;
    let id = pipeline_db(created.id);
    if !new.jobs.is_empty() {
        // Multi-row inserts: one round trip per table, not one per job.
        let mut defs = QueryBuilder::new("INSERT INTO job_definitions (pipeline_id, idx, definition, spec, stage, tags) ");
        let mut encoded = Vec::with_capacity(new.jobs.len());
        for (i, job) in new.jobs.iter().enumerate() {
            encoded.push((
                i64::try_from(i).map_err(|_| Error::Invalid("pipeline plan: too many jobs".into()))?,
                to_json(&job.definition)?,
                to_json(&job.spec)?,
                to_json(&job.tags)?,
            ));
        }
        defs.push_values(new.jobs.iter().zip(&encoded), |mut b, (job, (i, def, spec, tags))| {
            b.push_bind(id).push_bind(*i).push_bind(def).push_bind(spec).push_bind(&job.stage).push_bind(tags);
        });
        defs.build().execute(&mut *c).await?;
        let mut jobs = QueryBuilder::new(
            "INSERT INTO jobs (pipeline_id, number, definition_idx, project_id, name, stage, stage_idx, bridge, status,
                 allow_failure, user_id, created_at, updated_at) ",
        );
        jobs.push_values(new.jobs.iter().zip(&encoded), |mut b, (job, (i, ..))| {
            b.push_bind(id)
                .push_bind(*i)
                .push_bind(*i)
                .push_bind(new.project.0)
                .push_bind(&job.definition.name)
                .push_bind(&job.stage)
                .push_bind(i64::from(job.definition.stage_index))
                .push_bind(job.definition.is_bridge())
                .push_bind(Status::Created.as_str())
                .push_bind(job.definition.allow_failure)
                .push_bind(new.user.map(|u| u.0))
                .push_bind(now.0)
                .push_bind(now.0);
        });
        jobs.build().execute(&mut *c).await?;
    }
    if !new.status.is_complete() {
        request_processing(c, created.id, now).await?;
    }
    Ok(created)
}

pub(crate) async fn by_id(c: &mut Conn, id: PipelineId) -> Result<Pipeline> {
    let row = sqlx::query(sqlf!("SELECT {COLUMNS} FROM pipelines WHERE id = $1"))
        .bind(pipeline_db(id))
        .fetch_optional(&mut *c)
        .await?
        .ok_or(Error::NotFound("pipeline"))?;
    pipeline(&row)
}

pub(crate) async fn by_iid(c: &mut Conn, project: ProjectId, iid: i64) -> Result<Pipeline> {
    let row = sqlx::query(sqlf!("SELECT {COLUMNS} FROM pipelines WHERE project_id = $1 AND iid = $2"))
        .bind(project.0)
        .bind(iid)
        .fetch_optional(&mut *c)
        .await?
        .ok_or(Error::NotFound("pipeline"))?;
    pipeline(&row)
}

pub(crate) async fn list(c: &mut Conn, f: &PipelineFilter, page: Page) -> Result<Paged<Pipeline>> {
    let wher = "($1 IS NULL OR project_id = $1) AND ($2 IS NULL OR ref = $2) AND ($3 IS NULL OR sha = $3)
        AND ($4 IS NULL OR status = $4) AND ($5 IS NULL OR source = $5) AND ($6 IS NULL OR user_id = $6)
        AND ($7 IS NULL OR parent_pipeline_id = $7)";
    macro_rules! binds {
        ($q:expr) => {
            $q.bind(f.project.map(|p| p.0))
                .bind(&f.ref_name)
                .bind(&f.sha)
                .bind(f.status.map(|s| s.as_str()))
                .bind(f.source.map(|s| s.as_str()))
                .bind(f.user.map(|u| u.0))
                .bind(f.parent_pipeline.map(pipeline_db))
        };
    }
    let rows = binds!(sqlx::query(sqlf!(
        "SELECT {COLUMNS} FROM pipelines WHERE {wher} ORDER BY id DESC LIMIT $8 OFFSET $9"
    )))
    .bind(page.limit)
    .bind(page.offset)
    .fetch_all(&mut *c)
    .await?;
    let total: i64 =
        binds!(sqlx::query_scalar(sqlf!("SELECT COUNT(*) FROM pipelines WHERE {wher}"))).fetch_one(&mut *c).await?;
    Ok(Paged { items: rows.iter().map(pipeline).collect::<Result<_>>()?, total })
}

pub(crate) async fn delete(c: &mut Conn, id: PipelineId) -> Result<Vec<String>> {
    let pid = pipeline_db(id);
    let mut keys: Vec<String> = sqlx::query_scalar(
        "SELECT a.blob_key FROM artifacts a JOIN jobs j ON j.id = a.job_id WHERE j.pipeline_id = $1",
    )
    .bind(pid)
    .fetch_all(&mut *c)
    .await?;
    let archived: Vec<i64> = sqlx::query_scalar(
        "SELECT t.job_id FROM traces t JOIN jobs j ON j.id = t.job_id WHERE j.pipeline_id = $1 AND t.archived = TRUE",
    )
    .bind(pid)
    .fetch_all(&mut *c)
    .await?;
    keys.extend(archived.into_iter().map(|j| crate::traces::blob_key(BuildId(j))));
    let done = sqlx::query("DELETE FROM pipelines WHERE id = $1").bind(pid).execute(&mut *c).await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound("pipeline"));
    }
    Ok(keys)
}

fn job_record(row: &DbRow) -> Result<Job> {
    let ts = |v: Option<i64>| v.map(|ms| Millis(ms).to_timestamp());
    let variables: Vec<JobVariable> = from_json(&row.try_get::<String, _>("variables")?)?;
    Ok(Job {
        id: JobId(to_u32(row.try_get("number")?, "job number")?),
        definition: DefinitionId(to_u32(row.try_get("definition_idx")?, "definition index")?),
        status: decode::<Status>(&row.try_get::<String, _>("status")?)?,
        retried: row.try_get("retried")?,
        allow_failure: row.try_get("allow_failure")?,
        failure_reason: decode_opt(row.try_get("failure_reason")?)?,
        exit_code: row.try_get("exit_code")?,
        enqueue_immediately: row.try_get("enqueue_immediately")?,
        variables,
        holds_resource: row.try_get("holds_resource")?,
        graceful_cancel: row.try_get("graceful_cancel")?,
        created_at: Millis(row.try_get("created_at")?).to_timestamp(),
        updated_at: Millis(row.try_get("updated_at")?).to_timestamp(),
        queued_at: ts(row.try_get("queued_at")?),
        started_at: ts(row.try_get("started_at")?),
        finished_at: ts(row.try_get("finished_at")?),
        scheduled_at: ts(row.try_get("scheduled_at")?),
    })
}

pub(crate) const STATE_JOB_COLUMNS: &str = "number, definition_idx, status, retried, allow_failure, failure_reason, \
    exit_code, enqueue_immediately, variables, holds_resource, graceful_cancel, created_at, updated_at, queued_at, \
    started_at, finished_at, scheduled_at";

pub(crate) async fn state(c: &mut Conn, id: PipelineId) -> Result<PipelineState> {
    let pid = pipeline_db(id);
    let row = sqlx::query("SELECT status, settings FROM pipelines WHERE id = $1")
        .bind(pid)
        .fetch_optional(&mut *c)
        .await?
        .ok_or(Error::NotFound("pipeline"))?;
    let status = decode::<Status>(&row.try_get::<String, _>("status")?)?;
    let settings = from_json(&row.try_get::<String, _>("settings")?)?;
    let defs: Vec<String> = sqlx::query_scalar("SELECT definition FROM job_definitions WHERE pipeline_id = $1 ORDER BY idx")
        .bind(pid)
        .fetch_all(&mut *c)
        .await?;
    let definitions = defs.iter().map(|d| from_json::<JobDefinition>(d)).collect::<Result<Vec<_>>>()?;
    let rows = sqlx::query(sqlf!("SELECT {STATE_JOB_COLUMNS} FROM jobs WHERE pipeline_id = $1 ORDER BY number"))
        .bind(pid)
        .fetch_all(&mut *c)
        .await?;
    let jobs = rows.iter().map(job_record).collect::<Result<Vec<_>>>()?;
    let state = PipelineState { id, status, settings, definitions, jobs };
    state.validate().map_err(|e| Error::Invalid(format!("stored pipeline {}: {e}", id.0)))?;
    Ok(state)
}

pub(crate) async fn request_processing(c: &mut Conn, id: PipelineId, now: Millis) -> Result<()> {
    // Requests only grow per pipeline (at least one past the newest one), so a
    // request made while a processor works is never cleared by `processing_done`.
    sqlx::query(
        "INSERT INTO pipeline_processing (pipeline_id, requested_at)
         SELECT $1, CASE WHEN COALESCE(MAX(requested_at), 0) >= $2 THEN MAX(requested_at) + 1 ELSE $2 END
         FROM pipeline_processing WHERE pipeline_id = $1",
    )
    .bind(pipeline_db(id))
    .bind(now.0)
    .execute(&mut *c)
    .await?;
    Ok(())
}

pub(crate) async fn to_process(c: &mut Conn, limit: i64) -> Result<Vec<(PipelineId, Millis)>> {
    let rows = sqlx::query(
        "SELECT pipeline_id, MAX(requested_at) AS newest FROM pipeline_processing GROUP BY pipeline_id
         ORDER BY MIN(requested_at) LIMIT $1",
    )
    .bind(limit)
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(|r| Ok((pipeline_id(r.try_get("pipeline_id")?), Millis(r.try_get("newest")?)))).collect()
}

pub(crate) async fn processing_done(c: &mut Conn, id: PipelineId, requested_at: Millis) -> Result<bool> {
    let pid = pipeline_db(id);
    sqlx::query("DELETE FROM pipeline_processing WHERE pipeline_id = $1 AND requested_at <= $2")
        .bind(pid)
        .bind(requested_at.0)
        .execute(&mut *c)
        .await?;
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pipeline_processing WHERE pipeline_id = $1")
        .bind(pid)
        .fetch_one(&mut *c)
        .await?;
    Ok(left == 0)
}

/// A `kiln_pipeline` time as stored milliseconds.
pub(crate) fn ms(t: Timestamp) -> i64 {
    Millis::from_timestamp(t).0
}
