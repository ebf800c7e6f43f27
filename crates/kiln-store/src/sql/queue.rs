//! The pending-job queue and the claim: queries (compiled per backend, see `sql`).

use sqlx::Row;

use super::{Conn, PG, pipelines};
use crate::codec::{Millis, to_json};
use crate::error::Result;
use crate::ids::{ProjectId, pipeline_id};
use crate::queue::{FairProject, RunnerMatch, RunnerScope};
use crate::sql::sqlf;

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
pub(super) fn candidates(runner: &RunnerMatch) -> String {
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

pub(super) fn group_traversal(runner: &RunnerMatch) -> &str {
    match &runner.scope {
        RunnerScope::Group { traversal } => traversal,
        _ => "",
    }
}

/// Projects with jobs for instance runners, with their running count and oldest job.
pub(crate) async fn fair_snapshot(c: &mut Conn) -> Result<Vec<FairProject>> {
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

/// What a claim leaves for the end of its batch: rows every claim of the
/// batch would otherwise write one statement at a time.
#[derive(Default)]
pub(crate) struct Deferred {
    pub(super) running: Vec<(i64, i64)>,
    pub(super) pipelines: Vec<i64>,
}

/// Writes a batch's deferred rows (in the batch's transaction).
pub(crate) async fn finish_batch(c: &mut Conn, mut deferred: Deferred, now: Millis) -> Result<()> {
    deferred.pipelines.sort_unstable();
    deferred.pipelines.dedup();
    if PG {
        return finish_batch_in_one(c, &deferred, now).await;
    }
    for chunk in deferred.running.chunks(400) {
        let mut insert = sqlx::QueryBuilder::new("INSERT INTO running_instance_jobs (job_id, project_id) ");
        insert.push_values(chunk, |mut b, (job, project)| {
            b.push_bind(*job).push_bind(*project);
        });
        insert.build().execute(&mut *c).await?;
    }
    for pipeline in deferred.pipelines {
        request_processing_unless_running(c, pipeline, now).await?;
    }
    Ok(())
}

/// PostgreSQL: [`finish_batch`] as one statement (a round trip is most of a
/// statement's cost there): the running rows in a data-modifying CTE, which runs
/// to completion whether or not it is read, and the processing requests of the
/// pipelines not stored as `running`, as [`request_processing_unless_running`]
/// and `pipelines::request_processing` would make them one at a time. The ids
/// travel as JSON arrays, as in [`matching_jobs`], so the text compiles for SQLite
/// too.
async fn finish_batch_in_one(c: &mut Conn, deferred: &Deferred, now: Millis) -> Result<()> {
    if deferred.running.is_empty() && deferred.pipelines.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "WITH running AS (
             INSERT INTO running_instance_jobs (job_id, project_id)
             SELECT (r->>0)::bigint, (r->>1)::bigint FROM jsonb_array_elements($1::jsonb) r)
         INSERT INTO pipeline_processing (pipeline_id, requested_at)
         SELECT p.id, GREATEST($3, (SELECT MAX(pp.requested_at) + 1 FROM pipeline_processing pp
                                    WHERE pp.pipeline_id = p.id))
         FROM (SELECT value::bigint AS id FROM jsonb_array_elements_text($2::jsonb)) p
         WHERE NOT EXISTS (SELECT 1 FROM pipelines WHERE id = p.id AND status = 'running')",
    )
    .bind(to_json(&deferred.running)?)
    .bind(to_json(&deferred.pipelines)?)
    .bind(now.0)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// A claimed job is `running`, and a pipeline with a running job derives
/// `running` (see `kiln_pipeline::Composite`): a pipeline stored as `running`
/// would not change, so only pipelines in another status are processed again.
/// (Processing a 100-job pipeline after each claim cost more than the claims.)
async fn request_processing_unless_running(c: &mut Conn, pipeline: i64, now: Millis) -> Result<()> {
    let running: Option<i64> =
        sqlx::query_scalar("SELECT id FROM pipelines WHERE id = $1 AND status = 'running'")
            .bind(pipeline)
            .fetch_optional(&mut *c)
            .await?;
    if running.is_none() {
        pipelines::request_processing(c, pipeline_id(pipeline), now).await?;
    }
    Ok(())
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

/// Of the queued jobs among `jobs`, the ones this runner could take: one query
/// for the lot (stuck-job detection asks this of every online runner).
pub(crate) async fn matching_jobs(c: &mut Conn, runner: &RunnerMatch, jobs: &[i64]) -> Result<Vec<i64>> {
    let wher = candidates(runner);
    // The ids travel as one JSON array, as `jobs::list` passes its statuses: the
    // same text binds on both backends.
    let among = if PG {
        "q.job_id IN (SELECT value::bigint FROM jsonb_array_elements_text($4::jsonb))"
    } else {
        "q.job_id IN (SELECT value FROM json_each($4))"
    };
    Ok(sqlx::query_scalar(sqlf!("SELECT q.job_id FROM pending_jobs q WHERE {wher} AND {among}"))
        .bind(runner.runner.0)
        .bind(group_traversal(runner))
        .bind(to_json(&runner.tags)?)
        .bind(to_json(&jobs)?)
        .fetch_all(&mut *c)
        .await?)
}
