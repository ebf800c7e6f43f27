//! Opening the database: URL parsing, connection pools per backend, pragmas,
//! embedded migrations, and the macros that run one piece of query code on
//! whichever backend the store was opened with.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, Sqlite, SqlitePool, Transaction};

use crate::checkpoint::Checkpointer;
use crate::error::{Error, Result};

/// Tuning for [`crate::Store::open_with`].
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// PostgreSQL pool size (the SQLite writer is always one connection).
    pub max_connections: u32,
    /// SQLite reader pool size.
    pub sqlite_readers: u32,
    /// How long a SQLite writer waits for another process's lock.
    pub busy_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> StoreOptions {
        StoreOptions { max_connections: 32, sqlite_readers: 8, busy_timeout: Duration::from_secs(30) }
    }
}

/// Which database the store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The connection pools. SQLite allows one writer at a time, so writes go through a
/// one-connection pool (in-process writers queue fairly instead of spinning on
/// `SQLITE_BUSY`); reads use their own pool and see the last commit through WAL.
/// Whoever commits on `write` tells `checkpoints` (see `checkpoint`).
#[derive(Debug, Clone)]
pub(crate) enum Pool {
    Sqlite { write: SqlitePool, read: SqlitePool, checkpoints: Arc<Checkpointer> },
    Postgres(PgPool),
}

impl Pool {
    pub(crate) async fn open(url: &str, options: &StoreOptions) -> Result<Pool> {
        if let Some(rest) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
            let path = rest.split('?').next().unwrap_or(rest);
            if path.is_empty() {
                return Err(Error::Invalid(format!("database url `{url}`: no file path")));
            }
            open_sqlite(path, options).await
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let connect = PgConnectOptions::from_str(url)
                .map_err(|e| Error::Invalid(format!("database url: {e}")))?
                .application_name("kiln");
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections.max(2))
                .acquire_timeout(Duration::from_secs(60))
                .connect_with(connect)
                .await?;
            Ok(Pool::Postgres(pool))
        } else {
            Err(Error::Invalid(format!("database url `{url}`: expected sqlite://<path> or postgres://...")))
        }
    }

    pub(crate) fn backend(&self) -> Backend {
        match self {
            Pool::Sqlite { .. } => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Runs the embedded migrations; already-applied ones are skipped, so this is
    /// safe on every start and from several replicas (sqlx takes an advisory lock on
    /// PostgreSQL).
    pub(crate) async fn migrate(&self) -> Result<()> {
        match self {
            Pool::Sqlite { write, .. } => sqlx::migrate!("./migrations/sqlite").run(write).await?,
            Pool::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    pub(crate) async fn close(&self) {
        match self {
            Pool::Sqlite { write, read, checkpoints } => {
                // The writer closes last: the last connection to close checkpoints
                // the WAL and deletes it.
                checkpoints.close().await;
                read.close().await;
                write.close().await;
            }
            Pool::Postgres(pool) => pool.close().await,
        }
    }
}

/// WAL with `synchronous=NORMAL` (SQLite's recommendation for WAL): commits are
/// not fsynced one by one, the WAL is at checkpoints. The database stays consistent
/// after a process crash or a power cut, and an acknowledged commit survives a
/// process crash; a power cut can lose the last commits before a checkpoint. With
/// `FULL` every transaction paid one fsync on the single writer, which every job
/// claim, log patch and status change queue behind. Checkpoints run on a
/// connection of their own, not in the writer's commits (`checkpoint`); a WAL
/// that grew during a burst is cut back to 64 MiB when it restarts.
async fn open_sqlite(path: &str, options: &StoreOptions) -> Result<Pool> {
    let base = SqliteConnectOptions::new()
        .filename(path)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(options.busy_timeout)
        .pragma("temp_store", "memory")
        .pragma("cache_size", "-16000")
        .pragma("journal_size_limit", "67108864");
    // No ping before handing out a connection (sqlx's default): a SQLite
    // connection is a file handle that does not go stale, and the ping was one
    // more round trip to the connection's thread in every transaction, on the
    // path from a job becoming pending to the runner's 201.
    let write = SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(600))
        .connect_with(base.clone().create_if_missing(true).pragma("wal_autocheckpoint", "0"))
        .await?;
    let read = SqlitePoolOptions::new()
        .max_connections(options.sqlite_readers.max(1))
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(600))
        .connect_with(base.clone())
        .await?;
    // A checkpoint copies pages without the page cache: a small one will do.
    let checkpoint = SqlitePoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(600))
        .connect_with(base.pragma("cache_size", "-256"))
        .await?;
    let checkpoints = Arc::new(Checkpointer::start(checkpoint));
    Ok(Pool::Sqlite { write, read, checkpoints })
}

