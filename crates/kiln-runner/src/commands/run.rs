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
    metrics: Arc<Metrics>,
    system_id: String,
    tracker: TaskTracker,
    builds: std::sync::atomic::AtomicUsize,
    last_job: Mutex<std::time::Instant>,
}

/// Runs the loop until `control.stop` and every job has finished.
pub async fn serve(
    config: watch::Receiver<Arc<Config>>,
    system_id: String,
    opts: RunOptions,
    control: RunControl,
    metrics: Arc<Metrics>,
) -> Result<(), RunError> {
    let initial = config.borrow().clone();
    let shared = Arc::new(Shared {
        concurrent: Arc::new(Semaphore::new(initial.concurrent())),
        opts,
        control: control.clone(),
        config,
        metrics,
        system_id,
        tracker: TaskTracker::new(),
        builds: std::sync::atomic::AtomicUsize::new(0),
        last_job: Mutex::new(std::time::Instant::now()),
    });
    let limits: Vec<_> = initial
        .runners
        .iter()
        .map(|r| (r.short_token(), r.name.clone(), shared.system_id.clone(), r.limit))
        .collect();
    shared.metrics.set_limits(initial.concurrent(), &limits);
    let feeders = TaskTracker::new();
    let count = initial.runners.len().max(1);
    for runner in &initial.runners {
        let limit = (runner.limit > 0).then(|| Arc::new(Semaphore::new(runner.limit)));
        let slots = Arc::new(Mutex::new(Slots::default()));
        for slot in 0..runner.request_concurrency() {
            let shared = shared.clone();
            let token = runner.token.clone();
            let limit = limit.clone();
            let slots = slots.clone();
            feeders.spawn(async move { feed(shared, token, limit, slots, count, slot).await });
        }
    }
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
    feeders.close();
    feeders.wait().await;
    shared.tracker.close();
    shared.tracker.wait().await;
    Ok(())
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

async fn feed(
    shared: Arc<Shared>,
    token: String,
    limit: Option<Arc<Semaphore>>,
    slots: Arc<Mutex<Slots>>,
    runners: usize,
    slot: usize,
) {
    let client = match Client::new() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("{e}");
            return;
        }
    };
    let mut last_update = String::new();
    let mut unhealthy = 0u32;
    let stagger = shared.config.borrow().check_interval() / u32::try_from(runners).unwrap_or(1).max(1);
    if slot > 0 {
        pause(&shared, stagger.mul_f64(slot as f64 / 10.0)).await;
    }
    loop {
        if shared.control.stop.is_cancelled() {
            return;
        }
        let Some(runner) = runner_by_token(&shared, &token) else {
            tracing::info!(
                "runner {} was removed from the configuration",
                crate::config::RunnerConfig { token: token.clone(), ..Default::default() }.short_token()
            );
            return;
        };
        let check = shared.config.borrow().check_interval() / u32::try_from(runners).unwrap_or(1).max(1);
        let global = tokio::select! {
            p = shared.concurrent.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
            () = shared.control.stop.cancelled() => return,
        };
        let local = match &limit {
            Some(l) => tokio::select! {
                p = l.clone().acquire_owned() => match p { Ok(p) => Some(p), Err(_) => return },
                () = shared.control.stop.cancelled() => return,
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
                };
                let shared2 = shared.clone();
                let slots = slots.clone();
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
                        let mut s = slots.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
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
