//! Executors: where a job's stage scripts run.
//!
//! GitLab Runner's split: an [`ExecutorProvider`] owns capacity, creation, the features it
//! supports and its default shell; an [`Executor`] owns one job's lifecycle:
//!
//! 1. [`Executor::configure`] decides the build and cache directories (for the custom
//!    executor this is `config_exec`);
//! 2. [`Executor::prepare`] is the `prepare_executor` stage;
//! 3. [`Executor::run`] runs one stage script; the runner calls it once per stage and owns
//!    which stage is current;
//! 4. [`Executor::cleanup`] always runs, even after a failed `configure` or `prepare`, and
//!    must be idempotent.
//!
//! Kinds are a closed enum matched in one place ([`Providers::get`]); the Docker and
//! Kubernetes providers live in their own crates and are handed in by the binary.

pub mod custom;
mod local_sources;
pub mod native;
pub mod process;
pub mod shell;

use std::sync::Arc;

use async_trait::async_trait;
use kiln_api::{FailureReason, FeaturesInfo, JobResponse, JobVariable};
use tokio_util::sync::CancellationToken;

use crate::config::RunnerConfig;
use crate::script::ShellKind;
use crate::script::native::NativeScript;
use crate::stage::Stage;
use crate::trace::JobTrace;

/// The executor kinds this runner knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExecutorKind {
    Shell,
    Custom,
    Docker,
    Kubernetes,
}

impl ExecutorKind {
    /// Parses an `executor` setting.
    pub fn parse(s: &str) -> Option<ExecutorKind> {
        match s {
            "shell" => Some(Self::Shell),
            "custom" => Some(Self::Custom),
            "docker" => Some(Self::Docker),
            "kubernetes" => Some(Self::Kubernetes),
            _ => None,
        }
    }

    /// The setting's spelling.
    pub fn name(self) -> &'static str {
        match self {
            Self::Shell => "shell",
            Self::Custom => "custom",
            Self::Docker => "docker",
            Self::Kubernetes => "kubernetes",
        }
    }
}

/// Why a stage (or the executor itself) failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecError {
    /// The script failed: `script_failure` with this exit code.
    #[error("exit code {exit_code}")]
    BuildFailure { exit_code: i32 },
    /// The executor could not do its work: `runner_system_failure`.
    #[error("{0}")]
    SystemFailure(String),
    /// The command was canceled through its token (the runner knows why).
    #[error("canceled")]
    Canceled,
    /// The executor failed for a reason GitLab Runner names on its own (the Docker
    /// executor's `image_pull_failure`); sent down-mapped as every reason is.
    #[error("{message}")]
    Failure { reason: FailureReason, message: String },
}

/// What the runner tells an executor about a new job.
#[derive(Debug, Clone)]
pub struct JobSetup {
    pub job: Arc<JobResponse>,
    pub runner: Arc<RunnerConfig>,
    pub trace: Arc<JobTrace>,
    /// Index of this job among the runner's running jobs.
    pub concurrent_id: usize,
    /// Index of this job among running jobs of the same project.
    pub project_concurrent_id: usize,
    /// The runner's working directory (default base of `builds` and `cache`).
    pub working_dir: std::path::PathBuf,
}

/// Where the job lives, decided by [`Executor::configure`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    pub builds_dir: String,
    pub cache_dir: String,
    pub builds_dir_is_shared: bool,
    pub shell: ShellKind,
    pub hostname: Option<String>,
    /// Extra environment for every command (custom executor `job_env`).
    pub job_env: Vec<(String, String)>,
    /// Where the predefined stages run, when not where the user stages do.
    pub predefined: Option<PredefinedEnvironment>,
}

/// The view of the predefined stages (`get_sources`, caches, artifacts, ...; see
/// [`Stage::is_predefined`]) when an executor runs them somewhere else than the user
/// stages: the Docker executor runs `step_*` in the job's container and the rest on this
/// machine, in the same directory bind-mounted. The runner renders those stages with the
/// job's directories moved from [`Environment::builds_dir`] to `builds_dir` here (and the
/// cache directory to `cache_dir`), and with this shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PredefinedEnvironment {
    pub builds_dir: String,
    pub cache_dir: String,
    pub shell: ShellKind,
}

