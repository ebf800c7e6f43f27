//! `kiln runner run`: the poll loop over every `[[runners]]` entry, the job tasks, signals,
//! configuration reloads and the metrics server. `docs/design/runner-loop.md` draws it.
//!
//! One feeder task per runner and `request_concurrency` slot long-polls `jobs/request`
//! after taking a `concurrent` permit and a `limit` permit; a job keeps both permits until
//! it is finished. Stopping is one [`RunControl`]: `stop` (no new jobs, finish running
//! ones) and `abort` (running jobs fail as interrupted); a `TaskTracker` observes completion.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kiln_api::{FeaturesInfo, JobRequest};
use tokio::sync::{Semaphore, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::commands::worker::{JobReport, WorkerContext, process_job};
use crate::config::{Config, RunnerConfig};
use crate::executor::Providers;
use crate::job::{AbortReason, JobControl};
use crate::metrics::Metrics;
use crate::network::{Client, JobRequestResult, TraceSettings};

/// The run loop could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    SystemId(#[from] crate::config::SystemIdError),
    #[error(transparent)]
    Network(#[from] crate::network::NetworkError),
    #[error("failed to listen on {address}: {source}")]
    Listen {
        address: String,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to install signal handlers: {0}")]
    Signals(std::io::Error),
}

/// Options from the command line.
#[derive(Clone, Default)]
pub struct RunOptions {
    pub config_path: PathBuf,
    pub working_dir: PathBuf,
    pub listen_address: Option<String>,
    /// How scripts call our helper subcommands (`[current_exe, "runner", "helper"]`).
    pub helper: Vec<String>,
    pub providers: Providers,
    pub trace_settings: TraceSettings,
    /// Stop after this many jobs (`run-single --max-builds`); 0 = no limit.
    pub max_builds: usize,
    /// Stop when no job arrived for this long (`run-single --wait-timeout`).
    pub wait_timeout: Option<Duration>,
    /// Called with every finished job (tests, `run-single`).
    pub on_job: Option<Arc<dyn Fn(JobReport) + Send + Sync>>,
    /// Where job logs are buffered while they stream (an unnamed file each); the system's
    /// temporary directory when `None`. `kiln exec` keeps them under `.kiln/`.
    pub trace_dir: Option<PathBuf>,
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions").field("config_path", &self.config_path).finish_non_exhaustive()
    }
}

/// Stopping the loop from outside.
#[derive(Debug, Clone, Default)]
pub struct RunControl {
    /// Stop taking jobs; exit when running jobs finish.
    pub stop: CancellationToken,
    /// Abort running jobs (they are reported as interrupted).
    pub abort: CancellationToken,
}

#[derive(Default)]
struct Slots {
    used: BTreeSet<usize>,
    per_project: BTreeMap<i64, BTreeSet<usize>>,
}

fn take_lowest(set: &mut BTreeSet<usize>) -> usize {
    let mut i = 0;
    while set.contains(&i) {
        i += 1;
    }
    set.insert(i);
    i
}

struct Shared {
    opts: RunOptions,
    control: RunControl,
    config: watch::Receiver<Arc<Config>>,
    concurrent: Arc<Semaphore>,
    /// The permits `concurrent` is meant to have now (`concurrent` can change on reload).
    concurrent_size: std::sync::atomic::AtomicUsize,
    metrics: Arc<Metrics>,
    system_id: String,
    tracker: TaskTracker,
    builds: std::sync::atomic::AtomicUsize,
    last_job: Mutex<std::time::Instant>,
}

/// One configured runner being fed: its current token (rotation changes it), its `limit`
/// and concurrency slots; `removed` stops its feeders.
struct RunnerHandle {
    token: Mutex<String>,
    limit: Option<Arc<Semaphore>>,
    slots: Mutex<Slots>,
    removed: CancellationToken,
}

impl RunnerHandle {
    fn token(&self) -> String {
        self.token.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

/// Runs the loop until `control.stop` and every job has finished. `updates` brings new
/// configurations (SIGHUP): runners added are started, runners removed stop asking for
/// jobs (their running jobs finish), and a new `concurrent` applies at once. Tokens that
/// expire are rotated when `opts.config_path` exists, and the file is rewritten.
pub async fn serve(
    mut updates: watch::Receiver<Arc<Config>>,
    system_id: String,
    opts: RunOptions,
    control: RunControl,
    metrics: Arc<Metrics>,
) -> Result<(), RunError> {
    let initial = updates.borrow_and_update().clone();
    let (current, config) = watch::channel(initial.clone());
    let shared = Arc::new(Shared {
        concurrent: Arc::new(Semaphore::new(initial.concurrent())),
        concurrent_size: std::sync::atomic::AtomicUsize::new(initial.concurrent()),
        opts,
        control: control.clone(),
        config,
        metrics,
        system_id,
        tracker: TaskTracker::new(),
        builds: std::sync::atomic::AtomicUsize::new(0),
        last_job: Mutex::new(std::time::Instant::now()),
    });
    let feeders = TaskTracker::new();
    let mut handles: Vec<Arc<RunnerHandle>> = Vec::new();
    apply(&shared, &current, &feeders, &mut handles, initial);
    if let Some(wait) = shared.opts.wait_timeout {
        let shared = shared.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let idle = shared.last_job.lock().map(|t| t.elapsed()).unwrap_or_default();
                if shared.tracker.is_empty() && idle >= wait {
                    shared.control.stop.cancel();
                    return;
                }
                if shared.control.stop.is_cancelled() {
                    return;
                }
            }
        });
    }
    let rotate = shared.opts.config_path.is_file();
    let client = Client::new()?;
    let mut retry_after: BTreeMap<String, std::time::Instant> = BTreeMap::new();
    let mut updates_open = true;
    loop {
        let due = if rotate { next_rotation(&current.borrow(), &retry_after) } else { None };
        let wait = due.as_ref().map(|(_, at)| {
            (*at - chrono::Utc::now()).to_std().unwrap_or_default().min(Duration::from_secs(3600))
        });
        tokio::select! {
            () = control.stop.cancelled() => break,
            changed = updates.changed(), if updates_open => match changed {
                Ok(()) => {
                    let new = updates.borrow_and_update().clone();
                    apply(&shared, &current, &feeders, &mut handles, new);
                }
                Err(_) => updates_open = false,
            },
            () = tokio::time::sleep(wait.unwrap_or_default()), if wait.is_some() => {
                let Some((runner, _)) = due else { continue };
                match super::rotation::rotate(&client, &shared.opts.config_path, &runner).await {
                    Ok(rotated) => {
                        tracing::info!(runner = %runner.short_token(), "runner token rotated");
                        for h in handles.iter().filter(|h| h.token() == runner.token) {
                            *h.token.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = rotated.token.clone();
                        }
                        let mut config = (**current.borrow()).clone();
                        for r in config.runners.iter_mut().filter(|r| r.token == runner.token) {
                            *r = rotated.clone();
                        }
                        let _ = current.send(Arc::new(config));
                    }
                    Err(e) => {
                        tracing::warn!(runner = %runner.short_token(), "token rotation failed, retrying in a minute: {e}");
                        retry_after.insert(runner.token.clone(), std::time::Instant::now() + Duration::from_secs(60));
                    }
                }
            }
        }
    }
    feeders.close();
    feeders.wait().await;
    shared.tracker.close();
    shared.tracker.wait().await;
    Ok(())
}

