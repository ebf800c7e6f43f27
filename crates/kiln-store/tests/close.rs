//! Closing a SQLite store lets go of the database file: every connection the store
//! opened, the WAL checkpointer's included, is closed, so another process can take
//! the file over (a restart, a backup, an upgrade). Handles are counted in
//! `/proc/self/fd`, hence Linux only.

#![cfg(target_os = "linux")]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use kiln_store::{Backend, Store};
use sqlx::Connection;
use sqlx::sqlite::SqliteConnection;

/// The database file and its WAL and shared-memory companions.
fn db_files(db: &Path) -> [PathBuf; 3] {
    let name = db.as_os_str().to_owned();
    let with = |suffix: &str| {
        let mut n = name.clone();
        n.push(suffix);
        PathBuf::from(n)
    };
    [db.to_owned(), with("-wal"), with("-shm")]
}

/// How many of this process's file descriptors are open on `db` or its companions.
fn open_handles(db: &Path) -> usize {
    let files = db_files(db);
    std::fs::read_dir("/proc/self/fd")
        .expect("read /proc/self/fd")
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| files.contains(target))
        .count()
}

/// Writes enough that the checkpointer has work, and gives it the time to do it.
async fn write_some(store: &Store) {
    let owner = user(store, "owner").await;
    for i in 0..20 {
        project(store, &owner, &format!("p{i}")).await;
    }
    // The checkpointer runs at most every 100 ms after a write.
    tokio::time::sleep(Duration::from_millis(300)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_closed_sqlite_store_holds_no_handle_on_the_database() {
    let db = db(Backend::Sqlite).await;
    let path = std::fs::canonicalize(db.dir.path().join("kiln.db")).unwrap();
    write_some(&db.store).await;
    assert!(open_handles(&path) > 0, "an open store has the database open");

    db.store.close().await;
    assert_eq!(open_handles(&path), 0, "a closed store still has the database or its WAL open");
    // The last connection to close checkpoints the WAL into the database and
    // deletes it: with the checkpointer's connection still open, that was not the
    // store's writer.
    let [_, wal, shm] = db_files(&path);
    assert!(!wal.exists(), "the WAL outlived the store: another connection is still open");
    assert!(!shm.exists(), "the shared-memory file outlived the store");

    // A fresh connection finds every write in the database file and nobody in its way.
    let mut fresh = SqliteConnection::connect(&format!("sqlite://{}", path.display())).await.unwrap();
    let (busy, _, _): (i64, i64, i64) =
        sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)").fetch_one(&mut fresh).await.unwrap();
    assert_eq!(busy, 0);
    let projects: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM projects").fetch_one(&mut fresh).await.unwrap();
    assert_eq!(projects, 20);
    fresh.close().await.unwrap();

    // Closing twice is harmless.
    db.store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dropped_sqlite_store_lets_go_of_the_database() {
    let db = db(Backend::Sqlite).await;
    let path = std::fs::canonicalize(db.dir.path().join("kiln.db")).unwrap();
    let store = db.reopen().await.unwrap();
    write_some(&store).await;
    db.store.close().await;
    assert!(open_handles(&path) > 0, "the second store has the database open");

    // Without `close`, the connections end on their own threads once the store's
    // tasks have noticed it is gone: wait for that, without a deadline worth asserting.
    drop(store);
    for _ in 0..200 {
        if open_handles(&path) == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(open_handles(&path), 0, "a dropped store still has the database open after 10 s");
}
