//! Namespaces and group members: queries (compiled per backend, see `sql`).

use sqlx::Row;

use super::{Conn, DbRow};
use crate::codec::{Millis, Page, Paged, decode};
use crate::error::{Error, Result};
use crate::ids::{NamespaceId, UserId};
use crate::namespaces::{AccessLevel, Member, Namespace, NamespaceKind, NewGroup, Visibility};
use crate::sql::sqlf;

const COLUMNS: &str = "id, kind, name, path, full_path, parent_id, owner_id, visibility, description, \
                       shared_runners_enabled, created_at, traversal";

fn namespace(row: &DbRow) -> Result<Namespace> {
    Ok(Namespace {
        id: NamespaceId(row.try_get("id")?),
        kind: decode::<NamespaceKind>(&row.try_get::<String, _>("kind")?)?,
        name: row.try_get("name")?,
        path: row.try_get("path")?,
        full_path: row.try_get("full_path")?,
        parent_id: row.try_get::<Option<i64>, _>("parent_id")?.map(NamespaceId),
        owner_id: row.try_get::<Option<i64>, _>("owner_id")?.map(UserId),
        visibility: decode::<Visibility>(&row.try_get::<String, _>("visibility")?)?,
        description: row.try_get("description")?,
        shared_runners_enabled: row.try_get("shared_runners_enabled")?,
        created_at: Millis(row.try_get("created_at")?),
    })
}

pub(crate) async fn create_group(c: &mut Conn, new: &NewGroup, creator: UserId, now: Millis) -> Result<Namespace> {
    let (full_path, parent_traversal) = match new.parent {
        Some(p) => {
            let row = sqlx::query("SELECT full_path, traversal FROM namespaces WHERE id = $1 AND kind = 'group'")
                .bind(p.0)
                .fetch_optional(&mut *c)
                .await?
                .ok_or(Error::NotFound("parent group"))?;
            let parent_path: String = row.try_get("full_path")?;
            (format!("{parent_path}/{}", new.path), row.try_get::<String, _>("traversal")?)
        }
        None => (new.path.clone(), "/".to_owned()),
    };
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO namespaces (kind, name, path, full_path, parent_id, visibility, description, created_at)
         VALUES ('group', $1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(&new.name)
    .bind(&new.path)
    .bind(&full_path)
    .bind(new.parent.map(|p| p.0))
    .bind(new.visibility.as_str())
    .bind(&new.description)
    .bind(now.0)
    .fetch_one(&mut *c)
    .await?;
    sqlx::query("UPDATE namespaces SET traversal = $2 WHERE id = $1")
        .bind(id)
        .bind(format!("{parent_traversal}{id}/"))
        .execute(&mut *c)
        .await?;
    set_member(c, NamespaceId(id), creator, AccessLevel::Owner, now).await?;
    by_id(c, NamespaceId(id)).await
}

pub(crate) async fn by_id(c: &mut Conn, id: NamespaceId) -> Result<Namespace> {
    let row = sqlx::query(sqlf!("SELECT {COLUMNS} FROM namespaces WHERE id = $1"))
        .bind(id.0)
        .fetch_optional(&mut *c)
        .await?
        .ok_or(Error::NotFound("namespace"))?;
    namespace(&row)
}

pub(crate) async fn by_path(c: &mut Conn, full_path: &str) -> Result<Namespace> {
    let row = sqlx::query(sqlf!("SELECT {COLUMNS} FROM namespaces WHERE lower(full_path) = lower($1)"))
        .bind(full_path)
        .fetch_optional(&mut *c)
        .await?
        .ok_or(Error::NotFound("namespace"))?;
    namespace(&row)
}

pub(crate) async fn of_user(c: &mut Conn, user: UserId) -> Result<Namespace> {
    let row = sqlx::query(sqlf!("SELECT {COLUMNS} FROM namespaces WHERE owner_id = $1 AND kind = 'user'"))
        .bind(user.0)
        .fetch_optional(&mut *c)
        .await?
        .ok_or(Error::NotFound("namespace"))?;
    namespace(&row)
}

/// The traversal path (`/1/5/`) of a namespace.
pub(crate) async fn traversal(c: &mut Conn, id: NamespaceId) -> Result<String> {
    sqlx::query_scalar("SELECT traversal FROM namespaces WHERE id = $1")
        .bind(id.0)
        .fetch_optional(&mut *c)
        .await?
        .ok_or(Error::NotFound("namespace"))
}

pub(crate) async fn list_groups(c: &mut Conn, member: Option<UserId>, page: Page) -> Result<Paged<Namespace>> {
    let filter = "kind = 'group' AND ($1 IS NULL OR id IN (SELECT namespace_id FROM group_members WHERE user_id = $1))";
    let member = member.map(|m| m.0);
    let rows = sqlx::query(sqlf!("SELECT {COLUMNS} FROM namespaces WHERE {filter} ORDER BY id LIMIT $2 OFFSET $3"))
        .bind(member)
        .bind(page.limit)
        .bind(page.offset)
        .fetch_all(&mut *c)
        .await?;
    let total: i64 = sqlx::query_scalar(sqlf!("SELECT COUNT(*) FROM namespaces WHERE {filter}"))
        .bind(member)
        .fetch_one(&mut *c)
        .await?;
    Ok(Paged { items: rows.iter().map(namespace).collect::<Result<_>>()?, total })
}

/// Ids parsed from a traversal path, root first.
pub(crate) fn traversal_ids(traversal: &str) -> Vec<i64> {
    traversal.split('/').filter_map(|s| s.parse().ok()).collect()
}

pub(crate) async fn lineage(c: &mut Conn, id: NamespaceId) -> Result<Vec<Namespace>> {
    let ids = traversal_ids(&traversal(c, id).await?);
    let mut out = Vec::with_capacity(ids.len());
    for ancestor in ids {
        out.push(by_id(c, NamespaceId(ancestor)).await?);
    }
    Ok(out)
}

pub(crate) async fn set_shared_runners(c: &mut Conn, id: NamespaceId, enabled: bool) -> Result<()> {
    let done = sqlx::query("UPDATE namespaces SET shared_runners_enabled = $2 WHERE id = $1")
        .bind(id.0)
        .bind(enabled)
        .execute(&mut *c)
        .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound("namespace"));
    }
    Ok(())
}

