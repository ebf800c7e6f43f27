//! Projects, project members, protected refs: queries (compiled per backend, see `sql`).

use sqlx::Row;

use super::{Conn, DbRow, namespaces};
use crate::codec::{Millis, Page, Paged, decode};
use crate::error::{Error, Result};
use crate::ids::{NamespaceId, ProjectId, ProtectedRefId, UserId};
use crate::namespaces::{AccessLevel, Member, Visibility};
use crate::projects::{NewProject, NewProtectedRef, Project, ProjectFilter, ProjectUpdate, ProtectedRef, RefKind};
use crate::sql::sqlf;

const COLUMNS: &str = "id, namespace_id, name, path, full_path, description, visibility, default_branch, \
    ci_config_path, build_timeout, ci_default_git_depth, shared_runners_enabled, public_jobs, archived, \
    creator_id, created_at, updated_at";

fn project(row: &DbRow) -> Result<Project> {
    Ok(Project {
        id: ProjectId(row.try_get("id")?),
        namespace_id: NamespaceId(row.try_get("namespace_id")?),
        name: row.try_get("name")?,
        path: row.try_get("path")?,
        full_path: row.try_get("full_path")?,
        description: row.try_get("description")?,
        visibility: decode::<Visibility>(&row.try_get::<String, _>("visibility")?)?,
        default_branch: row.try_get("default_branch")?,
        ci_config_path: row.try_get("ci_config_path")?,
        build_timeout: row.try_get("build_timeout")?,
        ci_default_git_depth: row.try_get("ci_default_git_depth")?,
        shared_runners_enabled: row.try_get("shared_runners_enabled")?,
        public_jobs: row.try_get("public_jobs")?,
        archived: row.try_get("archived")?,
        creator_id: row.try_get::<Option<i64>, _>("creator_id")?.map(UserId),
        created_at: Millis(row.try_get("created_at")?),
        updated_at: Millis(row.try_get("updated_at")?),
    })
}

pub(crate) async fn create(c: &mut Conn, new: &NewProject, now: Millis) -> Result<Project> {
    let ns = namespaces::by_id(c, new.namespace).await?;
    let row = sqlx::query(sqlf!(
        "INSERT INTO projects (namespace_id, name, path, full_path, description, visibility, default_branch,
             creator_id, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING {COLUMNS}"
    ))
    .bind(new.namespace.0)
    .bind(&new.name)
    .bind(&new.path)
    .bind(format!("{}/{}", ns.full_path, new.path))
    .bind(&new.description)
    .bind(new.visibility.as_str())
    .bind(&new.default_branch)
    .bind(new.creator.map(|u| u.0))
    .bind(now.0)
    .fetch_one(&mut *c)
    .await?;
    project(&row)
}

pub(crate) async fn by_id(c: &mut Conn, id: ProjectId) -> Result<Project> {
    let row = sqlx::query(sqlf!("SELECT {COLUMNS} FROM projects WHERE id = $1"))
        .bind(id.0)
        .fetch_optional(&mut *c)
        .await?
        .ok_or(Error::NotFound("project"))?;
    project(&row)
}

pub(crate) async fn by_path(c: &mut Conn, full_path: &str) -> Result<Project> {
    let row = sqlx::query(sqlf!("SELECT {COLUMNS} FROM projects WHERE lower(full_path) = lower($1)"))
        .bind(full_path)
        .fetch_optional(&mut *c)
        .await?
        .ok_or(Error::NotFound("project"))?;
    project(&row)
}

