//! Runners and runner managers: queries (compiled per backend, see `sql`).

use std::collections::HashSet;

use sqlx::Row;

use super::{Conn, DbRow, namespaces, queue};
use crate::codec::{Millis, Page, Paged, decode, from_json, opt_millis, to_json};
use crate::error::{Error, Result};
use crate::ids::{BuildId, NamespaceId, ProjectId, RunnerId, RunnerManagerId, UserId};
use crate::queue::{RunnerMatch, RunnerScope};
use crate::runners::{
    ManagerInfo, NewRunner, RegistrationType, Runner, RunnerAccessLevel, RunnerFilter, RunnerManager, RunnerType,
    RunnerUpdate, normalize_tags,
};
use crate::sql::sqlf;

const COLUMNS: &str = "id, runner_type, group_id, description, tags, run_untagged, locked, access_level, paused, \
    maximum_timeout, token_expires_at, registration_type, creator_id, contacted_at, cost_factor, created_at";

async fn runner(c: &mut Conn, row: &DbRow) -> Result<Runner> {
    let id: i64 = row.try_get("id")?;
    let projects: Vec<i64> =
        sqlx::query_scalar("SELECT project_id FROM runner_projects WHERE runner_id = $1 ORDER BY project_id")
            .bind(id)
            .fetch_all(&mut *c)
            .await?;
    Ok(Runner {
        id: RunnerId(id),
        runner_type: decode::<RunnerType>(&row.try_get::<String, _>("runner_type")?)?,
        group_id: row.try_get::<Option<i64>, _>("group_id")?.map(NamespaceId),
        projects: projects.into_iter().map(ProjectId).collect(),
        description: row.try_get("description")?,
        tags: from_json(&row.try_get::<String, _>("tags")?)?,
        run_untagged: row.try_get("run_untagged")?,
        locked: row.try_get("locked")?,
        access_level: decode::<RunnerAccessLevel>(&row.try_get::<String, _>("access_level")?)?,
        paused: row.try_get("paused")?,
        maximum_timeout: row.try_get("maximum_timeout")?,
        token_expires_at: opt_millis(row.try_get("token_expires_at")?),
        registration_type: decode::<RegistrationType>(&row.try_get::<String, _>("registration_type")?)?,
        creator_id: row.try_get::<Option<i64>, _>("creator_id")?.map(UserId),
        contacted_at: opt_millis(row.try_get("contacted_at")?),
        cost_factor: row.try_get("cost_factor")?,
        created_at: Millis(row.try_get("created_at")?),
    })
}

pub(crate) async fn create(c: &mut Conn, new: &NewRunner, digest: &str, now: Millis) -> Result<Runner> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO runners (runner_type, group_id, description, tags, run_untagged, locked, access_level, paused,
             maximum_timeout, token_digest, token_expires_at, registration_type, creator_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
    )
    .bind(new.runner_type.as_str())
    .bind(new.group.map(|g| g.0))
    .bind(&new.description)
    .bind(to_json(&normalize_tags(&new.tags))?)
    .bind(new.run_untagged)
    .bind(new.locked)
    .bind(new.access_level.as_str())
    .bind(new.paused)
    .bind(new.maximum_timeout)
    .bind(digest)
    .bind(new.token_expires_at.map(|t| t.0))
    .bind(new.registration_type.as_str())
    .bind(new.creator.map(|u| u.0))
    .bind(now.0)
    .fetch_one(&mut *c)
    .await?;
    for project in &new.projects {
        assign(c, RunnerId(id), *project).await?;
    }
    by_id(c, RunnerId(id)).await
}

pub(crate) async fn by_id(c: &mut Conn, id: RunnerId) -> Result<Runner> {
    let row = sqlx::query(sqlf!("SELECT {COLUMNS} FROM runners WHERE id = $1"))
        .bind(id.0)
        .fetch_optional(&mut *c)
        .await?
        .ok_or(Error::NotFound("runner"))?;
    runner(c, &row).await
}

pub(crate) async fn by_token_digest(c: &mut Conn, digest: &str) -> Result<(Runner, String)> {
    let row = sqlx::query(sqlf!("SELECT {COLUMNS}, token_digest FROM runners WHERE token_digest = $1"))
        .bind(digest)
        .fetch_optional(&mut *c)
        .await?
        .ok_or(Error::NotFound("runner"))?;
    let stored: String = row.try_get("token_digest")?;
    Ok((runner(c, &row).await?, stored))
}

