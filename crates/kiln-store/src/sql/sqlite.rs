//! The SQLite copy of the query modules (see `sql`).

pub(crate) type Conn = sqlx::SqliteConnection;
pub(crate) type DbRow = sqlx::sqlite::SqliteRow;
pub(crate) const PG: bool = false;

super::backend_modules!();