pub(crate) async fn list(c: &mut Conn, filter: &ProjectFilter, page: Page) -> Result<Paged<Project>> {
    // Membership through a group covers its subgroups: the group's traversal path is
    // a prefix of the project namespace's.
    let wher = "($1 IS NULL OR id IN (SELECT project_id FROM project_members WHERE user_id = $1)
            OR namespace_id IN (SELECT n.id FROM namespaces n JOIN namespaces g ON n.traversal LIKE g.traversal || '%'
                 JOIN group_members m ON m.namespace_id = g.id WHERE m.user_id = $1)
            OR namespace_id IN (SELECT id FROM namespaces WHERE owner_id = $1))
        AND ($2 IS NULL OR namespace_id = $2)
        AND ($3 IS NULL OR visibility = 'public' OR visibility = $3)";
    let member = filter.member.map(|u| u.0);
    let namespace = filter.namespace.map(|n| n.0);
    // `private` as a minimum means any visibility.
    let vis_filter = filter.min_visibility.and_then(|v| match v {
        Visibility::Private => None,
        Visibility::Internal | Visibility::Public => Some(v.as_str()),
    });
    let rows = sqlx::query(sqlf!("SELECT {COLUMNS} FROM projects WHERE {wher} ORDER BY id LIMIT $4 OFFSET $5"))
        .bind(member)
        .bind(namespace)
        .bind(vis_filter)
        .bind(page.limit)
        .bind(page.offset)
        .fetch_all(&mut *c)
        .await?;
    let total: i64 = sqlx::query_scalar(sqlf!("SELECT COUNT(*) FROM projects WHERE {wher}"))
        .bind(member)
        .bind(namespace)
        .bind(vis_filter)
        .fetch_one(&mut *c)
        .await?;
    Ok(Paged { items: rows.iter().map(project).collect::<Result<_>>()?, total })
}

pub(crate) async fn update(c: &mut Conn, id: ProjectId, u: &ProjectUpdate, now: Millis) -> Result<Project> {
    let row = sqlx::query(sqlf!(
        "UPDATE projects SET
            name = COALESCE($2, name),
            description = COALESCE($3, description),
            visibility = COALESCE($4, visibility),
            default_branch = COALESCE($5, default_branch),
            ci_config_path = COALESCE($6, ci_config_path),
            build_timeout = COALESCE($7, build_timeout),
            ci_default_git_depth = COALESCE($8, ci_default_git_depth),
            shared_runners_enabled = COALESCE($9, shared_runners_enabled),
            public_jobs = COALESCE($10, public_jobs),
            archived = COALESCE($11, archived),
            updated_at = $12
         WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id.0)
    .bind(&u.name)
    .bind(&u.description)
    .bind(u.visibility.map(|v| v.as_str()))
    .bind(&u.default_branch)
    .bind(&u.ci_config_path)
    .bind(u.build_timeout)
    .bind(u.ci_default_git_depth)
    .bind(u.shared_runners_enabled)
    .bind(u.public_jobs)
    .bind(u.archived)
    .bind(now.0)
    .fetch_optional(&mut *c)
    .await?
    .ok_or(Error::NotFound("project"))?;
    project(&row)
}

pub(crate) async fn delete(c: &mut Conn, id: ProjectId) -> Result<()> {
    sqlx::query("DELETE FROM variables WHERE scope = 'project' AND owner_id = $1").bind(id.0).execute(&mut *c).await?;
    let done = sqlx::query("DELETE FROM projects WHERE id = $1").bind(id.0).execute(&mut *c).await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound("project"));
    }
    Ok(())
}

pub(crate) async fn instance_runners_enabled(c: &mut Conn, id: ProjectId) -> Result<bool> {
    let row = sqlx::query(
        "SELECT p.shared_runners_enabled, n.traversal FROM projects p JOIN namespaces n ON n.id = p.namespace_id
         WHERE p.id = $1",
    )
    .bind(id.0)
    .fetch_optional(&mut *c)
    .await?
    .ok_or(Error::NotFound("project"))?;
    if !row.try_get::<bool, _>("shared_runners_enabled")? {
        return Ok(false);
    }
    let traversal: String = row.try_get("traversal")?;
    for ns in namespaces::traversal_ids(&traversal) {
        let enabled: Option<bool> = sqlx::query_scalar("SELECT shared_runners_enabled FROM namespaces WHERE id = $1")
            .bind(ns)
            .fetch_optional(&mut *c)
            .await?;
        if enabled == Some(false) {
            return Ok(false);
        }
    }
    Ok(true)
}

pub(crate) async fn set_member(
    c: &mut Conn,
    project: ProjectId,
    user: UserId,
    level: AccessLevel,
    now: Millis,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO project_members (project_id, user_id, access_level, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (project_id, user_id) DO UPDATE SET access_level = excluded.access_level",
    )
    .bind(project.0)
    .bind(user.0)
    .bind(level.value())
    .bind(now.0)
    .execute(&mut *c)
    .await?;
    Ok(())
}

