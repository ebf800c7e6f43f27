//! The pending-job queue and the claim: queries (compiled per backend, see `sql`).

use kiln_pipeline::Status;
use sqlx::Row;

use super::{Conn, PG, jobs, pipelines};
use crate::codec::{Millis, to_json};
use crate::error::Result;
use crate::ids::{ProjectId, pipeline_id};
use crate::queue::{Claimed, FairCache, FairProject, RunnerMatch, RunnerScope};
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

/// A job stopped executing: it no longer counts for its project's fair share.
pub(crate) async fn instance_job_done(c: &mut Conn, build: i64) -> Result<()> {
    sqlx::query("DELETE FROM running_instance_jobs WHERE job_id = $1").bind(build).execute(&mut *c).await?;
    Ok(())
}

/// The `WHERE` clause of a runner's candidates in `pending_jobs q`. Parameters: `$1`
/// the runner id, `$2` the group traversal path, `$3` the runner's tags (JSON).
fn candidates(runner: &RunnerMatch) -> String {
    let mut wher = String::from("TRUE");
    match &runner.scope {
        RunnerScope::Instance => wher.push_str(" AND q.instance_runners_enabled = TRUE"),
        RunnerScope::Group { .. } => wher.push_str(" AND substr(q.traversal, 1, length($2)) = $2"),
        RunnerScope::Project => {
            wher.push_str(" AND q.project_id IN (SELECT project_id FROM runner_projects WHERE runner_id = $1)")
        }
    }
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
    // `$1`..`$3` appear in every shape, so PostgreSQL can type them all.
    wher.push_str(" AND $1 = $1 AND $2 = $2 AND $3 = $3");
    wher
}

fn group_traversal(runner: &RunnerMatch) -> &str {
    match &runner.scope {
        RunnerScope::Group { traversal } => traversal,
        _ => "",
    }
}

/// Projects with jobs for instance runners, with their running count and oldest job.
async fn fair_snapshot(c: &mut Conn) -> Result<Vec<FairProject>> {
    let rows = sqlx::query(
        "SELECT q.project_id, MIN(q.job_id) AS oldest,
             (SELECT COUNT(*) FROM running_instance_jobs r WHERE r.project_id = q.project_id) AS running
         FROM pending_jobs q WHERE q.instance_runners_enabled = TRUE GROUP BY q.project_id",
    )
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(FairProject {
                project: r.try_get("project_id")?,
                running: r.try_get("running")?,
                oldest: r.try_get("oldest")?,
                exhausted: false,
            })
        })
        .collect()
}

/// The next candidate row for the runner: `(job_id, project_id)`, locked on
/// PostgreSQL.
async fn pick(c: &mut Conn, runner: &RunnerMatch, fair: &FairCache, version: u64) -> Result<Option<(i64, i64)>> {
    let wher = candidates(runner);
    let lock = if PG { "FOR UPDATE OF q SKIP LOCKED" } else { "" };
    let tags = to_json(&runner.tags)?;
    if runner.scope == RunnerScope::Instance {
        let order = match fair.order(version) {
            Some(order) => order,
            None => {
                fair.replace(version, fair_snapshot(c).await?);
                fair.order(version).unwrap_or_default()
            }
        };
        for project in order {
            let row = sqlx::query(sqlf!(
                "SELECT q.job_id, q.project_id FROM pending_jobs q WHERE q.project_id = $4 AND {wher}
                 ORDER BY q.job_id LIMIT 1 {lock}"
            ))
            .bind(runner.runner.0)
            .bind(group_traversal(runner))
            .bind(&tags)
            .bind(project)
            .fetch_optional(&mut *c)
            .await?;
            match row {
                Some(row) => return Ok(Some((row.try_get("job_id")?, row.try_get("project_id")?))),
                None => fair.exhausted(project),
            }
        }
    }
    // Project and group runners, and instance runners whose snapshot had nothing
    // (jobs queued since): the oldest matching job.
    let row = sqlx::query(sqlf!("SELECT q.job_id, q.project_id FROM pending_jobs q WHERE {wher} ORDER BY q.job_id LIMIT 1 {lock}"))
        .bind(runner.runner.0)
        .bind(group_traversal(runner))
        .bind(&tags)
        .fetch_optional(&mut *c)
        .await?;
    row.map(|row| Ok((row.try_get("job_id")?, row.try_get("project_id")?))).transpose()
}

/// Assigns the next matching job to the runner; see `crate::queue` for why this is
/// exactly-once on each backend.
pub(crate) async fn claim(
    c: &mut Conn,
    runner: &RunnerMatch,
    graceful_cancel: bool,
    now: Millis,
    fair: &FairCache,
    version: u64,
) -> Result<Option<Claimed>> {
    let instance = runner.scope == RunnerScope::Instance;
    // A queue row whose job is no longer pending is stale (cannot happen through
    // this crate, which keeps both in one transaction); skip a few, then give up.
    for _ in 0..8 {
        let Some((build, project)) = pick(c, runner, fair, version).await? else { return Ok(None) };
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
            sqlx::query("INSERT INTO running_instance_jobs (job_id, project_id) VALUES ($1, $2)")
                .bind(build)
                .bind(project)
                .execute(&mut *c)
                .await?;
            fair.claimed(project);
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
    let wher = candidates(runner);
    let found: Option<i64> = sqlx::query_scalar(sqlf!("SELECT q.job_id FROM pending_jobs q WHERE {wher} LIMIT 1"))
        .bind(runner.runner.0)
        .bind(group_traversal(runner))
        .bind(to_json(&runner.tags)?)
        .fetch_optional(&mut *c)
        .await?;
    Ok(found.is_some())
}

pub(crate) async fn instance_running(c: &mut Conn) -> Result<Vec<(ProjectId, i64)>> {
    let rows = sqlx::query(
        "SELECT project_id, COUNT(*) AS running FROM running_instance_jobs GROUP BY project_id ORDER BY project_id",
    )
        .fetch_all(&mut *c)
        .await?;
    rows.iter().map(|r| Ok((ProjectId(r.try_get("project_id")?), r.try_get("running")?))).collect()
}

/// Whether this queued job matches the runner.
pub(crate) async fn matches_job(c: &mut Conn, runner: &RunnerMatch, build: i64) -> Result<bool> {
    let wher = candidates(runner);
    let found: Option<i64> =
        sqlx::query_scalar(sqlf!("SELECT q.job_id FROM pending_jobs q WHERE {wher} AND q.job_id = $4"))
            .bind(runner.runner.0)
            .bind(group_traversal(runner))
            .bind(to_json(&runner.tags)?)
            .bind(build)
            .fetch_optional(&mut *c)
            .await?;
    Ok(found.is_some())
}
