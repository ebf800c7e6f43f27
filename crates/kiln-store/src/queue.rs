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
//!   no one else's half-done claim.
//! - PostgreSQL: the select takes the row with `FOR UPDATE SKIP LOCKED`, so two
//!   replicas never wait on, or take, the same row; the conditional update remains
//!   the guard.
//!
//! On both, a process's concurrent claims are batched into one transaction (each
//! claim sees the ones before it; taken rows stay locked until the commit), so one
//! commit serves up to 256 claims: group commit done by hand. Within a batch,
//! claims whose runners match the same jobs are taken together (`sql/claim.rs`):
//! one dequeue of several rows per probed project and one assignment `UPDATE` for
//! the group, with the same conditional guard, instead of two statements a claim.
//!
//! Fair scheduling without a sort per claim: ordering 10,000 queued jobs by their
//! project's running count on every claim costs milliseconds. Instead each process
//! keeps a snapshot of the projects with queued jobs, their running counts and
//! oldest job ([`FairCache`], refreshed when jobs are queued anywhere or after
//! 250 ms; on PostgreSQL read on another connection while the batch's `BEGIN`
//! travels), counts its own claims into it, and probes projects in that order through
//! the `(project_id, job_id)` index. The order is a heuristic shared by replicas
//! within a refresh; exactly-once never depends on it.
//!
//! The claim does the state machine's `JobRunning` transition itself (pending →
//! running is all it decides for a pending job) and asks for the pipeline to be
//! processed, which moves the pipeline's status.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
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
    /// The job's specification and play variables (JSON text), when the claim
    /// read them with the assignment (PostgreSQL: a round trip less before the
    /// payload).
    pub(crate) definition: Option<(String, String)>,
}

impl Claimed {
    /// The job's specification and play variables, as
    /// [`Store::job_spec_and_variables`] gives them, if the claim read them
    /// (taken: a second call gives `None`); otherwise ask the store.
    pub fn take_spec_and_variables(
        &mut self,
    ) -> Option<Result<(serde_json::Value, Vec<kiln_pipeline::JobVariable>)>> {
        let (spec, variables) = self.definition.take()?;
        Some((|| Ok((crate::codec::from_json(&spec)?, crate::codec::from_json(&variables)?)))())
    }
}

/// How long a fairness snapshot is trusted when no new jobs were queued.
const FAIR_TTL: Duration = Duration::from_millis(250);

/// One project in the fairness order.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FairProject {
    pub(crate) project: i64,
    pub(crate) running: i64,
    pub(crate) oldest: i64,
    pub(crate) exhausted: bool,
}

#[derive(Debug)]
struct Snapshot {
    taken: Instant,
    version: u64,
    projects: Vec<FairProject>,
}

/// This process's view of which project an instance runner should serve next.
#[derive(Debug, Default)]
pub(crate) struct FairCache {
    snapshot: Mutex<Option<Snapshot>>,
}

impl FairCache {
    /// The projects still to probe, with their counts, if the snapshot is still
    /// good for `version`.
    pub(crate) fn projects(&self, version: u64) -> Option<Vec<FairProject>> {
        let guard = self.snapshot.lock().ok()?;
        let snap = guard.as_ref()?;
        if snap.version != version || snap.taken.elapsed() > FAIR_TTL {
            return None;
        }
        Some(snap.projects.iter().filter(|p| !p.exhausted).copied().collect())
    }

    pub(crate) fn replace(&self, version: u64, projects: Vec<FairProject>) {
        if let Ok(mut guard) = self.snapshot.lock() {
            *guard = Some(Snapshot { taken: Instant::now(), version, projects });
        }
    }

    fn update(&self, project: i64, f: impl FnOnce(&mut FairProject)) {
        if let Ok(mut guard) = self.snapshot.lock()
            && let Some(p) = guard.as_mut().and_then(|s| s.projects.iter_mut().find(|p| p.project == project))
        {
            f(p);
        }
    }

    /// This process gave one of the project's jobs to an instance runner.
    pub(crate) fn claimed(&self, project: i64) {
        self.update(project, |p| p.running += 1);
    }

    /// The project had nothing for the runner that asked.
    pub(crate) fn exhausted(&self, project: i64) {
        self.update(project, |p| p.exhausted = true);
    }
}

/// A claim waiting for the SQLite batcher.
pub(crate) struct ClaimRequest {
    runner: RunnerMatch,
    graceful_cancel: bool,
    now: Millis,
    reply: oneshot::Sender<Result<Option<Claimed>>>,
}

