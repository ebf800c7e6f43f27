//! The pending-job queue and the claim: queries (compiled per backend, see `sql`).

use kiln_pipeline::Status;
use sqlx::Row;

use super::{Conn, PG, jobs, pipelines};
use crate::codec::{Millis, to_json};
use crate::error::Result;
use crate::ids::{ProjectId, pipeline_id};
use crate::queue::{Claimed, RunnerMatch, RunnerScope};
use crate::sql::sqlf;
use crate::token::{self, TokenKind};

/// Puts a job that just became pending into the queue, with what matching needs.
pub(crate) async fn enqueue(c: &mut Conn, build: i64, instance_runners: bool, now: i64) -> Result<()> {
    let row = sqlx::query(
        "SELECT j.project_id, n.traversal, p.protected, d.tags FROM jobs j
         JOIN pipelines p ON p.id = j.pipeline_id
         JOIN projects pr ON pr.id = j.project_id
         JOIN namespaces n ON n.id = pr.namespace_id
         JOIN job_definitions d ON d.pipeline_id = j.pipeline_id AND d.idx = j.definition_idx
         WHERE j.id = $1",
    )
    .bind(build)
    .fetch_one(&mut *c)
    .await?;
    let mut tags: Vec<String> = crate::codec::from_json(&row.try_get::<String, _>("tags")?)?;
    tags.sort();
    tags.dedup();
    sqlx::query(
        "INSERT INTO pending_jobs (job_id, project_id, traversal, protected, tags, tag_count, instance_runners_enabled,
             created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (job_id) DO NOTHING",
    )
    .bind(build)
    .bind(row.try_get::<i64, _>("project_id")?)
    .bind(row.try_get::<String, _>("traversal")?)
    .bind(row.try_get::<bool, _>("protected")?)
    .bind(to_json(&tags)?)
    .bind(crate::codec::to_i64(tags.len()))
    .bind(instance_runners)
    .bind(now)
    .execute(&mut *c)
    .await?;
    Ok(())
}

pub(crate) async fn dequeue(c: &mut Conn, build: i64) -> Result<()> {
    sqlx::query("DELETE FROM pending_jobs WHERE job_id = $1").bind(build).execute(&mut *c).await?;
    Ok(())
}

