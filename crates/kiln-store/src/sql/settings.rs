//! Instance settings: queries (compiled per backend, see `sql`).

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Conn;
use crate::codec::{from_json, to_json};
use crate::error::Result;

pub(crate) async fn get<T: DeserializeOwned + Default>(c: &mut Conn, key: &str) -> Result<T> {
    let value: Option<String> =
        sqlx::query_scalar("SELECT value FROM settings WHERE key = $1").bind(key).fetch_optional(&mut *c).await?;
    value.map_or_else(|| Ok(T::default()), |v| from_json(&v))
}

pub(crate) async fn put<T: Serialize>(c: &mut Conn, key: &str, value: &T) -> Result<()> {
    sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
        .bind(key)
        .bind(to_json(value)?)
        .execute(&mut *c)
        .await?;
    Ok(())
}
