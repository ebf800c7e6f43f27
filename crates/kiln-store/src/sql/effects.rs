//! Effects as compare-and-set SQL, and the outbox: queries (compiled per backend,
//! see `sql`).

use std::collections::HashMap;

use kiln_pipeline::{Effect, JobDefinition, JobId, JobTransition, NewJob, PipelineId, Status};
use sqlx::Row;

use super::pipelines::{ms, request_processing};
use super::{Conn, projects, queue};
use crate::codec::{Millis, from_json, to_json};
use crate::effects::{Applied, ApplyOptions, OutboxItem};
use crate::error::{Error, Result};
use crate::ids::{BuildId, OutboxId, ProjectId, pipeline_db, pipeline_id};

/// Per-call memo: the instance-runner setting of a project does not change inside
/// one transaction.
#[derive(Default)]
struct Memo {
    instance_runners: HashMap<i64, bool>,
}

pub(crate) async fn apply(c: &mut Conn, pipeline: PipelineId, effects: &[Effect], o: ApplyOptions) -> Result<Applied> {
    let pid = pipeline_db(pipeline);
    let mut applied = Applied::default();
    let mut memo = Memo::default();
    for effect in effects {
        match effect {
            Effect::SetJobStatus(t) => set_status(c, pid, t, o, &mut memo, &mut applied).await?,
            Effect::CreateJob { job, replaces } => create_job(c, pid, job, *replaces, o).await?,
            Effect::SetJobVariables { job, variables } => {
                let done = sqlx::query("UPDATE jobs SET variables = $3 WHERE pipeline_id = $1 AND number = $2")
                    .bind(pid)
                    .bind(i64::from(job.0))
                    .bind(to_json(variables)?)
                    .execute(&mut *c)
                    .await?;
                one(done.rows_affected(), || format!("job {} of pipeline {pid} is gone", job.0))?;
            }
            Effect::TouchJob { job, at } => {
                sqlx::query("UPDATE jobs SET updated_at = $3 WHERE pipeline_id = $1 AND number = $2")
                    .bind(pid)
                    .bind(i64::from(job.0))
                    .bind(precise(*at, o.now))
                    .execute(&mut *c)
                    .await?;
            }
            Effect::SetPipelineStatus { from, to } => {
                let done = sqlx::query(
                    "UPDATE pipelines SET status = $3, updated_at = $4,
                         started_at = CASE WHEN $3 = 'running' AND started_at IS NULL THEN $4 ELSE started_at END,
                         finished_at = CASE WHEN $5 THEN $4 ELSE NULL END
                     WHERE id = $1 AND status = $2",
                )
                .bind(pid)
                .bind(from.as_str())
                .bind(to.as_str())
                .bind(o.now.0)
                .bind(to.is_complete())
                .execute(&mut *c)
                .await?;
                one(done.rows_affected(), || format!("pipeline {pid} is no longer {from}"))?;
            }
            Effect::MarkAutoCanceled { by } => {
                sqlx::query("UPDATE pipelines SET auto_canceled_by = $2 WHERE id = $1")
                    .bind(pid)
                    .bind(pipeline_db(*by))
                    .execute(&mut *c)
                    .await?;
            }
            Effect::HoldResource { group, job } => {
                let (build, project) = build_of(c, pid, *job).await?;
                sqlx::query("UPDATE jobs SET holds_resource = TRUE WHERE id = $1").bind(build).execute(&mut *c).await?;
                let done = sqlx::query(
                    "UPDATE resource_groups SET holder_job_id = $3
                     WHERE project_id = $1 AND key = $2 AND (holder_job_id IS NULL OR holder_job_id = $3)",
                )
                .bind(project)
                .bind(group)
                .bind(build)
                .execute(&mut *c)
                .await?;
                one(done.rows_affected(), || format!("resource group `{group}` is held by another job"))?;
            }
            Effect::ReleaseResource { group, job } => {
                let (build, project) = build_of(c, pid, *job).await?;
                sqlx::query("UPDATE jobs SET holds_resource = FALSE WHERE id = $1").bind(build).execute(&mut *c).await?;
                sqlx::query(
                    "UPDATE resource_groups SET holder_job_id = NULL
                     WHERE project_id = $1 AND key = $2 AND holder_job_id = $3",
                )
                .bind(project)
                .bind(group)
                .bind(build)
                .execute(&mut *c)
                .await?;
                applied.outbox.push(outbox_insert(c, pid, effect, o.now).await?);
            }
            Effect::TriggerDownstream { .. } | Effect::CancelChildPipelines { .. } | Effect::RequestResource { .. } => {
                applied.outbox.push(outbox_insert(c, pid, effect, o.now).await?);
            }
        }
    }
    sqlx::query("UPDATE pipelines SET updated_at = $2 WHERE id = $1").bind(pid).bind(o.now.0).execute(&mut *c).await?;
    // The effects were computed from a state read before this transaction, and
    // compare-and-set guards only the rows they change: two jobs that finish at
    // once each see the other still running, and neither moves the pipeline on.
    // A job that ends asks, in the same transaction, for the pipeline to be
    // processed again; that pass starts after this commit and sees both.
    if effects.iter().any(|e| matches!(e, Effect::SetJobStatus(t) if t.to.is_complete())) {
        request_processing(c, pipeline, o.now).await?;
    }
    Ok(applied)
}