pub(crate) async fn instance_job_done(c: &mut Conn, project: i64) -> Result<()> {
    sqlx::query("UPDATE instance_running SET running = running - 1 WHERE project_id = $1 AND running > 0")
        .bind(project)
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// The `WHERE` and `ORDER BY` of a runner's candidate query. Parameters: `$1` the
/// runner id, `$2` the group traversal path, `$3` the runner's tags (JSON array).
fn candidates(runner: &RunnerMatch) -> (String, &'static str, &'static str) {
    let mut wher = String::from("TRUE");
    let (join, order) = match &runner.scope {
        RunnerScope::Instance => {
            wher.push_str(" AND q.instance_runners_enabled = TRUE");
            (
                "LEFT JOIN instance_running r ON r.project_id = q.project_id",
                "COALESCE(r.running, 0), q.job_id",
            )
        }
        RunnerScope::Group { .. } => {
            wher.push_str(" AND substr(q.traversal, 1, length($2)) = $2");
            ("", "q.job_id")
        }
        RunnerScope::Project => {
            wher.push_str(" AND q.project_id IN (SELECT project_id FROM runner_projects WHERE runner_id = $1)");
            ("", "q.job_id")
        }
    };
    if runner.protected_only {
        wher.push_str(" AND q.protected = TRUE");
    }
    let subset = if PG {
        "q.tags::jsonb <@ $3::jsonb"
    } else {
        "NOT EXISTS (SELECT 1 FROM json_each(q.tags) t WHERE t.value NOT IN (SELECT value FROM json_each($3)))"
    };
    match (runner.tags.is_empty(), runner.run_untagged) {
        (true, true) => wher.push_str(" AND q.tag_count = 0"),
        // Takes nothing at all; kept as a query so the shape stays uniform.
        (true, false) => wher.push_str(" AND FALSE"),
        (false, true) => wher.push_str(&format!(" AND (q.tag_count = 0 OR {subset})")),
        (false, false) => wher.push_str(&format!(" AND q.tag_count > 0 AND {subset}")),
    }
    // `$1`..`$3` must appear in every shape for PostgreSQL to type them.
    wher.push_str(" AND $1 = $1 AND $2 = $2 AND $3 = $3");
    (wher, join, order)
}

fn group_traversal(runner: &RunnerMatch) -> &str {
    match &runner.scope {
        RunnerScope::Group { traversal } => traversal,
        _ => "",
    }
}

/// Assigns the next matching job to the runner; see `crate::queue` for why this is
/// exactly-once on each backend.
pub(crate) async fn claim(c: &mut Conn, runner: &RunnerMatch, graceful_cancel: bool, now: Millis) -> Result<Option<Claimed>> {
    let (wher, join, order) = candidates(runner);
    let lock = if PG { "FOR UPDATE OF q SKIP LOCKED" } else { "" };
    let tags = to_json(&runner.tags)?;
    let instance = runner.scope == RunnerScope::Instance;
    // A queue row whose job is no longer pending is stale (cannot happen through
    // this crate, which keeps both in one transaction); skip a few, then give up.
    for _ in 0..8 {
        let row = sqlx::query(sqlf!(
            "SELECT q.job_id, q.project_id FROM pending_jobs q {join} WHERE {wher} ORDER BY {order} LIMIT 1 {lock}"
        ))
        .bind(runner.runner.0)
        .bind(group_traversal(runner))
        .bind(&tags)
        .fetch_optional(&mut *c)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let build: i64 = row.try_get("job_id")?;
        let project: i64 = row.try_get("project_id")?;
        dequeue(c, build).await?;
        let token = token::generate(TokenKind::Job)?;
        let pipeline: Option<i64> = sqlx::query_scalar(
            "UPDATE jobs SET status = 'running', runner_id = $2, runner_manager_id = $3, instance_runner = $4,
                 token_digest = $5, started_at = $6, updated_at = $6, graceful_cancel = $7
             WHERE id = $1 AND status = $8 AND runner_id IS NULL RETURNING pipeline_id",
        )
        .bind(build)
        .bind(runner.runner.0)
        .bind(runner.manager.0)
        .bind(instance)
        .bind(&token.digest)
        .bind(now.0)
        .bind(graceful_cancel)
        .bind(Status::Pending.as_str())
        .fetch_optional(&mut *c)
        .await?;
        let Some(pipeline) = pipeline else { continue };
        if instance {
            sqlx::query(
                "INSERT INTO instance_running (project_id, running) VALUES ($1, 1)
                 ON CONFLICT (project_id) DO UPDATE SET running = instance_running.running + 1",
            )
            .bind(project)
            .execute(&mut *c)
            .await?;
        }
        pipelines::request_processing(c, pipeline_id(pipeline), now).await?;
        let job = jobs::by_id(c, crate::ids::BuildId(build)).await?;
        return Ok(Some(Claimed { job, token: token.token }));
    }
    Ok(None)
}

pub(crate) async fn count(c: &mut Conn) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM pending_jobs").fetch_one(&mut *c).await?)
}

pub(crate) async fn has_match(c: &mut Conn, runner: &RunnerMatch) -> Result<bool> {
    let (wher, join, _) = candidates(runner);
    let found: Option<i64> = sqlx::query_scalar(sqlf!("SELECT q.job_id FROM pending_jobs q {join} WHERE {wher} LIMIT 1"))
        .bind(runner.runner.0)
        .bind(group_traversal(runner))
        .bind(to_json(&runner.tags)?)
        .fetch_optional(&mut *c)
        .await?;
    Ok(found.is_some())
}

pub(crate) async fn instance_running(c: &mut Conn) -> Result<Vec<(ProjectId, i64)>> {
    let rows = sqlx::query("SELECT project_id, running FROM instance_running WHERE running > 0 ORDER BY project_id")
        .fetch_all(&mut *c)
        .await?;
    rows.iter().map(|r| Ok((ProjectId(r.try_get("project_id")?), r.try_get("running")?))).collect()
}

/// Whether this queued job matches the runner.
pub(crate) async fn matches_job(c: &mut Conn, runner: &RunnerMatch, build: i64) -> Result<bool> {
    let (wher, join, _) = candidates(runner);
    let found: Option<i64> =
        sqlx::query_scalar(sqlf!("SELECT q.job_id FROM pending_jobs q {join} WHERE {wher} AND q.job_id = $4"))
            .bind(runner.runner.0)
            .bind(group_traversal(runner))
            .bind(to_json(&runner.tags)?)
            .bind(build)
            .fetch_optional(&mut *c)
            .await?;
    Ok(found.is_some())
}
