//! Audit events: queries (compiled per backend, see `sql`).

use sqlx::Row;

use super::{Conn, DbRow};
use crate::audit::{AuditAction, AuditEntity, AuditEvent, AuditFilter, NewAuditEvent};
use crate::codec::{Millis, Page, Paged, decode, from_json, to_json};
use crate::error::Result;
use crate::ids::{AuditEventId, UserId};
use crate::sql::sqlf;

const COLUMNS: &str =
    "id, author_id, author_name, entity_type, entity_id, entity_path, action, details, ip_address, created_at";

fn event(row: &DbRow) -> Result<AuditEvent> {
    Ok(AuditEvent {
        id: AuditEventId(row.try_get("id")?),
        author_id: row.try_get::<Option<i64>, _>("author_id")?.map(UserId),
        author_name: row.try_get("author_name")?,
        entity_type: decode::<AuditEntity>(&row.try_get::<String, _>("entity_type")?)?,
        entity_id: row.try_get("entity_id")?,
        entity_path: row.try_get("entity_path")?,
        action: decode::<AuditAction>(&row.try_get::<String, _>("action")?)?,
        details: from_json(&row.try_get::<String, _>("details")?)?,
        ip_address: row.try_get("ip_address")?,
        created_at: Millis(row.try_get("created_at")?),
    })
}

pub(crate) async fn record(c: &mut Conn, e: &NewAuditEvent, now: Millis) -> Result<AuditEvent> {
    let row = sqlx::query(sqlf!(
        "INSERT INTO audit_events (author_id, author_name, entity_type, entity_id, entity_path, action, details,
             ip_address, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {COLUMNS}"
    ))
    .bind(e.author_id.map(|u| u.0))
    .bind(&e.author_name)
    .bind(e.entity_type.as_str())
    .bind(e.entity_id)
    .bind(&e.entity_path)
    .bind(e.action.as_str())
    .bind(to_json(&e.details)?)
    .bind(&e.ip_address)
    .bind(now.0)
    .fetch_one(&mut *c)
    .await?;
    event(&row)
}

pub(crate) async fn list(c: &mut Conn, f: &AuditFilter, page: Page) -> Result<Paged<AuditEvent>> {
    let wher = "($1 IS NULL OR entity_type = $1) AND ($2 IS NULL OR entity_id = $2) AND ($3 IS NULL OR author_id = $3)
        AND ($4 IS NULL OR created_at >= $4) AND ($5 IS NULL OR created_at <= $5)";
    macro_rules! binds {
        ($q:expr) => {
            $q.bind(f.entity_type.map(|t| t.as_str()))
                .bind(f.entity_id)
                .bind(f.author.map(|u| u.0))
                .bind(f.created_after.map(|t| t.0))
                .bind(f.created_before.map(|t| t.0))
        };
    }
    let rows = binds!(sqlx::query(sqlf!(
        "SELECT {COLUMNS} FROM audit_events WHERE {wher} ORDER BY id DESC LIMIT $6 OFFSET $7"
    )))
    .bind(page.limit)
    .bind(page.offset)
    .fetch_all(&mut *c)
    .await?;
    let total: i64 =
        binds!(sqlx::query_scalar(sqlf!("SELECT COUNT(*) FROM audit_events WHERE {wher}"))).fetch_one(&mut *c).await?;
    Ok(Paged { items: rows.iter().map(event).collect::<Result<_>>()?, total })
}