fn one(rows: u64, lost: impl FnOnce() -> String) -> Result<()> {
    if rows == 1 { Ok(()) } else { Err(Error::Conflict(lost())) }
}

async fn build_of(c: &mut Conn, pid: i64, job: JobId) -> Result<(i64, i64)> {
    let row = sqlx::query("SELECT id, project_id FROM jobs WHERE pipeline_id = $1 AND number = $2")
        .bind(pid)
        .bind(i64::from(job.0))
        .fetch_optional(&mut *c)
        .await?
        .ok_or_else(|| Error::Conflict(format!("job {} of pipeline {pid} is gone", job.0)))?;
    Ok((row.try_get("id")?, row.try_get("project_id")?))
}

/// The time of a change in milliseconds. The state machine counts whole seconds;
/// a change it dates in the second of `now` happened at `now`, so job rows keep
/// the precision that the runner's claim (in milliseconds) has, and a job never
/// finishes before it started.
fn precise(at: kiln_pipeline::Timestamp, now: Millis) -> i64 {
    if ms(at) == now.0 - now.0.rem_euclid(1000) { now.0 } else { ms(at) }
}

async fn set_status(
    c: &mut Conn,
    pid: i64,
    t: &JobTransition,
    o: ApplyOptions,
    memo: &mut Memo,
    applied: &mut Applied,
) -> Result<()> {
    let failed = t.to == Status::Failed;
    let reason = failed.then(|| t.failure_reason.unwrap_or(kiln_pipeline::FailureReason::UnknownFailure).as_str());
    let row = sqlx::query(
        "UPDATE jobs SET status = $3, updated_at = $4,
             queued_at = CASE WHEN $3 = 'pending' THEN $4 ELSE queued_at END,
             started_at = CASE WHEN $3 = 'running' THEN $4 ELSE started_at END,
             finished_at = CASE WHEN $3 IN ('success', 'failed', 'canceled') THEN $4 ELSE finished_at END,
             scheduled_at = CASE WHEN $3 = 'scheduled' THEN $5 WHEN $2 = 'scheduled' THEN NULL ELSE scheduled_at END,
             failure_reason = CASE WHEN $6 THEN $7 ELSE failure_reason END,
             exit_code = CASE WHEN $6 THEN $8 ELSE exit_code END,
             allow_failure = (allow_failure OR $9),
             graceful_cancel = COALESCE($10, graceful_cancel)
         WHERE pipeline_id = $1 AND number = $11 AND status = $2
         RETURNING id, project_id, bridge, instance_runner",
    )
    .bind(pid)
    .bind(t.from.as_str())
    .bind(t.to.as_str())
    .bind(precise(t.at, o.now))
    .bind(t.scheduled_at.map(ms))
    .bind(failed)
    .bind(reason)
    .bind(if failed { t.exit_code } else { None })
    .bind(failed && t.force_allow_failure)
    .bind(t.graceful_cancel)
    .bind(i64::from(t.job.0))
    .fetch_optional(&mut *c)
    .await?
    .ok_or_else(|| Error::Conflict(format!("job {} of pipeline {pid} is no longer {}", t.job.0, t.from)))?;
    let build: i64 = row.try_get("id")?;
    let project: i64 = row.try_get("project_id")?;
    let bridge: bool = row.try_get("bridge")?;
    if t.to == Status::Pending && !bridge {
        let enabled = match memo.instance_runners.get(&project) {
            Some(v) => *v,
            None => {
                let v = projects::instance_runners_enabled(c, ProjectId(project)).await?;
                memo.instance_runners.insert(project, v);
                v
            }
        };
        queue::enqueue(c, build, enabled, ms(t.at)).await?;
        applied.enqueued.push(BuildId(build));
    }
    if t.from == Status::Pending {
        queue::dequeue(c, build).await?;
    }
    if t.from.is_executing() && !t.to.is_executing() && row.try_get::<bool, _>("instance_runner")? {
        queue::instance_job_done(c, build).await?;
    }
    Ok(())
}