pub(crate) async fn delete(c: &mut Conn, id: NamespaceId) -> Result<()> {
    let done = sqlx::query("DELETE FROM namespaces WHERE id = $1 AND kind = 'group'").bind(id.0).execute(&mut *c).await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound("group"));
    }
    Ok(())
}

pub(crate) async fn set_member(
    c: &mut Conn,
    group: NamespaceId,
    user: UserId,
    level: AccessLevel,
    now: Millis,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO group_members (namespace_id, user_id, access_level, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (namespace_id, user_id) DO UPDATE SET access_level = excluded.access_level",
    )
    .bind(group.0)
    .bind(user.0)
    .bind(level.value())
    .bind(now.0)
    .execute(&mut *c)
    .await?;
    Ok(())
}

pub(crate) async fn remove_member(c: &mut Conn, group: NamespaceId, user: UserId) -> Result<()> {
    let done = sqlx::query("DELETE FROM group_members WHERE namespace_id = $1 AND user_id = $2")
        .bind(group.0)
        .bind(user.0)
        .execute(&mut *c)
        .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound("member"));
    }
    Ok(())
}

pub(crate) fn member(row: &DbRow) -> Result<Member> {
    let level: i64 = row.try_get("access_level")?;
    Ok(Member {
        user_id: UserId(row.try_get("user_id")?),
        access_level: AccessLevel::from_value(level)
            .ok_or_else(|| Error::Invalid(format!("stored access level {level}")))?,
        created_at: Millis(row.try_get("created_at")?),
    })
}

pub(crate) async fn members(c: &mut Conn, group: NamespaceId) -> Result<Vec<Member>> {
    let rows = sqlx::query(
        "SELECT user_id, access_level, created_at FROM group_members WHERE namespace_id = $1 ORDER BY user_id",
    )
    .bind(group.0)
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(member).collect()
}

/// The highest group level along a traversal path; the owner of a personal
/// namespace is its owner.
pub(crate) async fn access_along(c: &mut Conn, traversal: &str, user: UserId) -> Result<Option<AccessLevel>> {
    let mut best: Option<AccessLevel> = None;
    for id in traversal_ids(traversal) {
        let row = sqlx::query(
            "SELECT n.kind, n.owner_id, m.access_level FROM namespaces n
             LEFT JOIN group_members m ON m.namespace_id = n.id AND m.user_id = $2 WHERE n.id = $1",
        )
        .bind(id)
        .bind(user.0)
        .fetch_optional(&mut *c)
        .await?;
        let Some(row) = row else { continue };
        let level = if row.try_get::<Option<i64>, _>("owner_id")? == Some(user.0) {
            Some(AccessLevel::Owner)
        } else {
            row.try_get::<Option<i64>, _>("access_level")?.and_then(AccessLevel::from_value)
        };
        best = best.max(level);
    }
    Ok(best)
}

pub(crate) async fn access(c: &mut Conn, group: NamespaceId, user: UserId) -> Result<Option<AccessLevel>> {
    let t = traversal(c, group).await?;
    access_along(c, &t, user).await
}