/// One stage script to run.
#[derive(Debug, Clone)]
pub struct ExecutorCommand {
    pub stage: Stage,
    pub script: String,
    /// The same stage as steps the runner can do itself, when it has such a form: an
    /// executor whose scripts run on this machine as this user may run it instead of
    /// `script` ([`crate::script::native`]); others ignore it.
    pub native: Option<NativeScript>,
    /// Cancels this command: the executor stops its processes and returns `Canceled`.
    pub cancel: CancellationToken,
}

/// One job's lifecycle on an executor.
#[async_trait]
pub trait Executor: Send {
    /// The executor the job log names in "Preparing the ... executor", when
    /// it is not the runner's configured one (an executor that picks per job).
    fn name_for(&self, _job: &JobResponse) -> Option<&'static str> {
        None
    }
    /// Decides directories and shell.
    async fn configure(&mut self, setup: &JobSetup) -> Result<Environment, ExecError>;
    /// The `prepare_executor` stage, with the job's final variables.
    async fn prepare(
        &mut self,
        variables: &[JobVariable],
        cancel: &CancellationToken,
    ) -> Result<(), ExecError>;
    /// Runs one stage script.
    async fn run(&mut self, cmd: ExecutorCommand) -> Result<(), ExecError>;
    /// Releases everything; always called, idempotent.
    async fn cleanup(&mut self);
}

/// Capacity, creation and features of one executor kind.
pub trait ExecutorProvider: Send + Sync {
    /// The kind.
    fn kind(&self) -> ExecutorKind;
    /// Adds the features this executor supports.
    fn features(&self, features: &mut FeaturesInfo);
    /// The shell when `shell` is not configured.
    fn default_shell(&self) -> ShellKind;
    /// Whether another job may start now (beyond `limit`, which the runner enforces).
    fn can_create(&self) -> bool {
        true
    }
    /// A new executor for one job.
    fn create(
        &self,
        runner: &RunnerConfig,
        settings: &ExecutorSettings,
    ) -> Result<Box<dyn Executor>, ExecError>;
}

/// Settings every executor gets from the runner process.
#[derive(Debug, Clone, Default)]
pub struct ExecutorSettings {
    /// How to call our helper subcommands (`[current_exe, "runner", "helper"]`).
    pub helper: Vec<String>,
}

/// The providers of this process: shell and custom are built in, Docker and Kubernetes
/// are supplied by their crates through the binary.
#[derive(Clone, Default)]
pub struct Providers {
    pub docker: Option<Arc<dyn ExecutorProvider>>,
    pub kubernetes: Option<Arc<dyn ExecutorProvider>>,
    /// Kept, not made per job: its jobs share state ([`shell::ShellProvider`]).
    pub shell: shell::ShellProvider,
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Providers")
            .field("docker", &self.docker.is_some())
            .field("kubernetes", &self.kubernetes.is_some())
            .finish()
    }
}

impl Providers {
    /// The provider of a kind, if this process has one.
    pub fn get(&self, kind: ExecutorKind) -> Option<Arc<dyn ExecutorProvider>> {
        match kind {
            ExecutorKind::Shell => Some(Arc::new(self.shell.clone())),
            ExecutorKind::Custom => Some(Arc::new(custom::CustomProvider)),
            ExecutorKind::Docker => self.docker.clone(),
            ExecutorKind::Kubernetes => self.kubernetes.clone(),
        }
    }
}

/// Features every shell-script executor has (GitLab Runner's shells add these).
pub fn shell_features(f: &mut FeaturesInfo) {
    f.variables = true;
    f.artifacts = true;
    f.cache = true;
    f.fallback_cache_keys = true;
    f.upload_multiple_artifacts = true;
    f.upload_raw_artifacts = true;
    f.refspecs = true;
    f.masking = true;
    f.raw_variables = true;
    f.artifacts_exclude = true;
    f.multi_build_steps = true;
    f.return_exit_code = true;
}
