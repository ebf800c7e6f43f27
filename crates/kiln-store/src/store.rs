//! The [`Store`] handle: opened once from a database URL, cloned freely (it is an
//! `Arc`), closed on shutdown.

use std::sync::Arc;

use crate::db::{Backend, Pool, StoreOptions};
use crate::error::Result;
use crate::notify::Notifier;
use crate::queue::{ClaimBatcher, FairCache};

/// The coordinator's persistence: every method is one transaction, committed before
/// it returns.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    notifier: Notifier,
    claims: ClaimBatcher,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("backend", &self.backend()).finish_non_exhaustive()
    }
}

impl Store {
    /// Opens `sqlite://<path>` (created if missing) or `postgres://...`, and runs the
    /// migrations.
    pub async fn open(url: &str) -> Result<Store> {
        Store::open_with(url, StoreOptions::default()).await
    }

    /// [`Store::open`] with explicit pool sizes.
    pub async fn open_with(url: &str, options: StoreOptions) -> Result<Store> {
        let pool = Pool::open(url, &options).await?;
        pool.migrate().await?;
        let notifier = Notifier::start(&pool).await?;
        let fair = Arc::new(FairCache::default());
        let claims = ClaimBatcher::new(&pool, fair, notifier.subscribe().version);
        Ok(Store { inner: Arc::new(Inner { pool, notifier, claims }) })
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.inner.pool.backend()
    }

    /// Closes the pools, the SQLite checkpointer's connection included: waits for
    /// connections in use, then closes them cleanly (SQLite checkpoints its WAL on
    /// the last close and deletes it), so no handle on the database is left open.
    pub async fn close(&self) {
        self.inner.notifier.stop();
        self.inner.pool.close().await;
    }

    pub(crate) fn pool(&self) -> &Pool {
        &self.inner.pool
    }

    pub(crate) fn notifier(&self) -> &Notifier {
        &self.inner.notifier
    }

    pub(crate) fn claims(&self) -> &ClaimBatcher {
        &self.inner.claims
    }
}