pub(crate) async fn remove_member(c: &mut Conn, project: ProjectId, user: UserId) -> Result<()> {
    let done = sqlx::query("DELETE FROM project_members WHERE project_id = $1 AND user_id = $2")
        .bind(project.0)
        .bind(user.0)
        .execute(&mut *c)
        .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound("member"));
    }
    Ok(())
}

pub(crate) async fn members(c: &mut Conn, project: ProjectId) -> Result<Vec<Member>> {
    let rows = sqlx::query(
        "SELECT user_id, access_level, created_at FROM project_members WHERE project_id = $1 ORDER BY user_id",
    )
    .bind(project.0)
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(namespaces::member).collect()
}

pub(crate) async fn access(c: &mut Conn, project: ProjectId, user: UserId) -> Result<Option<AccessLevel>> {
    let row = sqlx::query(
        "SELECT n.traversal, m.access_level FROM projects p JOIN namespaces n ON n.id = p.namespace_id
         LEFT JOIN project_members m ON m.project_id = p.id AND m.user_id = $2 WHERE p.id = $1",
    )
    .bind(project.0)
    .bind(user.0)
    .fetch_optional(&mut *c)
    .await?
    .ok_or(Error::NotFound("project"))?;
    let direct = row.try_get::<Option<i64>, _>("access_level")?.and_then(AccessLevel::from_value);
    let traversal: String = row.try_get("traversal")?;
    Ok(direct.max(namespaces::access_along(c, &traversal, user).await?))
}

fn protected_ref(row: &DbRow) -> Result<ProtectedRef> {
    Ok(ProtectedRef {
        id: ProtectedRefId(row.try_get("id")?),
        project_id: ProjectId(row.try_get("project_id")?),
        kind: decode::<RefKind>(&row.try_get::<String, _>("kind")?)?,
        name: row.try_get("name")?,
        push_access_level: AccessLevel::from_value(row.try_get("push_access_level")?),
        merge_access_level: AccessLevel::from_value(row.try_get("merge_access_level")?),
        allow_force_push: row.try_get("allow_force_push")?,
        created_at: Millis(row.try_get("created_at")?),
    })
}

const REF_COLUMNS: &str =
    "id, project_id, kind, name, push_access_level, merge_access_level, allow_force_push, created_at";

pub(crate) async fn protect(c: &mut Conn, project: ProjectId, new: &NewProtectedRef, now: Millis) -> Result<ProtectedRef> {
    let row = sqlx::query(sqlf!(
        "INSERT INTO protected_refs (project_id, kind, name, push_access_level, merge_access_level,
             allow_force_push, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (project_id, kind, name) DO UPDATE SET push_access_level = excluded.push_access_level,
             merge_access_level = excluded.merge_access_level, allow_force_push = excluded.allow_force_push
         RETURNING {REF_COLUMNS}"
    ))
    .bind(project.0)
    .bind(new.kind.as_str())
    .bind(&new.name)
    .bind(new.push_access_level.map_or(0, AccessLevel::value))
    .bind(new.merge_access_level.map_or(0, AccessLevel::value))
    .bind(new.allow_force_push)
    .bind(now.0)
    .fetch_one(&mut *c)
    .await?;
    protected_ref(&row)
}

pub(crate) async fn unprotect(c: &mut Conn, project: ProjectId, kind: RefKind, name: &str) -> Result<()> {
    let done = sqlx::query("DELETE FROM protected_refs WHERE project_id = $1 AND kind = $2 AND name = $3")
        .bind(project.0)
        .bind(kind.as_str())
        .bind(name)
        .execute(&mut *c)
        .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound("protected ref"));
    }
    Ok(())
}

pub(crate) async fn protected(c: &mut Conn, project: ProjectId, kind: RefKind) -> Result<Vec<ProtectedRef>> {
    let rows = sqlx::query(sqlf!(
        "SELECT {REF_COLUMNS} FROM protected_refs WHERE project_id = $1 AND kind = $2 ORDER BY id"
    ))
    .bind(project.0)
    .bind(kind.as_str())
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(protected_ref).collect()
}
