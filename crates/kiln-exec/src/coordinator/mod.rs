//! The in-process coordinator: the part of `kiln server` that `kiln exec`
//! needs, over the same runner API, backed by memory and `.kiln/`.
//!
//! One pipeline lives in a `kiln_pipeline::sim::World`; every runner report
//! becomes an event for it, exactly as on the server. Payloads come from
//! `kiln-payload`. The runner (real `kiln-runner`, started in the same
//! process) talks to this over loopback HTTP ([`http`]), because its helper
//! subprocesses upload and download artifacts over HTTP too.

pub mod artifacts;
pub mod http;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kiln_config::plan::spec::JobSpec;
use kiln_payload::{
    CacheKeyFiles, DependencyFacts, JobFacts, PayloadInput, PipelineFacts, ProjectFacts, RunnerFacts,
    ServerFacts, UserFacts, VariableSources,
};
use kiln_pipeline::sim::{Note, World};
use kiln_pipeline::{
    CancelRequest, Event, FailureReason, JobId, PipelineId, PipelineState, Status, Timestamp,
};
use tokio::sync::{Notify, mpsc};

/// What the printer hears about.
#[derive(Debug, Clone)]
pub enum UiEvent {
    /// A runner took the job.
    Started { job: u64, name: String },
    /// New log bytes of a job.
    Log { job: u64, bytes: Bytes },
    /// The job sent its final state.
    Finished { job: u64 },
    /// The pipeline is over: print what is left and stop.
    Close,
}

/// The facts every payload of this pipeline is built from.
#[derive(Debug, Clone)]
pub struct Facts {
    pub server: ServerFacts,
    pub project: ProjectFacts,
    pub pipeline: PipelineFacts,
    pub user: Option<UserFacts>,
    pub runner: RunnerFacts,
    pub variables: VariableSources,
}

/// Where a job's files go.
#[derive(Debug, Clone)]
pub enum BuildDirs {
    /// Each job in `<dir>/<job slug>`, fetched from the snapshot.
    PerJob(PathBuf),
    /// Every job in the working tree itself, through a link in `<dir>`.
    InPlace { dir: PathBuf, tree: PathBuf },
    /// Jobs on the Docker executor (every job, or those with an `image:`) where
    /// it puts them (`/builds/<namespace>/<project>`, as GitLab Runner does);
    /// the others as `PerJob(dir)`.
    Containers { dir: PathBuf, every_job: bool },
}

/// The runner-side record of a job a runner took.
#[derive(Debug)]
pub(crate) struct Record {
    pub(crate) build_id: u64,
    pub(crate) token: String,
    pub(crate) started: Instant,
    pub(crate) finished: Option<Instant>,
    pub(crate) trace_len: u64,
    log: Option<File>,
    /// The archive's path and size.
    pub(crate) archive: Option<(PathBuf, u64)>,
    pub(crate) dotenv: Vec<(String, String)>,
}

/// The coordinator's state.
pub struct Coordinator {
    pub(crate) world: World,
    pub(crate) pipeline: PipelineId,
    /// By definition id.
    pub(crate) specs: Vec<JobSpec>,
    pub(crate) facts: Facts,
    pub(crate) records: BTreeMap<JobId, Record>,
    job_id_base: u64,
    /// Manual jobs to play when they become playable.
    play: BTreeSet<String>,
    played: BTreeSet<JobId>,
    pub(crate) artifacts_dir: PathBuf,
    logs_dir: PathBuf,
    build_dirs: BuildDirs,
    cache_keys: Box<dyn CacheKeyFiles + Send>,
    /// Trigger jobs with no downstream pipeline here, already failed.
    bridges_failed: BTreeSet<JobId>,
    pub(crate) canceled_by_user: bool,
}

impl std::fmt::Debug for Coordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coordinator").field("pipeline", &self.pipeline).finish_non_exhaustive()
    }
}

/// Everything a new coordinator needs.
pub struct Setup {
    pub state: PipelineState,
    pub specs: Vec<JobSpec>,
    pub facts: Facts,
    pub job_id_base: u64,
    pub play: BTreeSet<String>,
    pub artifacts_dir: PathBuf,
    pub logs_dir: PathBuf,
    pub build_dirs: BuildDirs,
    pub cache_keys: Box<dyn CacheKeyFiles + Send>,
}