/// The runner whose token is due first, and when.
fn next_rotation(
    config: &Config,
    retry_after: &BTreeMap<String, std::time::Instant>,
) -> Option<(RunnerConfig, chrono::DateTime<chrono::Utc>)> {
    let now = std::time::Instant::now();
    config
        .runners
        .iter()
        .filter(|r| retry_after.get(&r.token).is_none_or(|t| *t <= now))
        .filter_map(|r| super::rotation::due_at(r).map(|at| (r.clone(), at)))
        .min_by_key(|(_, at)| *at)
}

/// Makes a configuration current: new runners get feeders, removed ones are stopped,
/// `concurrent` and the metrics follow.
fn apply(
    shared: &Arc<Shared>,
    current: &watch::Sender<Arc<Config>>,
    feeders: &TaskTracker,
    handles: &mut Vec<Arc<RunnerHandle>>,
    config: Arc<Config>,
) {
    use std::sync::atomic::Ordering;
    let wanted = config.concurrent();
    let had = shared.concurrent_size.swap(wanted, Ordering::SeqCst);
    if wanted > had {
        shared.concurrent.add_permits(wanted - had);
    } else if wanted < had {
        // Fewer slots: take the surplus permits as they come back and never return them.
        let (sem, stop) = (shared.concurrent.clone(), shared.control.stop.clone());
        let surplus = u32::try_from(had - wanted).unwrap_or(u32::MAX);
        tokio::spawn(async move {
            tokio::select! {
                p = sem.acquire_many_owned(surplus) => if let Ok(p) = p { p.forget() },
                () = stop.cancelled() => {}
            }
        });
    }
    let limits: Vec<_> = config
        .runners
        .iter()
        .map(|r| (r.short_token(), r.name.clone(), shared.system_id.clone(), r.limit))
        .collect();
    shared.metrics.set_limits(wanted, &limits);
    handles.retain(|h| {
        let token = h.token();
        let keep = config.runners.iter().any(|r| r.token == token);
        if !keep {
            tracing::info!(
                "runner {} was removed from the configuration",
                kiln_api::runners::short_token(&token)
            );
            h.removed.cancel();
        }
        keep
    });
    let _ = current.send(config.clone());
    for runner in &config.runners {
        if handles.iter().any(|h| h.token() == runner.token) {
            continue;
        }
        let handle = Arc::new(RunnerHandle {
            token: Mutex::new(runner.token.clone()),
            limit: (runner.limit > 0).then(|| Arc::new(Semaphore::new(runner.limit))),
            slots: Mutex::new(Slots::default()),
            removed: CancellationToken::new(),
        });
        for slot in 0..runner.request_concurrency() {
            feeders.spawn(feed(shared.clone(), handle.clone(), slot));
        }
        handles.push(handle);
    }
}

