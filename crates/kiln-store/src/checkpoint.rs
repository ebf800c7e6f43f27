//! SQLite WAL checkpoints off the write path.
//!
//! SQLite's default (`wal_autocheckpoint=1000`) makes the writer that commits
//! past 1000 WAL pages copy the WAL into the database and fsync both files
//! inside its commit. Every write waits behind the single writer, so those
//! fsyncs stalled everyone: taking a job log at 1 MiB a patch, 86% of the time
//! in the store was commits, a checkpoint every fourth patch at 10-25 ms. The
//! writer connection runs with automatic checkpoints off; this task, on its own
//! connection, runs a `PASSIVE` checkpoint (which neither waits for nor blocks
//! the writer or readers) when writes happened, at most every [`SPACING`], so a
//! burst shares one checkpoint and its fsyncs.
//!
//! Durability is unchanged: with `synchronous=NORMAL` a commit was never fsynced
//! by itself, and a checkpoint only moves committed pages from the WAL into the
//! database. A passive checkpoint cannot reset the WAL while the writer keeps
//! adding to it, so a WAL past [`RESTART_PAGES`] gets a `RESTART` checkpoint,
//! which waits for the writer's current transaction and resets the WAL, bounding
//! its size under an endless stream of writes.
//!
//! The task's connection is the store's like any other: [`Checkpointer::close`]
//! ends the task and closes it with the store's pools. Left open, it kept the
//! database, its WAL and shared memory open after the store closed, and the
//! writer's close was no longer the last one, which is the close that moves the
//! WAL into the database and deletes it.

use std::sync::Arc;
use std::time::Duration;

use sqlx::SqlitePool;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// Least time between two checkpoints.
const SPACING: Duration = Duration::from_millis(100);

/// WAL pages (4 KiB each) after a passive checkpoint that call for a restart (256 MiB).
const RESTART_PAGES: i64 = 65_536;

/// The checkpoint task of one store's SQLite database.
#[derive(Debug)]
pub(crate) struct Checkpointer {
    wake: Arc<Notify>,
    task: JoinHandle<()>,
    /// The task's connection, kept here to close it.
    pool: SqlitePool,
}

impl Checkpointer {
    /// Starts the task; `pool` is a connection of its own (a checkpoint holds it
    /// while it copies).
    pub(crate) fn start(pool: SqlitePool) -> Checkpointer {
        let wake = Arc::new(Notify::new());
        let task = {
            let wake = Arc::clone(&wake);
            let pool = pool.clone();
            tokio::spawn(async move {
                loop {
                    wake.notified().await;
                    // A passive checkpoint cannot reset a WAL the writer keeps adding to.
                    if checkpoint(&pool, Mode::Passive).await.is_some_and(|pages| pages > RESTART_PAGES) {
                        checkpoint(&pool, Mode::Restart).await;
                    }
                    // Commits during the pause leave a permit: the next round runs
                    // right after it and takes them all.
                    tokio::time::sleep(SPACING).await;
                }
            })
        };
        Checkpointer { wake, task, pool }
    }

    /// A write transaction committed.
    pub(crate) fn wrote(&self) {
        self.wake.notify_one();
    }

    /// Ends the task and closes its connection, once a checkpoint it was running
    /// has given the connection back (a checkpoint moves committed pages only, so
    /// cutting one short loses nothing; the last connection's close does a full one).
    /// Later writes wake nobody.
    pub(crate) async fn close(&self) {
        self.task.abort();
        self.pool.close().await;
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A checkpoint's kind.
#[derive(Debug, Clone, Copy)]
enum Mode {
    Passive,
    Restart,
}

/// One checkpoint; the WAL's length in pages after it. Failures are logged and
/// left to the next round (another process may be checkpointing, or the store
/// is closing).
async fn checkpoint(pool: &SqlitePool, mode: Mode) -> Option<i64> {
    let query = match mode {
        Mode::Passive => "PRAGMA wal_checkpoint(PASSIVE)",
        Mode::Restart => "PRAGMA wal_checkpoint(RESTART)",
    };
    match sqlx::query_as::<_, (i64, i64, i64)>(query).fetch_one(pool).await {
        Ok((busy, wal_pages, copied)) => {
            tracing::trace!(?mode, busy, wal_pages, copied, "sqlite checkpoint");
            Some(wal_pages)
        }
        Err(e) => {
            tracing::debug!(?mode, error = %e, "sqlite checkpoint failed");
            None
        }
    }
}