/// Seconds since the epoch, the state machine's clock.
pub(crate) fn now() -> Timestamp {
    Timestamp(chrono::Utc::now().timestamp())
}

impl Coordinator {
    pub fn new(setup: Setup) -> Coordinator {
        let pipeline = setup.state.id;
        let mut world = World::new();
        world.now = now();
        world.add(
            setup.state,
            kiln_pipeline::sim::PipelineMeta {
                ref_name: setup.facts.pipeline.ref_name.clone(),
                sha: setup.facts.pipeline.commit.sha.clone(),
                source: kiln_pipeline::auto_cancel::PipelineSource::Other,
                created_at: world.now,
                upstream: None,
            },
        );
        Coordinator {
            world,
            pipeline,
            specs: setup.specs,
            facts: setup.facts,
            records: BTreeMap::new(),
            job_id_base: setup.job_id_base,
            play: setup.play,
            played: BTreeSet::new(),
            artifacts_dir: setup.artifacts_dir,
            logs_dir: setup.logs_dir,
            build_dirs: setup.build_dirs,
            cache_keys: setup.cache_keys,
            bridges_failed: BTreeSet::new(),
            canceled_by_user: false,
        }
    }

    pub(crate) fn state(&self) -> Option<&PipelineState> {
        self.world.pipelines.get(&self.pipeline).map(|p| &p.state)
    }

    /// The build id (`CI_JOB_ID`) of a job.
    pub(crate) fn build_id(&self, job: JobId) -> u64 {
        self.job_id_base + u64::from(job.0) + 1
    }

    /// The job with a build id.
    pub(crate) fn job_of(&self, build_id: u64) -> Option<JobId> {
        let n = build_id.checked_sub(self.job_id_base + 1)?;
        u32::try_from(n).ok().map(JobId)
    }

    fn spec_of(&self, job: JobId) -> Option<&JobSpec> {
        let state = self.state()?;
        let j = state.job(job)?;
        self.specs.get(j.definition.0 as usize)
    }

    /// Starts the pipeline.
    pub fn start(&mut self) {
        self.world.now = now();
        if let Err(e) = self.world.start(self.pipeline) {
            tracing::warn!("the pipeline could not start: {e}");
        }
        self.react();
    }

    /// Handles an event, then what follows from it here: manual jobs to
    /// play, trigger jobs that have no downstream pipeline.
    pub(crate) fn handle(&mut self, event: Event) -> Result<(), kiln_pipeline::Rejected> {
        self.world.now = now();
        let result = self.world.handle(self.pipeline, event);
        self.react();
        result
    }

    /// Time passed: delayed jobs that are due start.
    pub fn tick(&mut self) {
        self.world.tick(now());
        self.react();
    }

    fn react(&mut self) {
        for _ in 0..64 {
            let Some(state) = self.state() else { return };
            let play: Vec<JobId> = state
                .current_jobs()
                .filter(|j| j.status == Status::Manual && !self.played.contains(&j.id))
                .filter(|j| self.play.contains(state.name_of(j)))
                .map(|j| j.id)
                .collect();
            let bridges: Vec<JobId> = self
                .world
                .notes
                .iter()
                .filter_map(|n| match n {
                    Note::DownstreamTriggered { bridge, downstream: None, .. } => Some(*bridge),
                    _ => None,
                })
                .filter(|b| !self.bridges_failed.contains(b))
                .collect();
            if play.is_empty() && bridges.is_empty() {
                return;
            }
            for job in play {
                self.played.insert(job);
                let _ = self.world.handle(self.pipeline, Event::PlayJob { job, variables: Vec::new() });
            }
            for bridge in bridges {
                self.bridges_failed.insert(bridge);
                let reason = FailureReason::DownstreamPipelineCreationFailed;
                let _ = self.world.handle(self.pipeline, Event::DownstreamCreationFailed { bridge, reason });
            }
        }
    }

    /// True when nothing more will happen: no job waits for a runner, runs,
    /// or waits for its time.
    pub fn finished(&self) -> bool {
        self.state().is_none_or(|s| {
            !s.current_jobs()
                .any(|j| j.status.is_active() || matches!(j.status, Status::Canceling | Status::Scheduled))
        })
    }

    /// Cancels the pipeline (Ctrl-C): running jobs get `canceling` and run
    /// their `after_script`.
    pub fn cancel(&mut self) {
        self.canceled_by_user = true;
        let request = CancelRequest { interruptible_only: false, cascade: true, auto_canceled_by: None };
        let _ = self.handle(Event::CancelPipeline(request));
    }

