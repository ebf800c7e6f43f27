//! Per-process state of the runner API: the queue generation runners echo back as
//! `last_update`, logs being watched (short trace update intervals), final
//! updates waiting for their log, and cached instance limits.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use std::sync::Arc;

use kiln_payload::{CommitFacts, UserFacts};
use kiln_store::queue::RunnerMatch;
use kiln_store::runners::{ManagerInfo, RunnerManager};
use kiln_store::settings::InstanceSettings;
use kiln_store::{BuildId, Store};
use rand::RngCore;
use tokio::sync::watch;

use super::cache::Ttl;
use super::payload::PipelineBundle;

/// A log is "watched" this long after someone last read it (GitLab's 10 s flag).
const WATCH_TTL: Duration = Duration::from_secs(10);
/// Instance limits are read again after this long.
const SETTINGS_TTL: Duration = Duration::from_secs(5);
/// A running job's `updated_at` is written at most this often from log patches.
pub(crate) const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// Shared by the runner endpoints of one process.
pub(crate) struct RunnerApi {
    /// Random per process, so a generation from a previous run never matches.
    nonce: String,
    /// Bumped by the store whenever jobs became pending here or (PostgreSQL) anywhere.
    version: watch::Receiver<u64>,
    watched: Mutex<HashMap<BuildId, Instant>>,
    touched: Mutex<HashMap<BuildId, Instant>>,
    /// When a job's final update first arrived before its whole log.
    final_waiting: Mutex<HashMap<BuildId, Instant>>,
    settings: Mutex<Option<(Instant, InstanceSettings)>>,
    /// Commit facts by `(project, sha)`: every job of a pipeline needs the same.
    commits: Mutex<HashMap<(i64, String), CommitFacts>>,
    /// Runner managers by `(runner, system_id)`, with what they reported.
    pub(crate) managers: Ttl<(i64, String), (ManagerInfo, RunnerManager)>,
    /// What a runner manager's claims match on.
    pub(crate) matchers: Ttl<(i64, i64), RunnerMatch>,
    /// A pipeline's payload facts, shared by its jobs claimed close together.
    /// (One cell per pipeline, so concurrent claims of it build the facts once.)
    pub(crate) pipelines: Ttl<i64, Arc<tokio::sync::OnceCell<Arc<PipelineBundle>>>>,
    pub(crate) users: Ttl<i64, Option<UserFacts>>,
    /// Pipelines whose persistent ref this process has checked.
    refs_checked: Mutex<HashSet<i64>>,
}

/// Below the store's one-minute contact resolution, so contact is still recorded.
const MANAGER_TTL: Duration = Duration::from_secs(50);
const MATCHER_TTL: Duration = Duration::from_secs(5);
const PIPELINE_TTL: Duration = Duration::from_secs(1);

/// Commits kept at most (the cache is dropped when full: pipelines move on).
const COMMITS_KEPT: usize = 4096;
/// Pipelines remembered as having their persistent ref (forgotten all at once
/// when full: checking again is only slower).
const REFS_KEPT: usize = 100_000;

impl std::fmt::Debug for RunnerApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunnerApi").field("nonce", &self.nonce).finish_non_exhaustive()
    }
}

impl RunnerApi {
    pub(crate) fn new(store: &Store) -> RunnerApi {
        let mut nonce = [0u8; 6];
        rand::rng().fill_bytes(&mut nonce);
        RunnerApi {
            nonce: nonce.iter().map(|b| format!("{b:02x}")).collect(),
            version: store.queue_events().version,
            watched: Mutex::new(HashMap::new()),
            touched: Mutex::new(HashMap::new()),
            final_waiting: Mutex::new(HashMap::new()),
            settings: Mutex::new(None),
            commits: Mutex::new(HashMap::new()),
            managers: Ttl::new(MANAGER_TTL, 100_000),
            matchers: Ttl::new(MATCHER_TTL, 100_000),
            pipelines: Ttl::new(PIPELINE_TTL, 4096),
            users: Ttl::new(PIPELINE_TTL, 4096),
            refs_checked: Mutex::new(HashSet::new()),
        }
    }