pub(crate) async fn list(c: &mut Conn, f: &RunnerFilter, page: Page) -> Result<Paged<Runner>> {
    let wher = "($1 IS NULL OR runner_type = $1) AND ($2 IS NULL OR paused = $2)
        AND ($3 IS NULL OR id IN (SELECT runner_id FROM runner_projects WHERE project_id = $3))
        AND ($4 IS NULL OR group_id = $4)";
    let rows = sqlx::query(sqlf!("SELECT {COLUMNS} FROM runners WHERE {wher} ORDER BY id"))
        .bind(f.runner_type.map(|t| t.as_str()))
        .bind(f.paused)
        .bind(f.project.map(|p| p.0))
        .bind(f.group.map(|g| g.0))
        .fetch_all(&mut *c)
        .await?;
    // Tag filtering is done here: runner counts are small and tags are JSON.
    let wanted = normalize_tags(&f.tags);
    let mut all = Vec::new();
    for row in &rows {
        let r = runner(c, row).await?;
        if wanted.iter().all(|t| r.tags.contains(t)) {
            all.push(r);
        }
    }
    let total = crate::codec::to_i64(all.len());
    let start = usize::try_from(page.offset).unwrap_or(usize::MAX);
    let take = usize::try_from(page.limit).unwrap_or(usize::MAX);
    Ok(Paged { items: all.into_iter().skip(start).take(take).collect(), total })
}

pub(crate) async fn update(c: &mut Conn, id: RunnerId, u: &RunnerUpdate) -> Result<Runner> {
    let current = by_id(c, id).await?;
    let tags = u.tags.as_deref().map_or_else(|| current.tags.clone(), normalize_tags);
    sqlx::query(
        "UPDATE runners SET description = $2, tags = $3, run_untagged = $4, locked = $5, access_level = $6, paused = $7,
             maximum_timeout = $8, cost_factor = $9 WHERE id = $1",
    )
    .bind(id.0)
    .bind(u.description.as_ref().unwrap_or(&current.description))
    .bind(to_json(&tags)?)
    .bind(u.run_untagged.unwrap_or(current.run_untagged))
    .bind(u.locked.unwrap_or(current.locked))
    .bind(u.access_level.unwrap_or(current.access_level).as_str())
    .bind(u.paused.unwrap_or(current.paused))
    .bind(u.maximum_timeout.unwrap_or(current.maximum_timeout))
    .bind(u.cost_factor.filter(|f| f.is_finite() && *f >= 0.0).unwrap_or(current.cost_factor))
    .execute(&mut *c)
    .await?;
    by_id(c, id).await
}

pub(crate) async fn delete(c: &mut Conn, id: RunnerId) -> Result<()> {
    let done = sqlx::query("DELETE FROM runners WHERE id = $1").bind(id.0).execute(&mut *c).await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound("runner"));
    }
    Ok(())
}

pub(crate) async fn set_token(c: &mut Conn, id: RunnerId, digest: &str, expires_at: Option<Millis>) -> Result<Runner> {
    let done = sqlx::query("UPDATE runners SET token_digest = $2, token_expires_at = $3 WHERE id = $1")
        .bind(id.0)
        .bind(digest)
        .bind(expires_at.map(|t| t.0))
        .execute(&mut *c)
        .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound("runner"));
    }
    by_id(c, id).await
}

pub(crate) async fn assign(c: &mut Conn, runner: RunnerId, project: ProjectId) -> Result<()> {
    sqlx::query("INSERT INTO runner_projects (runner_id, project_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(runner.0)
        .bind(project.0)
        .execute(&mut *c)
        .await?;
    Ok(())
}

pub(crate) async fn unassign(c: &mut Conn, runner: RunnerId, project: ProjectId) -> Result<()> {
    let done = sqlx::query("DELETE FROM runner_projects WHERE runner_id = $1 AND project_id = $2")
        .bind(runner.0)
        .bind(project.0)
        .execute(&mut *c)
        .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound("runner project"));
    }
    Ok(())
}

const MANAGER_COLUMNS: &str = "id, runner_id, system_id, version, revision, platform, architecture, executor, \
    ip_address, contacted_at, created_at";

fn manager_row(row: &DbRow) -> Result<RunnerManager> {
    Ok(RunnerManager {
        id: RunnerManagerId(row.try_get("id")?),
        runner_id: RunnerId(row.try_get("runner_id")?),
        system_id: row.try_get("system_id")?,
        version: row.try_get("version")?,
        revision: row.try_get("revision")?,
        platform: row.try_get("platform")?,
        architecture: row.try_get("architecture")?,
        executor: row.try_get("executor")?,
        ip_address: row.try_get("ip_address")?,
        contacted_at: opt_millis(row.try_get("contacted_at")?),
        created_at: Millis(row.try_get("created_at")?),
    })
}