/// `BEGIN IMMEDIATE` takes SQLite's write lock up front: a deferred transaction that
/// reads and then writes can fail with `SQLITE_BUSY` without waiting when another
/// process committed in between.
pub(crate) async fn begin_sqlite(pool: &SqlitePool) -> Result<Transaction<'static, Sqlite>> {
    Ok(pool.begin_with("BEGIN IMMEDIATE").await?)
}

/// Runs `$body` inside one write transaction, committed before the value is returned.
/// `$c` is the connection (`&mut SqliteConnection` or `&mut PgConnection`) and `$q`
/// the backend's query module (`crate::sql::sqlite` or `crate::sql::pg`), so the same
/// text compiles once per backend. An early `?` drops the transaction: rollback.
macro_rules! write_tx {
    ($store:expr, |$c:ident, $q:ident| $body:expr) => {{
        match $store.pool() {
            $crate::db::Pool::Sqlite { write, checkpoints, .. } => {
                #[allow(unused_imports)]
                use $crate::sql::sqlite as $q;
                let mut tx = $crate::db::begin_sqlite(write).await?;
                let $c: &mut sqlx::SqliteConnection = &mut *tx;
                let out = $body;
                tx.commit().await?;
                checkpoints.wrote();
                Ok::<_, $crate::Error>(out)
            }
            $crate::db::Pool::Postgres(pool) => {
                #[allow(unused_imports)]
                use $crate::sql::pg as $q;
                let mut tx = pool.begin().await?;
                let $c: &mut sqlx::PgConnection = &mut *tx;
                let out = $body;
                tx.commit().await?;
                Ok::<_, $crate::Error>(out)
            }
        }
    }};
}
pub(crate) use write_tx;

/// Runs `$body` in a read transaction (one consistent snapshot).
macro_rules! read_tx {
    ($store:expr, |$c:ident, $q:ident| $body:expr) => {{
        match $store.pool() {
            $crate::db::Pool::Sqlite { read, .. } => {
                #[allow(unused_imports)]
                use $crate::sql::sqlite as $q;
                let mut tx = read.begin().await?;
                let $c: &mut sqlx::SqliteConnection = &mut *tx;
                let out = $body;
                tx.commit().await?;
                Ok::<_, $crate::Error>(out)
            }
            $crate::db::Pool::Postgres(pool) => {
                #[allow(unused_imports)]
                use $crate::sql::pg as $q;
                let mut tx = pool.begin().await?;
                let $c: &mut sqlx::PgConnection = &mut *tx;
                let out = $body;
                tx.commit().await?;
                Ok::<_, $crate::Error>(out)
            }
        }
    }};
}
pub(crate) use read_tx;

/// Runs `$body` on a pooled read connection without a transaction: for reads of
/// one statement (which sees one snapshot on its own) or of statements that need
/// no common snapshot. Saves the `BEGIN` and `COMMIT` round trips `read_tx` pays,
/// on paths every job request takes.
macro_rules! read_one {
    ($store:expr, |$c:ident, $q:ident| $body:expr) => {{
        match $store.pool() {
            $crate::db::Pool::Sqlite { read, .. } => {
                #[allow(unused_imports)]
                use $crate::sql::sqlite as $q;
                let mut conn = read.acquire().await?;
                let $c: &mut sqlx::SqliteConnection = &mut *conn;
                Ok::<_, $crate::Error>($body)
            }
            $crate::db::Pool::Postgres(pool) => {
                #[allow(unused_imports)]
                use $crate::sql::pg as $q;
                let mut conn = pool.acquire().await?;
                let $c: &mut sqlx::PgConnection = &mut *conn;
                Ok::<_, $crate::Error>($body)
            }
        }
    }};
}
pub(crate) use read_one;
