//! The job queue: which pending job a runner gets, exactly once.
//!
//! A job enters `pending_jobs` in the transaction that makes it `pending` (see
//! `effects`) and leaves it in the transaction that assigns it. A claim picks the
//! first matching row (scope, protected, tags; instance runners: the project with
//! the fewest jobs running on instance runners first, then the oldest job), then
//! moves the job `pending → running` with `UPDATE jobs ... WHERE id = ? AND status =
//! 'pending' AND runner_id IS NULL`, deletes the queue row, and commits. Only one
//! transaction can win that update:
//!
//! - SQLite has one writer at a time, so the select and the update of one claim see
//!   no one else's half-done claim. To pay one fsync for many claims, concurrent
//!   claims of this process are batched into one transaction (each claim still sees
//!   the ones before it), which is group commit done by hand.
//! - PostgreSQL: the select takes the row with `FOR UPDATE SKIP LOCKED`, so two
//!   replicas never wait on, or take, the same row; the conditional update remains
//!   the guard. PostgreSQL's own group commit merges concurrent fsyncs.
//!
//! The claim does the state machine's `JobRunning` transition itself (pending →
//! running is all it decides for a pending job) and asks for the pipeline to be
//! processed, which moves the pipeline's status.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::Store;
use crate::codec::Millis;
use crate::db::{Pool, begin_sqlite, read_tx};
use crate::error::{Error, Result};
use crate::ids::{ProjectId, RunnerId, RunnerManagerId};
use crate::jobs::JobRecord;
use crate::notify::QueueEvents;

/// Which jobs a runner may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunnerScope {
    /// Any project that allows instance runners.
    Instance,
    /// Projects in this group and its subgroups (the group's traversal path, `/1/5/`).
    Group { traversal: String },
    /// The projects the runner is assigned to.
    Project,
}

/// What matching needs to know about the runner asking for a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunnerMatch {
    pub runner: RunnerId,
    pub manager: RunnerManagerId,
    pub scope: RunnerScope,
    /// The runner's tags, sorted and without duplicates.
    pub tags: Vec<String>,
    pub run_untagged: bool,
    /// `access_level: ref_protected`: only jobs of protected refs.
    pub protected_only: bool,
}

/// A job assigned to a runner.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// The job, now `running` on the runner.
    pub job: JobRecord,
    /// The `glcbt-` job token, in clear: it goes into the payload and is not kept.
    pub token: String,
}

/// A claim waiting for the SQLite batcher.
pub(crate) struct ClaimRequest {
    runner: RunnerMatch,
    graceful_cancel: bool,
    now: Millis,
    reply: oneshot::Sender<Result<Option<Claimed>>>,
}

/// Batches concurrent SQLite claims into one transaction (one fsync).
pub(crate) struct ClaimBatcher {
    tx: Option<mpsc::Sender<ClaimRequest>>,
}

/// Claims taken in one SQLite transaction at most.
const BATCH: usize = 256;

impl ClaimBatcher {
    pub(crate) fn new(pool: &Pool) -> ClaimBatcher {
        let Pool::Sqlite { write, .. } = pool else { return ClaimBatcher { tx: None } };
        let (tx, mut rx) = mpsc::channel::<ClaimRequest>(4096);
        let write = write.clone();
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            while rx.recv_many(&mut batch, BATCH).await > 0 {
                let result = run_batch(&write, &batch).await;
                match result {
                    Ok(results) => {
                        for (request, result) in batch.drain(..).zip(results) {
                            let _ = request.reply.send(Ok(result));
                        }
                    }
                    Err(e) => {
                        let message = e.to_string();
                        for request in batch.drain(..) {
                            let _ =
                                request.reply.send(Err(Error::Db(sqlx::Error::Protocol(message.clone()))));
                        }
                    }
                }
            }
        });
        ClaimBatcher { tx: Some(tx) }
    }
}

async fn run_batch(write: &sqlx::SqlitePool, batch: &[ClaimRequest]) -> Result<Vec<Option<Claimed>>> {
    let mut tx = begin_sqlite(write).await?;
    let mut out = Vec::with_capacity(batch.len());
    for request in batch {
        out.push(
            crate::sql::sqlite::queue::claim(&mut tx, &request.runner, request.graceful_cancel, request.now)
                .await?,
        );
    }
    tx.commit().await?;
    Ok(out)
}

impl Store {
    /// Assigns the next matching pending job to the runner manager, or `None` when
    /// nothing matches. `graceful_cancel`: the runner can run `after_script` on
    /// cancel (it then goes through `canceling`).
    pub async fn claim_job(
        &self,
        runner: &RunnerMatch,
        graceful_cancel: bool,
        now: Millis,
    ) -> Result<Option<Claimed>> {
        match self.pool() {
            Pool::Sqlite { .. } => {
                let Some(tx) = &self.claims().tx else {
                    return Err(Error::Invalid("claim batcher is gone".into()));
                };
                let (reply, answer) = oneshot::channel();
                let request = ClaimRequest { runner: runner.clone(), graceful_cancel, now, reply };
                tx.send(request).await.map_err(|_| Error::Invalid("claim batcher is gone".into()))?;
                answer.await.map_err(|_| Error::Invalid("claim batcher is gone".into()))?
            }
            Pool::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                let claimed = crate::sql::pg::queue::claim(&mut tx, runner, graceful_cancel, now).await?;
                tx.commit().await?;
                Ok(claimed)
            }
        }
    }

    /// How many jobs wait in the queue.
    pub async fn pending_count(&self) -> Result<i64> {
        read_tx!(self, |c, q| q::queue::count(c).await?)
    }

    /// Whether any queued job matches the runner (for long polls: cheap, no claim).
    pub async fn has_matching_job(&self, runner: &RunnerMatch) -> Result<bool> {
        read_tx!(self, |c, q| q::queue::has_match(c, runner).await?)
    }

    /// Projects with the number of their jobs running on instance runners.
    pub async fn instance_running(&self) -> Result<Vec<(ProjectId, i64)>> {
        read_tx!(self, |c, q| q::queue::instance_running(c).await?)
    }

    /// Subscribes to queue changes: wakes long polls when jobs become pending, on
    /// this replica or (PostgreSQL) any other.
    pub fn queue_events(&self) -> QueueEvents {
        self.notifier().subscribe()
    }
}

/// Shared, cheap to clone list of job ids.
pub type JobIds = Arc<[crate::ids::BuildId]>;