/// Batches a process's concurrent claims into one transaction (one fsync).
pub(crate) struct ClaimBatcher {
    tx: Option<mpsc::Sender<ClaimRequest>>,
}

/// Claims taken in one SQLite transaction at most.
const BATCH: usize = 256;

/// Times the batcher yields to let more claims arrive before it starts a batch.
const GATHER_ROUNDS: usize = 4;

/// Concurrent claim transactions per process on PostgreSQL. A batch costs a few
/// statements whatever its size, so fewer, larger batches do more claims per
/// CPU second; and every row a running batch holds is one more row other batches'
/// `SKIP LOCKED` scans step over. With 8, batches averaged 13 claims.
const PG_BATCH_WORKERS: usize = 4;

impl ClaimBatcher {
    pub(crate) fn new(
        pool: &Pool,
        fair: Arc<FairCache>,
        version: tokio::sync::watch::Receiver<u64>,
    ) -> ClaimBatcher {
        let (tx, rx) = mpsc::channel::<ClaimRequest>(4096);
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        // SQLite has one writer, so one batch at a time; PostgreSQL runs several
        // batches at once (they skip each other's rows), each sharing one flush.
        let workers = match pool {
            Pool::Sqlite { .. } => 1,
            Pool::Postgres(_) => PG_BATCH_WORKERS,
        };
        for _ in 0..workers {
            let pool = pool.clone();
            let rx = Arc::clone(&rx);
            let fair = Arc::clone(&fair);
            let version = version.clone();
            tokio::spawn(async move {
                let mut batch = Vec::with_capacity(BATCH);
                loop {
                    if !gather(&rx, &mut batch).await {
                        break;
                    }
                    let seen = *version.borrow();
                    let started = Instant::now();
                    let run = async {
                        match &pool {
                            Pool::Sqlite { write, checkpoints, .. } => {
                                let out = run_batch(write, &batch, &fair, seen).await;
                                checkpoints.wrote();
                                out
                            }
                            Pool::Postgres(pg) => run_batch_pg(pg, &batch, &fair, seen).await,
                        }
                    };
                    // A bug in one batch fails that batch's claims; the batcher lives
                    // on (with one worker on SQLite, its end would end every claim).
                    let result =
                        std::panic::AssertUnwindSafe(run).catch_unwind().await.unwrap_or_else(|_| {
                            Err(Error::Db(sqlx::Error::Protocol(
                                "the claim batch panicked; see the server log".into(),
                            )))
                        });
                    tracing::debug!(
                        size = batch.len(),
                        claimed = result.as_ref().map_or(0, |r| r.iter().flatten().count()),
                        took_us = started.elapsed().as_micros(),
                        "claim batch"
                    );
                    match result {
                        Ok(results) => {
                            for (request, result) in batch.drain(..).zip(results) {
                                let _ = request.reply.send(Ok(result));
                            }
                        }
                        Err(e) => {
                            let message = e.to_string();
                            for request in batch.drain(..) {
                                let _ = request
                                    .reply
                                    .send(Err(Error::Db(sqlx::Error::Protocol(message.clone()))));
                            }
                        }
                    }
                }
            });
        }
        ClaimBatcher { tx: Some(tx) }
    }
}

/// Waits for claims and takes what has arrived, up to [`BATCH`]. `false`: the store
/// is gone.
async fn gather(
    rx: &tokio::sync::Mutex<mpsc::Receiver<ClaimRequest>>,
    batch: &mut Vec<ClaimRequest>,
) -> bool {
    let mut rx = rx.lock().await;
    if rx.recv_many(batch, BATCH).await == 0 {
        return false;
    }
    // Claimers answered by the previous commit are about to ask again: let them run
    // before starting, so one fsync serves many claims. Yielding costs nothing when
    // nobody else is runnable.
    for _ in 0..GATHER_ROUNDS {
        if batch.len() >= BATCH {
            break;
        }
        tokio::task::yield_now().await;
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(request) => batch.push(request),
                Err(_) => break,
            }
        }
    }
    true
}