pub(crate) async fn manager(c: &mut Conn, runner: RunnerId, system_id: &str) -> Result<Option<RunnerManager>> {
    let row = sqlx::query(sqlf!("SELECT {MANAGER_COLUMNS} FROM runner_managers WHERE runner_id = $1 AND system_id = $2"))
        .bind(runner.0)
        .bind(system_id)
        .fetch_optional(&mut *c)
        .await?;
    row.as_ref().map(manager_row).transpose()
}

pub(crate) async fn upsert_manager(c: &mut Conn, runner: RunnerId, i: &ManagerInfo, now: Millis) -> Result<RunnerManager> {
    let row = sqlx::query(sqlf!(
        "INSERT INTO runner_managers (runner_id, system_id, version, revision, platform, architecture, executor,
             ip_address, contacted_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
         ON CONFLICT (runner_id, system_id) DO UPDATE SET version = excluded.version, revision = excluded.revision,
             platform = excluded.platform, architecture = excluded.architecture, executor = excluded.executor,
             ip_address = excluded.ip_address, contacted_at = excluded.contacted_at
         RETURNING {MANAGER_COLUMNS}"
    ))
    .bind(runner.0)
    .bind(&i.system_id)
    .bind(&i.version)
    .bind(&i.revision)
    .bind(&i.platform)
    .bind(&i.architecture)
    .bind(&i.executor)
    .bind(&i.ip_address)
    .bind(now.0)
    .fetch_one(&mut *c)
    .await?;
    sqlx::query("UPDATE runners SET contacted_at = $2 WHERE id = $1").bind(runner.0).bind(now.0).execute(&mut *c).await?;
    manager_row(&row)
}

pub(crate) async fn managers(c: &mut Conn, runner: RunnerId) -> Result<Vec<RunnerManager>> {
    let rows = sqlx::query(sqlf!("SELECT {MANAGER_COLUMNS} FROM runner_managers WHERE runner_id = $1 ORDER BY id"))
        .bind(runner.0)
        .fetch_all(&mut *c)
        .await?;
    rows.iter().map(manager_row).collect()
}

pub(crate) async fn delete_manager(c: &mut Conn, runner: RunnerId, system_id: &str) -> Result<()> {
    let done = sqlx::query("DELETE FROM runner_managers WHERE runner_id = $1 AND system_id = $2")
        .bind(runner.0)
        .bind(system_id)
        .execute(&mut *c)
        .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound("runner manager"));
    }
    Ok(())
}

pub(crate) async fn matcher(c: &mut Conn, runner: &Runner, manager: RunnerManagerId) -> Result<RunnerMatch> {
    let scope = match runner.runner_type {
        RunnerType::InstanceType => RunnerScope::Instance,
        RunnerType::ProjectType => RunnerScope::Project,
        RunnerType::GroupType => {
            let group = runner.group_id.ok_or_else(|| Error::Invalid(format!("group runner {} has no group", runner.id)))?;
            RunnerScope::Group { traversal: namespaces::traversal(c, group).await? }
        }
    };
    Ok(RunnerMatch {
        runner: runner.id,
        manager,
        scope,
        tags: runner.tags.clone(),
        run_untagged: runner.run_untagged,
        protected_only: runner.access_level == RunnerAccessLevel::RefProtected,
    })
}

/// Of `jobs`, the ones no online (contacted since `since`), unpaused runner
/// could take. Each online runner is asked once which of the jobs still without
/// one it could take, and the runners after the last job found one are not asked.
pub(crate) async fn jobs_without_online_runner(c: &mut Conn, jobs: &[BuildId], since: Millis) -> Result<Vec<BuildId>> {
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(sqlf!("SELECT {COLUMNS} FROM runners WHERE paused = FALSE AND contacted_at >= $1"))
        .bind(since.0)
        .fetch_all(&mut *c)
        .await?;
    let mut orphans = jobs.to_vec();
    for row in &rows {
        if orphans.is_empty() {
            break;
        }
        let r = runner(c, row).await?;
        let m = matcher(c, &r, RunnerManagerId(0)).await?;
        let ids: Vec<i64> = orphans.iter().map(|j| j.0).collect();
        let taken: HashSet<i64> = queue::matching_jobs(c, &m, &ids).await?.into_iter().collect();
        orphans.retain(|j| !taken.contains(&j.0));
    }
    Ok(orphans)
}