fn runner_by_token(shared: &Shared, token: &str) -> Option<Arc<RunnerConfig>> {
    shared.config.borrow().runners.iter().find(|r| r.token == token).cloned().map(Arc::new)
}

async fn pause(shared: &Shared, d: Duration) {
    tokio::select! {
        () = tokio::time::sleep(d) => {}
        () = shared.control.stop.cancelled() => {}
    }
}

async fn feed(shared: Arc<Shared>, handle: Arc<RunnerHandle>, slot: usize) {
    let client = match Client::new() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("{e}");
            return;
        }
    };
    let mut last_update = String::new();
    let mut unhealthy = 0u32;
    let check_interval = |shared: &Shared| {
        let c = shared.config.borrow();
        c.check_interval() / u32::try_from(c.runners.len()).unwrap_or(1).max(1)
    };
    if slot > 0 {
        pause(&shared, check_interval(&shared).mul_f64(slot as f64 / 10.0)).await;
    }
    let slots = &handle.slots;
    loop {
        if shared.control.stop.is_cancelled() || handle.removed.is_cancelled() {
            return;
        }
        let check = check_interval(&shared);
        // Between a token rotation and the new configuration the lookup can miss once.
        let Some(runner) = runner_by_token(&shared, &handle.token()) else {
            pause(&shared, Duration::from_millis(100)).await;
            continue;
        };
        let global = tokio::select! {
            p = shared.concurrent.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
            () = shared.control.stop.cancelled() => return,
            () = handle.removed.cancelled() => return,
        };
        let local = match &handle.limit {
            Some(l) => tokio::select! {
                p = l.clone().acquire_owned() => match p { Ok(p) => Some(p), Err(_) => return },
                () = shared.control.stop.cancelled() => return,
                () = handle.removed.cancelled() => return,
            },
            None => None,
        };
        let client =
            client.clone().with_metrics(shared.metrics.clone(), &runner.short_token(), &shared.system_id);
        let kind = runner.executor_kind();
        let provider = kind.and_then(|k| shared.opts.providers.get(k));
        let mut features = FeaturesInfo::default();
        crate::version::network_features(&mut features);
        if let Some(p) = &provider {
            p.features(&mut features);
        }
        let shell = runner.shell.clone().unwrap_or_else(|| {
            provider.as_ref().map(|p| p.default_shell().name().to_string()).unwrap_or_default()
        });
        let request = JobRequest {
            token: runner.token.clone(),
            system_id: shared.system_id.clone(),
            last_update: last_update.clone(),
            info: crate::version::version_info(&runner.executor, &shell, features),
            session: None,
        };
        let answer = tokio::select! {
            a = client.request_job(&runner.url, &request) => a,
            () = shared.control.stop.cancelled() => return,
        };
        match answer {
            Ok(JobRequestResult::Job(job)) => {
                unhealthy = 0;
                if let Ok(mut t) = shared.last_job.lock() {
                    *t = std::time::Instant::now();
                }
                let (cid, pcid) = {
                    let mut s = slots.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    let cid = take_lowest(&mut s.used);
                    let pcid = take_lowest(s.per_project.entry(job.job_info.project_id).or_default());
                    (cid, pcid)
                };
                let ctx = WorkerContext {
                    client: client.clone(),
                    runner: runner.clone(),
                    system_id: shared.system_id.clone(),
                    providers: shared.opts.providers.clone(),
                    helper: shared.opts.helper.clone(),
                    working_dir: shared.opts.working_dir.clone(),
                    trace_settings: shared.opts.trace_settings,
                    metrics: shared.metrics.clone(),
                    info_features: features,
                    trace_dir: shared.opts.trace_dir.clone(),
                };
                let shared2 = shared.clone();
                let handle = handle.clone();
                let n = shared.builds.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                if shared.opts.max_builds > 0 && n >= shared.opts.max_builds {
                    shared.control.stop.cancel();
                }
                shared.tracker.spawn(async move {
                    let _permits = (global, local);
                    let control = Arc::new(JobControl::new());
                    let watcher = {
                        let control = control.clone();
                        let abort = shared2.control.abort.clone();
                        tokio::spawn(async move {
                            abort.cancelled().await;
                            control.abort(AbortReason::Interrupted);
                        })
                    };
                    let project = job.job_info.project_id;
                    let report = process_job(&ctx, *job, control, cid, pcid).await;
                    watcher.abort();
                    {
                        let mut s = handle.slots.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                        s.used.remove(&cid);
                        if let Some(p) = s.per_project.get_mut(&project) {
                            p.remove(&pcid);
                        }
                    }
                    if let Some(cb) = &shared2.opts.on_job {
                        cb(report);
                    }
                });
                // Ask again at once: more jobs may be waiting.
            }
            Ok(JobRequestResult::NoJob { last_update: lu }) => {
                unhealthy = 0;
                if let Some(lu) = lu {
                    last_update = lu;
                }
                drop((global, local));
                pause(&shared, check).await;
            }
            Ok(JobRequestResult::Conflict) => {
                drop((global, local));
                pause(&shared, check).await;
            }
            Ok(JobRequestResult::Forbidden) | Ok(JobRequestResult::Failed(_)) | Err(_) => {
                if let Err(e) = &answer {
                    tracing::warn!(runner = %runner.short_token(), "job request failed: {e}");
                }
                drop((global, local));
                unhealthy += 1;
                if unhealthy >= runner.unhealthy_requests_limit() {
                    tracing::warn!(runner = %runner.short_token(), "runner is unhealthy; pausing requests for {:?}", runner.unhealthy_interval());
                    pause(&shared, runner.unhealthy_interval()).await;
                    unhealthy = 0;
                } else {
                    pause(&shared, check).await;
                }
            }
        }
    }
}

