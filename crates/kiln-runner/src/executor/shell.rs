//! The `shell` executor: stage scripts run on this machine, in the runner's environment.
//!
//! Builds live under `<builds_dir>/<short token>/<concurrent project id>/<namespace>/<project>`
//! (a shared builds directory), so a later job of the same project reuses the checkout
//! with `GIT_STRATEGY: fetch`.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use kiln_api::{FeaturesInfo, JobVariable};
use tokio_util::sync::CancellationToken;

use crate::config::RunnerConfig;
use crate::executor::native;
use crate::executor::process::{KillTimeouts, ProcessSpec, run_streams};
use crate::executor::{
    Environment, ExecError, Executor, ExecutorCommand, ExecutorKind, ExecutorProvider, ExecutorSettings,
    JobSetup, shell_features,
};
use crate::script::ShellKind;
use crate::trace::{STREAM_WORK, StreamKind};

/// Provider of shell executors. Its jobs share the shallow walks of their in-process
/// `get_sources` (the jobs of one local pipeline check out one commit).
#[derive(Debug, Clone, Default)]
pub struct ShellProvider {
    walks: native::WalkCache,
}

impl ExecutorProvider for ShellProvider {
    fn kind(&self) -> ExecutorKind {
        ExecutorKind::Shell
    }

    fn features(&self, f: &mut FeaturesInfo) {
        shell_features(f);
        f.shared = true;
    }

    fn default_shell(&self) -> ShellKind {
        ShellKind::Bash
    }

    fn create(
        &self,
        _runner: &RunnerConfig,
        _settings: &ExecutorSettings,
    ) -> Result<Box<dyn Executor>, ExecError> {
        Ok(Box::new(ShellExecutor { walks: self.walks.clone(), ..ShellExecutor::default() }))
    }
}

/// One job on the shell executor.
#[derive(Debug, Default)]
pub struct ShellExecutor {
    setup: Option<JobSetup>,
    shell: Option<ShellKind>,
    script_dir: Option<tempfile::TempDir>,
    /// Stages with a native form may run in process (no variable changes what a
    /// helper process would do).
    native: bool,
    walks: native::WalkCache,
}

/// An absolute version of a configured directory, relative ones taken from `base`.
pub(crate) fn absolute(dir: &str, base: &Path) -> PathBuf {
    let p = PathBuf::from(dir);
    if p.is_absolute() { p } else { base.join(p) }
}

#[async_trait]
impl Executor for ShellExecutor {
    async fn configure(&mut self, setup: &JobSetup) -> Result<Environment, ExecError> {
        let runner = &setup.runner;
        let shell = match runner.shell.as_deref() {
            None | Some("") => ShellKind::Bash,
            Some(s) => ShellKind::parse(s)
                .ok_or_else(|| ExecError::SystemFailure(format!("shell {s:?} is not supported")))?,
        };
        let builds = absolute(runner.builds_dir.as_deref().unwrap_or("builds"), &setup.working_dir);
        let cache = absolute(runner.cache_dir.as_deref().unwrap_or("cache"), &setup.working_dir);
        self.setup = Some(setup.clone());
        self.shell = Some(shell);
        setup.trace.line(&format!("Using Shell ({}) executor...", shell.name()));
        Ok(Environment {
            builds_dir: builds.to_string_lossy().into_owned(),
            cache_dir: cache.to_string_lossy().into_owned(),
            builds_dir_is_shared: true,
            shell,
            hostname: None,
            job_env: Vec::new(),
            predefined: None,
        })
    }

    async fn prepare(
        &mut self,
        variables: &[JobVariable],
        _cancel: &CancellationToken,
    ) -> Result<(), ExecError> {
        // Stage scripts go to the job's own temporary area (`<project dir>.tmp`), as GitLab
        // Runner's do: nothing of a job is written outside its builds directory.
        let tmp = variables
            .iter()
            .rev()
            .find(|v| v.key == "RUNNER_TEMP_PROJECT_DIR")
            .map(|v| PathBuf::from(&v.value))
            .ok_or_else(|| ExecError::SystemFailure("the job has no temporary directory".into()))?;
        std::fs::create_dir_all(&tmp)
            .map_err(|e| ExecError::SystemFailure(format!("failed to create {}: {e}", tmp.display())))?;
        let dir = tempfile::Builder::new().prefix("script").tempdir_in(&tmp).map_err(|e| {
            ExecError::SystemFailure(format!(
                "failed to create the script directory in {}: {e}",
                tmp.display()
            ))
        })?;
        self.script_dir = Some(dir);
        self.native = native::allowed(variables);
        Ok(())
    }

    async fn run(&mut self, cmd: ExecutorCommand) -> Result<(), ExecError> {
        let (Some(setup), Some(shell), Some(dir)) = (&self.setup, self.shell, &self.script_dir) else {
            return Err(ExecError::SystemFailure("the shell executor was not prepared".into()));
        };
        // The scripts run here, as this user, in this environment: a stage that is only
        // helper calls or a known line needs neither the shell nor the helper binary.
        if let Some(result) = native::run_if_usable(
            cmd.native.as_ref(),
            self.native,
            Some(&self.walks),
            &setup.trace,
            &cmd.cancel,
        )
        .await
        {
            return result;
        }
        let path = dir.path().join(format!("{}.{}", cmd.stage.name(), shell.extension()));
        std::fs::write(&path, cmd.script.as_bytes())
            .map_err(|e| ExecError::SystemFailure(format!("failed to write {}: {e}", path.display())))?;
        let argv = shell.command(&path.to_string_lossy());
        let spec = ProcessSpec {
            program: argv[0].clone().into(),
            args: argv[1..].iter().map(Into::into).collect(),
            env: Vec::new(),
            clear_env: false,
            cwd: Some(setup.working_dir.clone()),
        };
        let stdout = setup.trace.stream(STREAM_WORK, StreamKind::Stdout);
        let stderr = setup.trace.stream(STREAM_WORK, StreamKind::Stderr);
        let exit = run_streams(
            &spec,
            &|b: &[u8]| stdout.write(b),
            &|b: &[u8]| stderr.write(b),
            &cmd.cancel,
            KillTimeouts::default(),
        )
        .await
        .map_err(|e| ExecError::SystemFailure(format!("failed to run {}: {e}", shell.name())))?;
        stdout.close();
        stderr.close();
        let _ = std::fs::remove_file(&path);
        if exit.canceled {
            return Err(ExecError::Canceled);
        }
        match exit.code {
            Some(0) => Ok(()),
            _ => Err(ExecError::BuildFailure { exit_code: exit.shell_code() }),
        }
    }

    async fn cleanup(&mut self) {
        if let Some(dir) = self.script_dir.take() {
            let _ = dir.close();
        }
    }
}
