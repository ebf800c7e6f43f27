//! The PostgreSQL copy of the query modules (see `sql`).

pub(crate) type Conn = sqlx::PgConnection;
pub(crate) type DbRow = sqlx::postgres::PgRow;
pub(crate) const PG: bool = true;

super::backend_modules!();