/// One batch's claims in one transaction `$begin` opened, with the backend's
/// claim and queue SQL (`$claim`, `$queue`), timed for the debug log. The two
/// backends differ only in their transaction types.
macro_rules! run_batch_in {
    ($begin:expr, $claim:path, $queue:path, $batch:expr, $fair:expr, $version:expr, $label:literal) => {{
        use $claim::{Want, claim_batch};
        use $queue::{Deferred, finish_batch};
        let started = Instant::now();
        let mut tx = $begin.await?;
        let begun = started.elapsed();
        let mut deferred = Deferred::default();
        let now = $batch.iter().map(|r| r.now).max().unwrap_or(Millis(0));
        let wants: Vec<Want<'_>> = $batch
            .iter()
            .map(|r| Want { runner: &r.runner, graceful_cancel: r.graceful_cancel, now: r.now })
            .collect();
        let out = claim_batch(&mut tx, &wants, $fair, $version, &mut deferred).await?;
        let claimed = started.elapsed();
        finish_batch(&mut tx, deferred, now).await?;
        let finished = started.elapsed();
        tx.commit().await?;
        tracing::debug!(
            begin_us = begun.as_micros(),
            claims_us = (claimed - begun).as_micros(),
            finish_us = (finished - claimed).as_micros(),
            commit_us = (started.elapsed() - finished).as_micros(),
            $label
        );
        Ok(out)
    }};
}

/// SQLite: one batch at a time under the single writer; one fsync for all.
async fn run_batch(
    write: &sqlx::SqlitePool,
    batch: &[ClaimRequest],
    fair: &FairCache,
    version: u64,
) -> Result<Vec<Option<Claimed>>> {
    run_batch_in!(
        begin_sqlite(write),
        crate::sql::sqlite::claim,
        crate::sql::sqlite::queue,
        batch,
        fair,
        version,
        "sqlite claim batch"
    )
}

/// PostgreSQL: the batch's claims in one transaction, so they share one WAL flush.
/// Rows a claim took stay locked until the commit, and other replicas' claims skip
/// them (`SKIP LOCKED`), so batching changes nothing about exactly-once.
async fn run_batch_pg(
    pool: &sqlx::PgPool,
    batch: &[ClaimRequest],
    fair: &FairCache,
    version: u64,
) -> Result<Vec<Option<Claimed>>> {
    run_batch_in!(
        begin_pg(pool, batch, fair, version),
        crate::sql::pg::claim,
        crate::sql::pg::queue,
        batch,
        fair,
        version,
        "postgres claim batch"
    )
}

/// Opens a PostgreSQL batch's transaction. When the batch has instance runners'
/// claims and the fairness snapshot is stale, the snapshot is read on another
/// connection while `BEGIN` travels: one round trip less before the first
/// dequeue. It is a heuristic read either way (under READ COMMITTED a statement
/// inside the transaction would see no more than one outside it), and
/// exactly-once does not depend on it.
async fn begin_pg<'p>(
    pool: &'p sqlx::PgPool,
    batch: &[ClaimRequest],
    fair: &FairCache,
    version: u64,
) -> Result<sqlx::Transaction<'p, sqlx::Postgres>> {
    let stale =
        fair.projects(version).is_none() && batch.iter().any(|r| r.runner.scope == RunnerScope::Instance);
    if !stale {
        return Ok(pool.begin().await?);
    }
    let snapshot = async {
        let mut conn = pool.acquire().await?;
        crate::sql::pg::queue::fair_snapshot(&mut conn).await
    };
    let (tx, snapshot) = tokio::join!(pool.begin(), snapshot);
    let tx = tx?;
    fair.replace(version, snapshot?);
    Ok(tx)
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
        let Some(tx) = &self.claims().tx else {
            return Err(Error::Db(sqlx::Error::PoolClosed));
        };
        let (reply, answer) = oneshot::channel();
        let request = ClaimRequest { runner: runner.clone(), graceful_cancel, now, reply };
        // The batcher ends only with the store: a closed store's pool is closed.
        tx.send(request).await.map_err(|_| Error::Db(sqlx::Error::PoolClosed))?;
        answer.await.map_err(|_| Error::Db(sqlx::Error::PoolClosed))?
    }

    /// How many jobs wait in the queue.
    pub async fn pending_count(&self) -> Result<i64> {
        read_tx!(self, |c, q| q::queue::count(c).await?)
    }

    /// Whether any queued job matches the runner (for long polls: cheap, no claim).
    pub async fn has_matching_job(&self, runner: &RunnerMatch) -> Result<bool> {
        crate::db::read_one!(self, |c, q| q::queue::has_match(c, runner).await?)
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
