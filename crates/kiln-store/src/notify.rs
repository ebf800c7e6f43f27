//! Waking long polls when jobs become pending.
//!
//! In-process, every store keeps a `watch` version (bumped on every wake-up) and a
//! `broadcast` of the job ids. On PostgreSQL the ids also go to other replicas:
//! after the commit (never inside a job transaction) they are handed to a sender
//! task that batches whatever has accumulated into one `pg_notify('kiln_jobs',
//! '<replica>:<id>,<id>,...')`, and a listener task turns notifications from other
//! replicas into the same local wake-up. If the listener loses its connection it
//! reconnects and bumps the version, so waiters re-check the queue rather than miss
//! a job.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::TryRngCore;
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinHandle;

use crate::db::Pool;
use crate::error::Result;
use crate::ids::BuildId;
use crate::queue::JobIds;

/// The PostgreSQL channel.
pub const CHANNEL: &str = "kiln_jobs";

/// Ids per notification: PostgreSQL payloads stay under 8000 bytes.
const IDS_PER_NOTIFY: usize = 300;

/// A subscription to queue changes.
#[derive(Debug)]
pub struct QueueEvents {
    /// Bumped whenever jobs became pending (or a wake-up may have been missed):
    /// `changed().await` then re-check the queue.
    pub version: watch::Receiver<u64>,
    /// The ids of jobs that became pending, in batches. A lagging receiver loses
    /// batches (`RecvError::Lagged`) and should fall back to checking the queue.
    pub jobs: broadcast::Receiver<JobIds>,
}

#[derive(Clone)]
struct Local {
    version: watch::Sender<u64>,
    jobs: broadcast::Sender<JobIds>,
}

impl Local {
    fn publish(&self, ids: JobIds) {
        self.version.send_modify(|v| *v = v.wrapping_add(1));
        let _ = self.jobs.send(ids);
    }
}

pub(crate) struct Notifier {
    local: Local,
    traces: broadcast::Sender<(BuildId, u64)>,
    remote: Option<mpsc::UnboundedSender<Vec<BuildId>>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Notifier {
    pub(crate) async fn start(pool: &Pool) -> Result<Notifier> {
        let (version, _) = watch::channel(0u64);
        let (jobs, _) = broadcast::channel(1024);
        let local = Local { version, jobs };
        let (traces, _) = broadcast::channel(4096);
        let Pool::Postgres(pg) = pool else {
            return Ok(Notifier { local, traces, remote: None, tasks: Mutex::new(Vec::new()) });
        };
        let mut replica = [0u8; 8];
        rand::rngs::OsRng
            .try_fill_bytes(&mut replica)
            .map_err(|e| crate::Error::Invalid(format!("os random: {e}")))?;
        let replica = hex::encode(replica);
        let mut listener = sqlx::postgres::PgListener::connect_with(pg).await?;
        listener.listen(CHANNEL).await?;
        let listen_task = {
            let local = local.clone();
            let replica = replica.clone();
            tokio::spawn(async move {
                loop {
                    match listener.recv().await {
                        Ok(n) => {
                            let Some((from, ids)) = n.payload().split_once(':') else { continue };
                            if from == replica {
                                continue;
                            }
                            let ids: Vec<BuildId> =
                                ids.split(',').filter_map(|s| s.parse().ok()).map(BuildId).collect();
                            local.publish(ids.into());
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "job notification listener lost its connection");
                            // Anything sent meanwhile is lost: make everyone look.
                            local.publish(Arc::from([]));
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                    }
                }
            })
        };
        let (remote, mut rx) = mpsc::unbounded_channel::<Vec<BuildId>>();
        let send_pool = pg.clone();
        let send_task = tokio::spawn(async move {
            let mut pending: Vec<Vec<BuildId>> = Vec::new();
            while rx.recv_many(&mut pending, 64).await > 0 {
                let ids: Vec<BuildId> = pending.drain(..).flatten().collect();
                for chunk in ids.chunks(IDS_PER_NOTIFY) {
                    let list: Vec<String> = chunk.iter().map(|id| id.0.to_string()).collect();
                    let payload = format!("{replica}:{}", list.join(","));
                    if let Err(e) = sqlx::query("SELECT pg_notify($1, $2)")
                        .bind(CHANNEL)
                        .bind(&payload)
                        .execute(&send_pool)
                        .await
                    {
                        tracing::warn!(error = %e, "could not notify other replicas of pending jobs");
                    }
                }
            }
        });
        Ok(Notifier { local, traces, remote: Some(remote), tasks: Mutex::new(vec![listen_task, send_task]) })
    }

    /// Called after a commit that made jobs pending.
    pub(crate) fn jobs_pending(&self, ids: &[BuildId]) {
        self.local.publish(ids.into());
        if let Some(remote) = &self.remote {
            let _ = remote.send(ids.to_vec());
        }
    }

    /// A job's log grew (local subscribers only).
    pub(crate) fn trace_grew(&self, job: BuildId, size: u64) {
        let _ = self.traces.send((job, size));
    }

    pub(crate) fn trace_subscribe(&self) -> broadcast::Receiver<(BuildId, u64)> {
        self.traces.subscribe()
    }

    pub(crate) fn subscribe(&self) -> QueueEvents {
        QueueEvents { version: self.local.version.subscribe(), jobs: self.local.jobs.subscribe() }
    }

    pub(crate) fn stop(&self) {
        if let Ok(mut tasks) = self.tasks.lock() {
            for task in tasks.drain(..) {
                task.abort();
            }
        }
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        self.stop();
    }
}
