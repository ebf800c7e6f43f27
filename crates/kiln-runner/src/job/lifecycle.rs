//! The job lifecycle: stages in GitLab Runner's order, each in its own log section, with
//! timeouts, graceful cancel and abort, and a failure reason for every way a job can end.
//!
//! The runner, not the executor, owns the current stage. Order:
//! `prepare_executor` → `prepare_script` → `get_sources` → `restore_cache` →
//! `download_artifacts` → `step_*` (stop at the first failure) → `after_script` →
//! `archive_cache` / `archive_cache_on_failure` → `upload_artifacts_on_success` /
//! `_on_failure` → `cleanup_file_variables`; then `Executor::cleanup`, always.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kiln_api::{FailureReason, JobResponse, JobVariable};
use tokio_util::sync::CancellationToken;

use crate::config::RunnerConfig;
use crate::executor::{ExecError, Executor, ExecutorCommand, JobSetup};
use crate::job::{AbortReason, JobControl, JobDirs, job_dirs, runner_variables};
use crate::script::stages::{self, CacheUrls, RunnerHooks, ScriptContext, cache_key};
use crate::stage::Stage;
use crate::trace::JobTrace;

/// Presigned URLs for a cache key (`project id`, `key`).
pub type CacheUrlFn = Arc<dyn Fn(i64, &str) -> CacheUrls + Send + Sync>;

/// What the runner process gives every job.
#[derive(Clone)]
pub struct JobSettings {
    pub runner: Arc<RunnerConfig>,
    pub system_id: String,
    /// How scripts call our helper subcommands.
    pub helper: Vec<String>,
    pub working_dir: PathBuf,
    pub concurrent_id: usize,
    pub project_concurrent_id: usize,
    /// Presigned URLs for a cache key (`project id`, `key`), when a remote cache is set.
    pub cache_urls: Option<CacheUrlFn>,
}

impl std::fmt::Debug for JobSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobSettings")
            .field("runner", &self.runner.name)
            .field("concurrent_id", &self.concurrent_id)
            .finish()
    }
}

/// How a job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobOutcome {
    pub succeeded: bool,
    pub failure_reason: Option<FailureReason>,
    pub exit_code: Option<i32>,
    /// Printed after `Job failed:`.
    pub message: String,
}

impl JobOutcome {
    fn success() -> JobOutcome {
        JobOutcome { succeeded: true, failure_reason: None, exit_code: None, message: String::new() }
    }

    fn failed(reason: FailureReason, message: impl Into<String>, exit_code: Option<i32>) -> JobOutcome {
        JobOutcome { succeeded: false, failure_reason: Some(reason), exit_code, message: message.into() }
    }
}

/// Why a stage did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum StageError {
    Build(i32),
    System(String),
    Aborted(AbortReason),
    Graceful,
    StageTimeout(Duration),
    /// The executor named the reason (`image_pull_failure`).
    Reason(FailureReason, String),
}

/// Runs one job on one executor.
pub struct JobRunner {
    pub job: Arc<JobResponse>,
    pub settings: JobSettings,
    pub trace: Arc<JobTrace>,
    pub control: Arc<JobControl>,
    /// The current stage's name, for metrics and `/debug/jobs/list`.
    pub stage: Arc<Mutex<String>>,
}

struct Resolved {
    dirs: JobDirs,
    variables: Vec<JobVariable>,
    shell: crate::script::ShellKind,
    cache_urls: BTreeMap<String, CacheUrls>,
    /// The predefined stages' view, when the executor runs them elsewhere.
    predefined: Option<View>,
}

/// Directories, variables and shell of one place stages run in.
struct View {
    dirs: JobDirs,
    variables: Vec<JobVariable>,
    shell: crate::script::ShellKind,
}

/// `path` moved from under `from` to under `to`.
fn rebase(path: &str, from: &str, to: &str) -> String {
    let to = to.trim_end_matches('/');
    match path.strip_prefix(from.trim_end_matches('/')) {
        Some(rest) => format!("{to}{rest}"),
        None => path.to_string(),
    }
}

