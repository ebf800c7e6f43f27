//! Report variables and compute quotas: queries (compiled per backend, see `sql`).

use sqlx::Row;

use super::Conn;
use crate::error::Result;
use crate::ids::{BuildId, NamespaceId};

pub(crate) async fn set_variables(c: &mut Conn, job: BuildId, variables: &[(String, String)]) -> Result<()> {
    sqlx::query("DELETE FROM job_report_variables WHERE job_id = $1").bind(job.0).execute(&mut *c).await?;
    for (key, value) in variables {
        sqlx::query(
            "INSERT INTO job_report_variables (job_id, key, value) VALUES ($1, $2, $3)
             ON CONFLICT (job_id, key) DO UPDATE SET value = excluded.value",
        )
        .bind(job.0)
        .bind(key)
        .bind(value)
        .execute(&mut *c)
        .await?;
    }
    Ok(())
}

pub(crate) async fn variables(c: &mut Conn, job: BuildId) -> Result<Vec<(String, String)>> {
    let rows = sqlx::query("SELECT key, value FROM job_report_variables WHERE job_id = $1 ORDER BY key")
        .bind(job.0)
        .fetch_all(&mut *c)
        .await?;
    rows.iter().map(|r| Ok((r.try_get("key")?, r.try_get("value")?))).collect()
}

pub(crate) async fn set_quota(c: &mut Conn, namespace: NamespaceId, minutes: Option<i64>) -> Result<()> {
    match minutes {
        Some(m) => {
            sqlx::query(
                "INSERT INTO namespace_quotas (namespace_id, minutes_per_month) VALUES ($1, $2)
                 ON CONFLICT (namespace_id) DO UPDATE SET minutes_per_month = excluded.minutes_per_month",
            )
            .bind(namespace.0)
            .bind(m)
            .execute(&mut *c)
            .await?;
        }
        None => {
            sqlx::query("DELETE FROM namespace_quotas WHERE namespace_id = $1").bind(namespace.0).execute(&mut *c).await?;
        }
    }
    Ok(())
}

pub(crate) async fn quota(c: &mut Conn, namespace: NamespaceId) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar("SELECT minutes_per_month FROM namespace_quotas WHERE namespace_id = $1")
        .bind(namespace.0)
        .fetch_optional(&mut *c)
        .await?)
}

pub(crate) async fn add_usage(c: &mut Conn, namespace: NamespaceId, month: &str, seconds: f64) -> Result<()> {
    sqlx::query(
        "INSERT INTO namespace_usage (namespace_id, month, seconds) VALUES ($1, $2, $3)
         ON CONFLICT (namespace_id, month) DO UPDATE SET seconds = namespace_usage.seconds + excluded.seconds",
    )
    .bind(namespace.0)
    .bind(month)
    .bind(seconds)
    .execute(&mut *c)
    .await?;
    Ok(())
}

pub(crate) async fn usage(c: &mut Conn, namespace: NamespaceId, month: &str) -> Result<f64> {
    let v: Option<f64> = sqlx::query_scalar("SELECT seconds FROM namespace_usage WHERE namespace_id = $1 AND month = $2")
        .bind(namespace.0)
        .bind(month)
        .fetch_optional(&mut *c)
        .await?;
    Ok(v.unwrap_or(0.0))
}
