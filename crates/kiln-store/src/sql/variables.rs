//! Variables: queries (compiled per backend, see `sql`).

use sqlx::Row;

use super::{Conn, DbRow, namespaces};
use crate::codec::{Millis, decode};
use crate::error::{Error, Result};
use crate::ids::{NamespaceId, ProjectId, VariableId};
use crate::sql::sqlf;
use crate::variables::{NewVariable, Variable, VariableOwner, VariableType, VariableUpdate, validate};

const COLUMNS: &str = "id, scope, owner_id, key, value, variable_type, protected, masked, hidden, raw, \
    environment_scope, description, created_at";

fn variable(row: &DbRow) -> Result<Variable> {
    let scope: String = row.try_get("scope")?;
    let owner_id: i64 = row.try_get("owner_id")?;
    let owner = match scope.as_str() {
        "instance" => VariableOwner::Instance,
        "group" => VariableOwner::Group(NamespaceId(owner_id)),
        "project" => VariableOwner::Project(ProjectId(owner_id)),
        other => return Err(Error::Invalid(format!("stored variable scope `{other}`"))),
    };
    Ok(Variable {
        id: VariableId(row.try_get("id")?),
        owner,
        key: row.try_get("key")?,
        value: row.try_get("value")?,
        variable_type: decode::<VariableType>(&row.try_get::<String, _>("variable_type")?)?,
        protected: row.try_get("protected")?,
        masked: row.try_get("masked")?,
        hidden: row.try_get("hidden")?,
        raw: row.try_get("raw")?,
        environment_scope: row.try_get("environment_scope")?,
        description: row.try_get("description")?,
        created_at: Millis(row.try_get("created_at")?),
    })
}

pub(crate) async fn create(c: &mut Conn, owner: VariableOwner, new: &NewVariable, now: Millis) -> Result<Variable> {
    let row = sqlx::query(sqlf!(
        "INSERT INTO variables (scope, owner_id, key, value, variable_type, protected, masked, hidden, raw,
             environment_scope, description, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING {COLUMNS}"
    ))
    .bind(owner.scope())
    .bind(owner.id())
    .bind(&new.key)
    .bind(&new.value)
    .bind(new.variable_type.as_str())
    .bind(new.protected)
    .bind(new.masked)
    .bind(new.hidden)
    .bind(new.raw)
    .bind(if owner == VariableOwner::Instance { "*" } else { new.environment_scope.as_str() })
    .bind(&new.description)
    .bind(now.0)
    .fetch_one(&mut *c)
    .await?;
    variable(&row)
}

async fn find(c: &mut Conn, owner: VariableOwner, key: &str, scope: Option<&str>) -> Result<DbRow> {
    let rows = sqlx::query(sqlf!(
        "SELECT {COLUMNS} FROM variables WHERE scope = $1 AND owner_id = $2 AND key = $3
             AND ($4 IS NULL OR environment_scope = $4) ORDER BY id"
    ))
    .bind(owner.scope())
    .bind(owner.id())
    .bind(key)
    .bind(scope)
    .fetch_all(&mut *c)
    .await?;
    match rows.len() {
        0 => Err(Error::NotFound("variable")),
        1 => rows.into_iter().next().ok_or(Error::NotFound("variable")),
        _ => Err(Error::Conflict(format!(
            "there are multiple variables with key `{key}`; use filter[environment_scope]"
        ))),
    }
}

pub(crate) async fn get(c: &mut Conn, owner: VariableOwner, key: &str, scope: Option<&str>) -> Result<Variable> {
    variable(&find(c, owner, key, scope).await?)
}

pub(crate) async fn list(c: &mut Conn, owner: VariableOwner) -> Result<Vec<Variable>> {
    let rows = sqlx::query(sqlf!("SELECT {COLUMNS} FROM variables WHERE scope = $1 AND owner_id = $2 ORDER BY key, id"))
        .bind(owner.scope())
        .bind(owner.id())
        .fetch_all(&mut *c)
        .await?;
    rows.iter().map(variable).collect()
}

pub(crate) async fn update(
    c: &mut Conn,
    owner: VariableOwner,
    key: &str,
    scope: Option<&str>,
    u: &VariableUpdate,
) -> Result<Variable> {
    let current = variable(&find(c, owner, key, scope).await?)?;
    let value = u.value.clone().unwrap_or_else(|| current.value.clone());
    let masked = u.masked.unwrap_or(current.masked);
    validate(key, &value, masked)?;
    let row = sqlx::query(sqlf!(
        "UPDATE variables SET value = $2, variable_type = $3, protected = $4, masked = $5, raw = $6,
             environment_scope = $7, description = $8
         WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(current.id.0)
    .bind(&value)
    .bind(u.variable_type.unwrap_or(current.variable_type).as_str())
    .bind(u.protected.unwrap_or(current.protected))
    .bind(masked)
    .bind(u.raw.unwrap_or(current.raw))
    .bind(u.environment_scope.as_ref().unwrap_or(&current.environment_scope))
    .bind(u.description.as_ref().or(current.description.as_ref()))
    .fetch_one(&mut *c)
    .await?;
    variable(&row)
}

pub(crate) async fn delete(c: &mut Conn, owner: VariableOwner, key: &str, scope: Option<&str>) -> Result<()> {
    let id: i64 = find(c, owner, key, scope).await?.try_get("id")?;
    sqlx::query("DELETE FROM variables WHERE id = $1").bind(id).execute(&mut *c).await?;
    Ok(())
}

pub(crate) async fn for_project(c: &mut Conn, project: ProjectId) -> Result<Vec<Variable>> {
    let namespace: i64 = sqlx::query_scalar("SELECT namespace_id FROM projects WHERE id = $1")
        .bind(project.0)
        .fetch_optional(&mut *c)
        .await?
        .ok_or(Error::NotFound("project"))?;
    let mut out = list(c, VariableOwner::Instance).await?;
    let traversal = namespaces::traversal(c, NamespaceId(namespace)).await?;
    for group in namespaces::traversal_ids(&traversal) {
        // Personal namespaces have no variables; the query simply finds none.
        out.extend(list(c, VariableOwner::Group(NamespaceId(group))).await?);
    }
    out.extend(list(c, VariableOwner::Project(project)).await?);
    Ok(out)
}