    /// The next pending build job no runner has taken yet.
    fn next_pending(&self) -> Option<JobId> {
        let state = self.state()?;
        state
            .current_jobs()
            .filter(|j| j.status == Status::Pending && !self.records.contains_key(&j.id))
            .find(|j| state.definition_of(j).is_some_and(|d| !d.is_bridge()))
            .map(|j| j.id)
    }

    /// Hands the next pending job to a runner: its payload, with the job now
    /// running.
    pub(crate) fn assign(&mut self, ui: &mpsc::UnboundedSender<UiEvent>) -> Option<kiln_api::JobResponse> {
        let job = self.next_pending()?;
        let build_id = self.build_id(job);
        let token = format!("glcbt-{}", random_hex(20));
        let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let payload = self.payload(job, build_id, &token, started_at)?;
        if let Err(e) = self.handle(Event::JobRunning { job, graceful_cancel: true }) {
            tracing::warn!("job {build_id} could not start: {e}");
            return None;
        }
        let name = payload.job_info.name.clone();
        let log = self.open_log(build_id, &name);
        self.records.insert(
            job,
            Record {
                build_id,
                token,
                started: Instant::now(),
                finished: None,
                trace_len: 0,
                log,
                archive: None,
                dotenv: Vec::new(),
            },
        );
        let _ = ui.send(UiEvent::Started { job: build_id, name });
        Some(payload)
    }

    fn open_log(&self, build_id: u64, name: &str) -> Option<File> {
        let path = self.logs_dir.join(format!("{build_id}-{}.log", kiln_config::context::ref_slug(name)));
        std::fs::create_dir_all(&self.logs_dir).ok()?;
        File::create(path).ok()
    }

    fn payload(
        &self,
        job: JobId,
        build_id: u64,
        token: &str,
        started_at: String,
    ) -> Option<kiln_api::JobResponse> {
        let state = self.state()?;
        let record = state.job(job)?;
        let spec = self.spec_of(job)?;
        let dependencies: Vec<DependencyFacts> = kiln_pipeline::dependencies::dependencies_of(state, job)
            .into_iter()
            .filter_map(|dep| {
                let name = state.job(dep).map(|j| state.name_of(j).to_string())?;
                let rec = self.records.get(&dep);
                Some(DependencyFacts {
                    id: self.build_id(dep),
                    name,
                    artifacts_file: rec.and_then(|r| r.archive.as_ref()).map(|(path, size)| {
                        let file =
                            path.file_name().map_or_else(String::new, |f| f.to_string_lossy().into_owned());
                        (file, *size)
                    }),
                    dotenv: rec.map(|r| r.dotenv.clone()).unwrap_or_default(),
                })
            })
            .collect();
        let job_facts = JobFacts {
            id: build_id,
            token: token.to_string(),
            started_at: Some(started_at),
            play_variables: record.variables.iter().map(|v| (v.key.clone(), v.value.clone())).collect(),
            time_in_queue_seconds: None,
        };
        let f = &self.facts;
        let input = PayloadInput {
            server: &f.server,
            project: &f.project,
            pipeline: &f.pipeline,
            user: f.user.as_ref(),
            runner: &f.runner,
            job: &job_facts,
            spec,
            variables: &f.variables,
            dependencies: &dependencies,
            cache_keys: self.cache_keys.as_ref(),
        };
        let mut payload = kiln_payload::job_payload(&input);
        // Where the job runs is this runner's business, as a runner's
        // `builds_dir` is: these come last, so they win.
        let slug = kiln_config::context::ref_slug(&spec.name);
        let dir_name = if slug.is_empty() { format!("job-{build_id}") } else { slug };
        let in_container =
            |every_job: bool| every_job || spec.image.as_ref().is_some_and(|i| !i.name.trim().is_empty());
        match &self.build_dirs {
            BuildDirs::Containers { every_job, .. } if in_container(*every_job) => {}
            BuildDirs::PerJob(dir) | BuildDirs::Containers { dir, .. } => {
                payload.variables.push(kiln_api::JobVariable::public(
                    "GIT_CLONE_PATH",
                    dir.join(dir_name).to_string_lossy().into_owned(),
                ));
            }
            BuildDirs::InPlace { dir, tree } => {
                let link = dir.join(dir_name);
                ensure_link(&link, tree);
                payload.variables.push(kiln_api::JobVariable::public(
                    "GIT_CLONE_PATH",
                    link.to_string_lossy().into_owned(),
                ));
                payload.variables.push(kiln_api::JobVariable::public("GIT_STRATEGY", "none"));
            }
        }
        Some(payload)
    }