    /// A receiver of the queue generation, for one long poll.
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.version.clone()
    }

    /// The `X-GitLab-Last-Update` value of a generation.
    pub(crate) fn last_update(&self, version: u64) -> String {
        format!("{}{version:x}", self.nonce)
    }

    /// Someone reads the job's log (REST or stream).
    pub(crate) fn watch(&self, job: BuildId) {
        if let Ok(mut w) = self.watched.lock() {
            let now = Instant::now();
            w.retain(|_, at| now.duration_since(*at) < WATCH_TTL);
            w.insert(job, now);
        }
    }

    /// `X-GitLab-Trace-Update-Interval`: 3 s while watched, else 30 s.
    pub(crate) fn update_interval(&self, job: BuildId) -> u64 {
        let watched = self
            .watched
            .lock()
            .ok()
            .and_then(|w| w.get(&job).copied())
            .is_some_and(|at| at.elapsed() < WATCH_TTL);
        if watched { 3 } else { 30 }
    }

    /// Whether the job's `updated_at` should be written now (at most once a minute).
    pub(crate) fn should_touch(&self, job: BuildId) -> bool {
        let Ok(mut t) = self.touched.lock() else { return true };
        let now = Instant::now();
        match t.get(&job) {
            Some(at) if now.duration_since(*at) < TOUCH_EVERY => false,
            _ => {
                if t.len() > 100_000 {
                    t.retain(|_, at| now.duration_since(*at) < TOUCH_EVERY);
                }
                t.insert(job, now);
                true
            }
        }
    }

    /// How long the job's final update has waited for its log (starts the clock).
    pub(crate) fn final_waiting(&self, job: BuildId) -> Duration {
        let Ok(mut f) = self.final_waiting.lock() else { return Duration::MAX };
        f.entry(job).or_insert_with(Instant::now).elapsed()
    }

    /// The job is finished: forget what was kept for it.
    pub(crate) fn forget(&self, job: BuildId) {
        if let Ok(mut f) = self.final_waiting.lock() {
            f.remove(&job);
        }
        if let Ok(mut t) = self.touched.lock() {
            t.remove(&job);
        }
    }

    /// The instance settings, read at most every few seconds.
    pub(crate) async fn settings(&self, store: &Store) -> kiln_store::Result<InstanceSettings> {
        if let Ok(s) = self.settings.lock()
            && let Some((at, settings)) = s.as_ref()
            && at.elapsed() < SETTINGS_TTL
        {
            return Ok(settings.clone());
        }
        let settings = store.instance_settings().await?;
        if let Ok(mut s) = self.settings.lock() {
            *s = Some((Instant::now(), settings.clone()));
        }
        Ok(settings)
    }

    /// Whether this is the first time this process hands out a job of the
    /// pipeline (then its persistent ref is checked).
    pub(crate) fn first_claim_of(&self, pipeline: i64) -> bool {
        let Ok(mut checked) = self.refs_checked.lock() else { return true };
        if checked.len() >= REFS_KEPT {
            checked.clear();
        }
        checked.insert(pipeline)
    }

    /// A cached commit.
    pub(crate) fn commit(&self, project: i64, sha: &str) -> Option<CommitFacts> {
        self.commits.lock().ok()?.get(&(project, sha.to_string())).cloned()
    }

    /// Keeps a commit for the next jobs of its pipeline.
    pub(crate) fn keep_commit(&self, project: i64, commit: CommitFacts) {
        if let Ok(mut c) = self.commits.lock() {
            if c.len() >= COMMITS_KEPT {
                c.clear();
            }
            c.insert((project, commit.sha.clone()), commit);
        }
    }
}