/// Formats seconds as Go's `time.Duration` does (`1h0m0s`, `3m20s`, `45s`).
pub fn go_duration(d: Duration) -> String {
    let total = d.as_secs();
    let (h, m, s) = (total / 3600, (total % 3600) / 60, total % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

fn var_duration(vars: &[JobVariable], key: &str) -> Option<Duration> {
    vars.iter().rev().find(|v| v.key == key).and_then(|v| crate::config::parse_go_duration(&v.value))
}

fn var_attempts(vars: &[JobVariable], key: &str) -> u32 {
    vars.iter()
        .rev()
        .find(|v| v.key == key)
        .and_then(|v| v.value.parse::<u32>().ok())
        .unwrap_or(1)
        .clamp(1, 10)
}

impl JobRunner {
    fn set_stage(&self, stage: &str) {
        *self.stage.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = stage.to_string();
    }

    /// Runs every stage, cleans up, and writes the final log line.
    pub async fn run(&self, mut executor: Box<dyn Executor>) -> JobOutcome {
        let timeout = Duration::from_secs(self.job.timeout_seconds());
        let watchdog = {
            let control = self.control.clone();
            tokio::spawn(async move {
                tokio::time::sleep(timeout).await;
                control.abort(AbortReason::Timeout);
            })
        };
        let outcome = self.run_stages(executor.as_mut(), timeout).await;
        self.set_stage("cleanup");
        executor.cleanup().await;
        watchdog.abort();
        self.trace.flush();
        if outcome.succeeded {
            self.trace.notice("Job succeeded");
        } else {
            let system = outcome.failure_reason.as_ref().is_some_and(FailureReason::is_system_failure);
            if system {
                self.trace.error(&format!("Job failed (system failure): {}", outcome.message));
            } else {
                self.trace.error(&format!("Job failed: {}", outcome.message));
            }
        }
        self.trace.finish();
        outcome
    }

    async fn run_stages(&self, ex: &mut dyn Executor, timeout: Duration) -> JobOutcome {
        let runner = &self.settings.runner;
        self.trace.line(&format!(
            "{}Running with {} {} ({}){}",
            crate::trace::ansi::BOLD_GREEN,
            crate::version::NAME,
            crate::version::VERSION,
            crate::version::REVISION,
            crate::trace::ansi::RESET
        ));
        self.trace.line(&format!(
            "{}  on {} {}, system ID: {}{}",
            crate::trace::ansi::BOLD_GREEN,
            runner.name,
            runner.short_token(),
            self.settings.system_id,
            crate::trace::ansi::RESET
        ));
        let resolved = match self.prepare_executor(ex).await {
            Ok(r) => r,
            Err(e) => return self.outcome_of(e, timeout),
        };
        let mut error: Option<StageError> = None;
        for stage in [Stage::PrepareScript, Stage::GetSources, Stage::RestoreCache, Stage::DownloadArtifacts]
        {
            let key = match stage {
                Stage::GetSources => "GET_SOURCES_ATTEMPTS",
                Stage::RestoreCache => "RESTORE_CACHE_ATTEMPTS",
                Stage::DownloadArtifacts => "ARTIFACT_DOWNLOAD_ATTEMPTS",
                _ => "",
            };
            let attempts = if key.is_empty() { 1 } else { var_attempts(&resolved.variables, key) };
            let mut result = Ok(());
            for attempt in 1..=attempts {
                if attempt > 1 {
                    self.trace.warning(&format!(
                        "Retrying stage {} (attempt {attempt} of {attempts})",
                        stage.name()
                    ));
                    if stage == Stage::GetSources {
                        let _ = self.stage(ex, &resolved, Stage::ClearWorktree, None, "running").await;
                    }
                }
                result = self.stage(ex, &resolved, stage.clone(), None, "running").await;
                if !matches!(result, Err(StageError::Build(_)) | Err(StageError::System(_))) {
                    break;
                }
            }
            if let Err(e) = result {
                error = Some(e);
                break;
            }
        }
        if error.is_none() {
            let script_timeout = var_duration(&resolved.variables, "RUNNER_SCRIPT_TIMEOUT");
            for step in self.job.steps.iter().filter(|s| s.name != "after_script") {
                if let Err(e) =
                    self.stage(ex, &resolved, Stage::Step(step.name.clone()), script_timeout, "running").await
                {
                    error = Some(e);
                    break;
                }
            }
        }
        let aborted = matches!(error, Some(StageError::Aborted(_)));
        if !aborted {
            let status = match &error {
                None => "success",
                Some(StageError::Graceful) => "canceled",
                Some(_) => "failed",
            };
            let after_timeout = var_duration(&resolved.variables, "RUNNER_AFTER_SCRIPT_TIMEOUT")
                .unwrap_or(Duration::from_secs(300));
            match self.stage(ex, &resolved, Stage::AfterScript, Some(after_timeout), status).await {
                Ok(()) => {}
                Err(StageError::Aborted(r)) => error = Some(StageError::Aborted(r)),
                Err(e) => {
                    let ignore = resolved
                        .variables
                        .iter()
                        .rev()
                        .find(|v| v.key == "AFTER_SCRIPT_IGNORE_ERRORS")
                        .is_none_or(|v| v.value != "false");
                    let text = describe(&e);
                    self.trace
                        .warning(&format!("after_script failed, but job will continue unaffected: {text}"));
                    if !ignore && error.is_none() {
                        error = Some(e);
                    }
                }
            }
        }
        if !matches!(error, Some(StageError::Aborted(_))) {
            let ok = error.is_none();
            let cache_stage = if ok { Stage::ArchiveCache } else { Stage::ArchiveCacheOnFailure };
            if let Err(e) = self.stage(ex, &resolved, cache_stage, None, "running").await
                && matches!(e, StageError::Aborted(_))
            {
                error = Some(e);
            }
        }
        if !matches!(error, Some(StageError::Aborted(_))) {
            let ok = error.is_none();
            let upload = if ok { Stage::UploadArtifactsOnSuccess } else { Stage::UploadArtifactsOnFailure };
            if let Err(e) = self.stage(ex, &resolved, upload, None, "running").await
                && (error.is_none() || matches!(e, StageError::Aborted(_)))
            {
                error = Some(e);
            }
        }
        // File variables hold secrets: remove them even after an abort.
        let cleanup_result = self
            .stage_with_token(
                ex,
                &resolved,
                Stage::CleanupFileVariables,
                Some(Duration::from_secs(300)),
                "running",
                CancellationToken::new(),
            )
            .await;
        if let Err(e) = cleanup_result {
            self.trace.warning(&format!("failed to clean up file variables: {}", describe(&e)));
        }
        match error {
            None => JobOutcome::success(),
            Some(e) => self.outcome_of(e, timeout),
        }
    }

    fn outcome_of(&self, e: StageError, timeout: Duration) -> JobOutcome {
        match e {
            StageError::Build(code) => {
                JobOutcome::failed(FailureReason::ScriptFailure, format!("exit code {code}"), Some(code))
            }
            StageError::System(m) => JobOutcome::failed(FailureReason::RunnerSystemFailure, m, None),
            StageError::Reason(reason, m) => JobOutcome::failed(reason, m, None),
            StageError::Aborted(AbortReason::Timeout) => JobOutcome::failed(
                FailureReason::JobExecutionTimeout,
                format!("execution took longer than {} seconds", go_duration(timeout)),
                None,
            ),
            StageError::StageTimeout(d) => JobOutcome::failed(
                FailureReason::JobExecutionTimeout,
                format!("script timeout: execution took longer than {} seconds", go_duration(d)),
                None,
            ),
            StageError::Aborted(AbortReason::Canceled) | StageError::Graceful => {
                JobOutcome::failed(FailureReason::JobCanceled, "canceled", None)
            }
            StageError::Aborted(AbortReason::Interrupted) => {
                JobOutcome::failed(FailureReason::RunnerInterrupted, "aborted: interrupted", None)
            }
        }
    }

    async fn prepare_executor(&self, ex: &mut dyn Executor) -> Result<Resolved, StageError> {
        let runner = &self.settings.runner;
        self.set_stage(&Stage::PrepareExecutor.name());
        self.trace.start_section(&Stage::PrepareExecutor.name(), false);
        let name = ex.name_for(&self.job).unwrap_or(&runner.executor);
        self.trace.header(&format!("Preparing the \"{name}\" executor"));
        let result = self.prepare_inner(ex).await;
        self.trace.end_section(&Stage::PrepareExecutor.name());
        result
    }

    async fn prepare_inner(&self, ex: &mut dyn Executor) -> Result<Resolved, StageError> {
        let runner = &self.settings.runner;
        let setup = JobSetup {
            job: self.job.clone(),
            runner: runner.clone(),
            trace: self.trace.clone(),
            concurrent_id: self.settings.concurrent_id,
            project_concurrent_id: self.settings.project_concurrent_id,
            working_dir: self.settings.working_dir.clone(),
        };
        let env = tokio::select! {
            r = ex.configure(&setup) => r.map_err(|e| self.map_exec(e, None))?,
            () = self.control.abort.cancelled() => return Err(StageError::Aborted(self.control.abort_reason().unwrap_or(AbortReason::Canceled))),
        };
        let custom_build_dir = runner.custom_build_dir.as_ref().and_then(|c| c.enabled).unwrap_or(true);
        let dirs = job_dirs(
            &self.job,
            &env,
            &runner.short_token(),
            self.settings.project_concurrent_id,
            custom_build_dir,
        )
        .map_err(StageError::System)?;
        let variables = runner_variables(
            &self.job,
            runner,
            &dirs,
            self.settings.concurrent_id,
            self.settings.project_concurrent_id,
            env.builds_dir_is_shared,
        );
        let predefined = env.predefined.as_ref().map(|p| {
            let dirs = JobDirs {
                builds_dir: p.builds_dir.trim_end_matches('/').to_string(),
                project_dir: rebase(&dirs.project_dir, &dirs.builds_dir, &p.builds_dir),
                tmp_dir: rebase(&dirs.tmp_dir, &dirs.builds_dir, &p.builds_dir),
                cache_dir: rebase(&dirs.cache_dir, &env.cache_dir, &p.cache_dir),
            };
            let variables = runner_variables(
                &self.job,
                runner,
                &dirs,
                self.settings.concurrent_id,
                self.settings.project_concurrent_id,
                env.builds_dir_is_shared,
            );
            View { dirs, variables, shell: p.shell }
        });
        ex.prepare(&variables, &self.control.abort).await.map_err(|e| self.map_exec(e, None))?;
        let mut resolved =
            Resolved { dirs, variables, shell: env.shell, cache_urls: BTreeMap::new(), predefined };
        if let Some(urls) = &self.settings.cache_urls {
            let ctx = self.context(&resolved, "running");
            let mut keys = Vec::new();
            for spec in &self.job.cache {
                let fallbacks =
                    spec.fallback_keys.iter().map(String::as_str).chain(ctx.var("CACHE_FALLBACK_KEY"));
                for k in std::iter::once(spec.key.as_str()).chain(fallbacks) {
                    if let Some(key) = cache_key(k, &ctx) {
                        keys.push(key);
                    }
                }
            }
            let map = keys.into_iter().map(|k| {
                let u = urls(self.job.job_info.project_id, &k);
                (k, u)
            });
            resolved.cache_urls = map.collect();
        }
        Ok(resolved)
    }

    fn context<'a>(&'a self, r: &'a Resolved, job_status: &'a str) -> ScriptContext<'a> {
        self.view_context(r, &r.dirs, &r.variables, r.shell, job_status)
    }

    /// The context a stage is rendered with: the predefined view for predefined stages
    /// when the executor has one.
    fn stage_context<'a>(&'a self, stage: &Stage, r: &'a Resolved, job_status: &'a str) -> ScriptContext<'a> {
        match &r.predefined {
            Some(v) if stage.is_predefined() => {
                self.view_context(r, &v.dirs, &v.variables, v.shell, job_status)
            }
            _ => self.context(r, job_status),
        }
    }

    fn view_context<'a>(
        &'a self,
        r: &'a Resolved,
        dirs: &'a JobDirs,
        variables: &'a [JobVariable],
        shell: crate::script::ShellKind,
        job_status: &'a str,
    ) -> ScriptContext<'a> {
        let runner = &self.settings.runner;
        let debug = self.job.variable("CI_DEBUG_TRACE") == Some("true") && !runner.debug_trace_disabled;
        ScriptContext {
            job: &self.job,
            variables,
            shell,
            builds_dir: &dirs.builds_dir,
            project_dir: &dirs.project_dir,
            tmp_dir: &dirs.tmp_dir,
            cache_dir: &dirs.cache_dir,
            helper: &self.settings.helper,
            cache_urls: &r.cache_urls,
            coordinator_url: runner.url.as_str(),
            hooks: RunnerHooks {
                pre_get_sources: runner.pre_get_sources_script.as_deref(),
                post_get_sources: runner.post_get_sources_script.as_deref(),
                pre_build: runner.pre_build_script.as_deref(),
                post_build: runner.post_build_script.as_deref(),
            },
            job_status,
            debug_trace: debug,
        }
    }

    fn map_exec(&self, e: ExecError, fired: Option<&Mutex<Option<StageError>>>) -> StageError {
        match e {
            ExecError::BuildFailure { exit_code } => StageError::Build(exit_code),
            ExecError::SystemFailure(m) => StageError::System(m),
            ExecError::Failure { reason, message } => StageError::Reason(reason, message),
            ExecError::Canceled => {
                if let Some(r) = self.control.abort_reason() {
                    return StageError::Aborted(r);
                }
                fired
                    .and_then(|f| f.lock().ok().and_then(|g| g.clone()))
                    .unwrap_or(StageError::Aborted(AbortReason::Canceled))
            }
        }
    }

    async fn stage(
        &self,
        ex: &mut dyn Executor,
        r: &Resolved,
        stage: Stage,
        timeout: Option<Duration>,
        job_status: &str,
    ) -> Result<(), StageError> {
        if let Some(reason) = self.control.abort_reason() {
            return Err(StageError::Aborted(reason));
        }
        let token = self.control.abort.child_token();
        self.stage_with_token(ex, r, stage, timeout, job_status, token).await
    }

    async fn stage_with_token(
        &self,
        ex: &mut dyn Executor,
        r: &Resolved,
        stage: Stage,
        timeout: Option<Duration>,
        job_status: &str,
        token: CancellationToken,
    ) -> Result<(), StageError> {
        let user = matches!(stage, Stage::Step(_));
        if user && self.control.is_canceling() {
            return Err(StageError::Graceful);
        }
        let Some(stages::Built { script, native }) =
            stages::build_stage(&stage, &self.stage_context(&stage, r, job_status))
        else {
            return Ok(());
        };
        let name = stage.name();
        self.set_stage(&name);
        self.trace.start_section(&name, false);
        self.trace.header(&stage.title());
        let fired: Arc<Mutex<Option<StageError>>> = Arc::new(Mutex::new(None));
        let guard = {
            let token = token.clone();
            let graceful = self.control.graceful.clone();
            let fired = fired.clone();
            tokio::spawn(async move {
                let sleep = async {
                    match timeout {
                        Some(d) => tokio::time::sleep(d).await,
                        None => std::future::pending().await,
                    }
                };
                let why = tokio::select! {
                    () = graceful.cancelled(), if user => StageError::Graceful,
                    () = sleep => StageError::StageTimeout(timeout.unwrap_or_default()),
                    () = token.cancelled() => return,
                };
                if let Ok(mut f) = fired.lock() {
                    *f = Some(why);
                }
                token.cancel();
            })
        };
        let result = ex.run(ExecutorCommand { stage: stage.clone(), script, native, cancel: token }).await;
        guard.abort();
        self.trace.end_section(&name);
        result.map_err(|e| self.map_exec(e, Some(&fired)))
    }
}

fn describe(e: &StageError) -> String {
    match e {
        StageError::Build(code) => format!("exit code {code}"),
        StageError::System(m) | StageError::Reason(_, m) => m.clone(),
        StageError::Aborted(_) | StageError::Graceful => "canceled".into(),
        StageError::StageTimeout(d) => format!("execution took longer than {} seconds", go_duration(*d)),
    }
}