/// `kiln runner run`: loads the configuration, serves metrics, and reacts to signals:
/// SIGQUIT stops taking jobs and waits for running ones; SIGTERM/SIGINT abort running jobs
/// and exit within `shutdown_timeout` (a second one exits at once); SIGHUP reloads the
/// configuration, keeping the last good one when the file is broken.
pub async fn run_with_signals(opts: RunOptions) -> Result<(), RunError> {
    use tokio::signal::unix::{SignalKind, signal};
    let loaded = crate::config::load(&opts.config_path)?;
    for w in &loaded.warnings {
        tracing::warn!("{}: {w}", opts.config_path.display());
    }
    let system_id = crate::config::load_or_create_system_id(&opts.config_path)?;
    let config = Arc::new(loaded.config);
    let (tx, rx) = watch::channel(config.clone());
    let control = RunControl::default();
    let metrics = Arc::new(Metrics::new());
    let listen = opts.listen_address.clone().or_else(|| config.listen_address.clone());
    if let Some(address) = listen {
        let address = if address.contains(':') { address } else { format!("{address}:9252") };
        let listener = tokio::net::TcpListener::bind(&address)
            .await
            .map_err(|source| RunError::Listen { address: address.clone(), source })?;
        tracing::info!("metrics server listening on {address}");
        tokio::spawn(crate::metrics::serve(listener, metrics.clone(), control.stop.clone()));
    }
    let mut term = signal(SignalKind::terminate()).map_err(RunError::Signals)?;
    let mut int = signal(SignalKind::interrupt()).map_err(RunError::Signals)?;
    let mut quit = signal(SignalKind::quit()).map_err(RunError::Signals)?;
    let mut hup = signal(SignalKind::hangup()).map_err(RunError::Signals)?;
    let path = opts.config_path.clone();
    let serve_task = tokio::spawn(serve(rx, system_id, opts, control.clone(), metrics));
    tokio::pin!(serve_task);
    let mut aborting = false;
    loop {
        tokio::select! {
            r = &mut serve_task => return r.unwrap_or(Ok(())),
            _ = quit.recv() => {
                tracing::info!("SIGQUIT: no new jobs; waiting for running jobs to finish");
                control.stop.cancel();
            }
            _ = hup.recv() => match crate::config::load(&path) {
                Ok(loaded) => {
                    for w in &loaded.warnings {
                        tracing::warn!("{}: {w}", path.display());
                    }
                    tracing::info!("configuration reloaded");
                    let _ = tx.send(Arc::new(loaded.config));
                }
                Err(e) => tracing::error!("configuration not reloaded, keeping the last good one: {e}"),
            },
            _ = async { tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} } } => {
                if aborting {
                    tracing::warn!("second signal: exiting now");
                    return Ok(());
                }
                aborting = true;
                tracing::info!("stopping: aborting running jobs");
                control.stop.cancel();
                control.abort.cancel();
                let timeout = tx.borrow().shutdown_timeout();
                tokio::spawn(async move {
                    tokio::time::sleep(timeout).await;
                    tracing::warn!("shutdown_timeout reached; exiting");
                    std::process::exit(1);
                });
            }
        }
    }
}