async fn create_job(c: &mut Conn, pid: i64, new: &NewJob, replaces: Option<JobId>, o: ApplyOptions) -> Result<()> {
    let mut user: Option<i64> = None;
    if let Some(old) = replaces {
        let row = sqlx::query(
            "UPDATE jobs SET retried = TRUE WHERE pipeline_id = $1 AND number = $2 AND retried = FALSE RETURNING user_id",
        )
        .bind(pid)
        .bind(i64::from(old.0))
        .fetch_optional(&mut *c)
        .await?
        .ok_or_else(|| Error::Conflict(format!("job {} of pipeline {pid} was already retried", old.0)))?;
        user = row.try_get("user_id")?;
    }
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE pipeline_id = $1").bind(pid).fetch_one(&mut *c).await?;
    if count != i64::from(new.id.0) {
        return Err(Error::Conflict(format!("job number {} of pipeline {pid} is taken", new.id.0)));
    }
    let row = sqlx::query("SELECT d.definition, d.stage, p.project_id, p.user_id FROM job_definitions d
         JOIN pipelines p ON p.id = d.pipeline_id WHERE d.pipeline_id = $1 AND d.idx = $2")
    .bind(pid)
    .bind(i64::from(new.definition.0))
    .fetch_optional(&mut *c)
    .await?
    .ok_or_else(|| Error::Invalid(format!("new job refers to definition {}, which does not exist", new.definition.0)))?;
    let def: JobDefinition = from_json(&row.try_get::<String, _>("definition")?)?;
    let user = o.actor.map(|u| u.0).or(user).or(row.try_get("user_id")?);
    sqlx::query(
        "INSERT INTO jobs (pipeline_id, number, definition_idx, project_id, name, stage, stage_idx, bridge, status,
             allow_failure, enqueue_immediately, variables, user_id, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'created', $9, $10, $11, $12, $13, $13)",
    )
    .bind(pid)
    .bind(i64::from(new.id.0))
    .bind(i64::from(new.definition.0))
    .bind(row.try_get::<i64, _>("project_id")?)
    .bind(&def.name)
    .bind(row.try_get::<String, _>("stage")?)
    .bind(i64::from(def.stage_index))
    .bind(def.is_bridge())
    .bind(new.allow_failure)
    .bind(new.enqueue_immediately)
    .bind(to_json(&new.variables)?)
    .bind(user)
    .bind(ms(new.at))
    .execute(&mut *c)
    .await?;
    Ok(())
}

async fn outbox_insert(c: &mut Conn, pid: i64, effect: &Effect, now: Millis) -> Result<OutboxId> {
    let id: i64 = sqlx::query_scalar("INSERT INTO pipeline_outbox (pipeline_id, effect, created_at) VALUES ($1, $2, $3) RETURNING id")
        .bind(pid)
        .bind(to_json(effect)?)
        .bind(now.0)
        .fetch_one(&mut *c)
        .await?;
    Ok(OutboxId(id))
}

pub(crate) async fn outbox(c: &mut Conn, limit: i64) -> Result<Vec<OutboxItem>> {
    let rows = sqlx::query("SELECT id, pipeline_id, effect, created_at FROM pipeline_outbox ORDER BY id LIMIT $1")
        .bind(limit)
        .fetch_all(&mut *c)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(OutboxItem {
                id: OutboxId(r.try_get("id")?),
                pipeline: pipeline_id(r.try_get("pipeline_id")?),
                effect: from_json(&r.try_get::<String, _>("effect")?)?,
                created_at: Millis(r.try_get("created_at")?),
            })
        })
        .collect()
}

pub(crate) async fn outbox_done(c: &mut Conn, id: OutboxId) -> Result<()> {
    sqlx::query("DELETE FROM pipeline_outbox WHERE id = $1").bind(id.0).execute(&mut *c).await?;
    Ok(())
}
