//! The claims of one batch, a group at a time: claims whose runners match the
//! same jobs (scope, tags, untagged, protected) take their jobs together, with one
//! dequeue per probed project and one assignment for the group, instead of two
//! statements per claim. On SQLite every statement is a round trip to the
//! connection's thread under the single write lock, so the number of statements
//! per batch is what bounds claims per second.
//!
//! Exactly-once is the per-claim argument of `crate::queue`, for several rows at a
//! time: the dequeue deletes the rows it returns (PostgreSQL: rows locked with
//! `FOR UPDATE SKIP LOCKED`, so no other transaction returns them), and the
//! assignment updates a job only while it is `pending` without a runner.
//!
//! Fair scheduling is what sequential claims would do: each claim of the group
//! goes to the project with the fewest running instance jobs (then the oldest
//! job), counting the group's earlier claims; a project that has fewer jobs than
//! it was given is exhausted and its share goes to the next ones.

use std::collections::HashMap;

use sqlx::Row;

use super::queue::{Deferred, candidates, fair_snapshot, group_traversal};
use super::{Conn, PG, jobs};
use crate::codec::{Millis, to_json};
use crate::error::Result;
use crate::queue::{Claimed, FairCache, FairProject, RunnerMatch, RunnerScope};
use crate::sql::sqlf;
use crate::token::{self, TokenKind};

/// One claim of a batch.
#[derive(Clone, Copy)]
pub(crate) struct Want<'a> {
    pub(crate) runner: &'a RunnerMatch,
    pub(crate) graceful_cancel: bool,
    pub(crate) now: Millis,
}

/// Whether two runners match exactly the same queued jobs.
pub(crate) fn same_jobs(a: &RunnerMatch, b: &RunnerMatch) -> bool {
    a.scope == b.scope
        && a.tags == b.tags
        && a.run_untagged == b.run_untagged
        && a.protected_only == b.protected_only
        && (a.scope != RunnerScope::Project || a.runner == b.runner)
}

/// A dequeued row.
struct Picked {
    job: i64,
    project: i64,
    tags: String,
}

/// Dequeues up to `limit` matching rows (of `project`, or of any), oldest first.
async fn take(c: &mut Conn, runner: &RunnerMatch, project: Option<i64>, limit: usize) -> Result<Vec<Picked>> {
    let wher = candidates(runner);
    let scope = if project.is_some() { "q.project_id = $4 AND" } else { "$4 = $4 AND" };
    // PostgreSQL may run a `DELETE ... WHERE job_id IN (SELECT ... LIMIT n)`
    // subquery more than once in one statement, and with `SKIP LOCKED` each run
    // can pick other rows: more than `n` rows would leave the queue for `n`
    // claims, and the extra jobs would stay pending with no queue row. A
    // materialized CTE picks the rows exactly once.
    let sql = if PG {
        sqlf!(
            "WITH picked AS MATERIALIZED (
                 SELECT q.job_id FROM pending_jobs q WHERE {scope} {wher}
                 ORDER BY q.job_id LIMIT $5 FOR UPDATE OF q SKIP LOCKED)
             DELETE FROM pending_jobs p USING picked WHERE p.job_id = picked.job_id
             RETURNING p.job_id, p.project_id, p.tags"
        )
    } else {
        sqlf!(
            "DELETE FROM pending_jobs WHERE job_id IN (
                 SELECT q.job_id FROM pending_jobs q WHERE {scope} {wher} ORDER BY q.job_id LIMIT $5)
             RETURNING job_id, project_id, tags"
        )
    };
    let rows = sqlx::query(sql)
    .bind(runner.runner.0)
    .bind(group_traversal(runner))
    .bind(to_json(&runner.tags)?)
    .bind(project.unwrap_or(0))
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(&mut *c)
    .await?;
    let mut picked = rows
        .iter()
        .map(|r| Ok(Picked { job: r.try_get("job_id")?, project: r.try_get("project_id")?, tags: r.try_get("tags")? }))
        .collect::<Result<Vec<_>>>()?;
    picked.sort_by_key(|p| p.job);
    Ok(picked)
}

/// How many of `n` claims each project gets, as `n` sequential fair claims would
/// share them out: in the order the projects are first chosen.
fn share(projects: &mut [FairProject], n: usize) -> Vec<(i64, usize)> {
    let mut out: Vec<(i64, usize)> = Vec::new();
    for _ in 0..n {
        let Some(best) =
            projects.iter_mut().filter(|p| !p.exhausted).min_by_key(|p| (p.running, p.oldest, p.project))
        else {
            break;
        };
        best.running += 1;
        match out.iter_mut().find(|(p, _)| *p == best.project) {
            Some((_, count)) => *count += 1,
            None => out.push((best.project, 1)),
        }
    }
    out
}

/// Dequeues jobs for `n` claims of instance runners, fairly across projects.
async fn take_fair(
    c: &mut Conn,
    runner: &RunnerMatch,
    n: usize,
    fair: &FairCache,
    version: u64,
) -> Result<Vec<Picked>> {
    let mut projects = match fair.projects(version) {
        Some(projects) => projects,
        None => {
            fair.replace(version, fair_snapshot(c).await?);
            fair.projects(version).unwrap_or_default()
        }
    };
    let mut picked = Vec::with_capacity(n);
    loop {
        let missing = n.saturating_sub(picked.len());
        let shares = share(&mut projects, missing);
        if shares.is_empty() {
            break;
        }
        for (project, count) in shares {
            let rows = take(c, runner, Some(project), count).await?;
            if rows.len() < count {
                fair.exhausted(project);
                if let Some(p) = projects.iter_mut().find(|p| p.project == project) {
                    p.exhausted = true;
                }
            }
            picked.extend(rows);
        }
        if picked.len() == n {
            return Ok(picked);
        }
    }
    // Jobs queued since the snapshot (their projects are not in it).
    let missing = n.saturating_sub(picked.len());
    picked.extend(take(c, runner, None, missing).await?);
    Ok(picked)
}