    /// The record of a running job whose token matches.
    pub(crate) fn authorized(&self, build_id: u64, token: &str) -> Option<JobId> {
        let job = self.job_of(build_id)?;
        let record = self.records.get(&job)?;
        (!token.is_empty() && record.token == token).then_some(job)
    }

    /// Any job of this pipeline whose token matches (artifact downloads).
    pub(crate) fn job_by_token(&self, token: &str) -> Option<JobId> {
        self.records.iter().find(|(_, r)| !token.is_empty() && r.token == token).map(|(j, _)| *j)
    }

    pub(crate) fn status(&self, job: JobId) -> Option<Status> {
        self.state()?.job(job).map(|j| j.status)
    }

    /// Appends log bytes at `start`; `Err(len)` when `start` is not the end.
    pub(crate) fn append_trace(
        &mut self,
        job: JobId,
        start: u64,
        bytes: Bytes,
        ui: &mpsc::UnboundedSender<UiEvent>,
    ) -> Result<u64, u64> {
        let Some(record) = self.records.get_mut(&job) else { return Err(0) };
        if start != record.trace_len {
            return Err(record.trace_len);
        }
        record.trace_len += bytes.len() as u64;
        if let Some(log) = record.log.as_mut() {
            let _ = log.write_all(&bytes);
        }
        let _ = ui.send(UiEvent::Log { job: record.build_id, bytes });
        Ok(record.trace_len)
    }

    /// The runner's final state for a job.
    pub(crate) fn finish(
        &mut self,
        job: JobId,
        success: bool,
        reason: Option<&str>,
        exit_code: Option<i32>,
        ui: &mpsc::UnboundedSender<UiEvent>,
    ) {
        let Some(record) = self.records.get_mut(&job) else { return };
        if record.finished.is_some() {
            return;
        }
        record.finished = Some(Instant::now());
        let build_id = record.build_id;
        let event = if success {
            Event::JobSucceeded { job }
        } else {
            let reason = reason.and_then(FailureReason::from_name).unwrap_or(FailureReason::UnknownFailure);
            Event::JobFailed { job, reason, exit_code }
        };
        if let Err(e) = self.handle(event) {
            tracing::warn!("job {build_id}: {e}");
        }
        let _ = ui.send(UiEvent::Finished { job: build_id });
    }

    /// How long a job ran.
    pub(crate) fn duration(&self, job: JobId) -> Option<Duration> {
        let r = self.records.get(&job)?;
        Some(r.finished.unwrap_or_else(Instant::now).duration_since(r.started))
    }
}

/// The job's directory in place: a link to the working tree.
fn ensure_link(link: &std::path::Path, tree: &std::path::Path) {
    if std::fs::read_link(link).is_ok_and(|t| t == tree) {
        return;
    }
    if let Some(parent) = link.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    let _ = std::fs::remove_file(link);
    #[cfg(unix)]
    let _ = std::os::unix::fs::symlink(tree, link);
}

pub(crate) fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::fill(&mut buf[..]);
    hex::encode(buf)
}

/// The coordinator with its wake-ups, shared by the HTTP handlers.
pub struct Shared {
    state: Mutex<Coordinator>,
    /// Wakes long-polling runners and the driver after any change.
    pub changed: Notify,
    pub ui: mpsc::UnboundedSender<UiEvent>,
    pub runner_token: String,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

impl Shared {
    pub fn new(
        coordinator: Coordinator,
        ui: mpsc::UnboundedSender<UiEvent>,
        runner_token: String,
    ) -> Arc<Shared> {
        Arc::new(Shared { state: Mutex::new(coordinator), changed: Notify::new(), ui, runner_token })
    }

    /// The state, for one short step (never held across an `await`).
    pub fn lock(&self) -> MutexGuard<'_, Coordinator> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `f` on the state, then wakes whoever waits for a change.
    pub fn update<T>(&self, f: impl FnOnce(&mut Coordinator) -> T) -> T {
        let out = f(&mut self.lock());
        self.changed.notify_waiters();
        out
    }
}