/// Assigns the group's claims; `wants` all match the same jobs ([`same_jobs`]).
/// On both backends, call [`super::queue::finish_batch`] before committing.
pub(crate) async fn claim_group(
    c: &mut Conn,
    wants: &[Want<'_>],
    fair: &FairCache,
    version: u64,
    deferred: &mut Deferred,
) -> Result<Vec<Option<Claimed>>> {
    let mut out: Vec<Option<Claimed>> = wants.iter().map(|_| None).collect();
    let Some(first) = wants.first() else { return Ok(out) };
    let instance = first.runner.scope == RunnerScope::Instance;
    let mut open: Vec<usize> = (0..wants.len()).collect();
    // A stale queue row (its job no longer pending; this crate never leaves one)
    // is dropped and its claim tries again, a few times.
    for _ in 0..4 {
        if open.is_empty() {
            break;
        }
        let picked = if instance {
            take_fair(c, first.runner, open.len(), fair, version).await?
        } else {
            take(c, first.runner, None, open.len()).await?
        };
        if picked.is_empty() {
            break;
        }
        let mut tokens = Vec::with_capacity(picked.len());
        for _ in &picked {
            tokens.push(token::generate(TokenKind::Job)?);
        }
        let mut update = sqlx::QueryBuilder::new(
            "UPDATE jobs SET status = 'running', runner_id = v.column2, runner_manager_id = v.column3,
                 instance_runner = v.column4, token_digest = v.column5, started_at = v.column6,
                 updated_at = v.column6, graceful_cancel = v.column7 FROM (",
        );
        update.push_values(picked.iter().zip(&open).zip(&tokens), |mut b, ((p, &w), t)| {
            let want = &wants[w];
            b.push_bind(p.job)
                .push_bind(want.runner.runner.0)
                .push_bind(want.runner.manager.0)
                .push_bind(instance)
                .push_bind(t.digest.clone())
                .push_bind(want.now.0)
                .push_bind(want.graceful_cancel);
        });
        // SQLite's `RETURNING *` is the updated table's columns; PostgreSQL's would
        // add the `VALUES` columns (harmless, but not needed). PostgreSQL also
        // returns the job's specification, which the payload would otherwise read
        // in a round trip of its own after the commit.
        update.push(if PG {
            ") AS v WHERE jobs.id = v.column1 AND jobs.status = 'pending' AND jobs.runner_id IS NULL
             RETURNING jobs.*, (SELECT d.spec FROM job_definitions d
                                WHERE d.pipeline_id = jobs.pipeline_id AND d.idx = jobs.definition_idx) AS spec"
        } else {
            ") AS v WHERE jobs.id = v.column1 AND jobs.status = 'pending' AND jobs.runner_id IS NULL
             RETURNING *"
        });
        let rows = update.build().fetch_all(&mut *c).await?;
        let mut assigned: HashMap<i64, _> = HashMap::with_capacity(rows.len());
        for row in &rows {
            assigned.insert(row.try_get::<i64, _>("id")?, row);
        }
        let mut still_open = Vec::new();
        for ((p, &w), t) in picked.iter().zip(&open).zip(tokens) {
            let Some(row) = assigned.get(&p.job) else {
                still_open.push(w);
                continue;
            };
            let job = jobs::job_with_tags(row, p.tags.clone())?;
            let definition = if PG {
                let spec: Option<String> = row.try_get("spec")?;
                spec.map(|spec| row.try_get("variables").map(|variables| (spec, variables))).transpose()?
            } else {
                None
            };
            if instance {
                fair.claimed(p.project);
                deferred.running.push((p.job, p.project));
            }
            deferred.pipelines.push(crate::ids::pipeline_db(job.pipeline_id));
            out[w] = Some(Claimed { job, token: t.token, definition });
        }
        if still_open.is_empty() {
            break;
        }
        // The stale rows' claims try again (claims that got no row would find none).
        open = still_open;
    }
    Ok(out)
}

/// Assigns a batch's claims, a group of claims that match the same jobs at a
/// time (in the order each group's first claim arrived). Call
/// [`super::queue::finish_batch`] before committing.
pub(crate) async fn claim_batch(
    c: &mut Conn,
    wants: &[Want<'_>],
    fair: &FairCache,
    version: u64,
    deferred: &mut Deferred,
) -> Result<Vec<Option<Claimed>>> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, want) in wants.iter().enumerate() {
        match groups.iter_mut().find(|g| same_jobs(wants[g[0]].runner, want.runner)) {
            Some(group) => group.push(i),
            None => groups.push(vec![i]),
        }
    }
    let mut out: Vec<Option<Claimed>> = wants.iter().map(|_| None).collect();
    for group in groups {
        let members: Vec<Want<'_>> = group.iter().map(|&i| wants[i]).collect();
        let results = claim_group(c, &members, fair, version, deferred).await?;
        for (i, result) in group.into_iter().zip(results) {
            out[i] = result;
        }
    }
    Ok(out)
}
