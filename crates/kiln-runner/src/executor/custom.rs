//! The `custom` executor: GitLab Runner's driver protocol.
//!
//! `config_exec` (JSON on stdout) → `prepare_exec` → `run_exec <script> <stage>` per stage →
//! `cleanup_exec` (always). Every call gets the runner's environment plus `TMPDIR`,
//! `BUILD_FAILURE_EXIT_CODE`, `SYSTEM_FAILURE_EXIT_CODE`, `BUILD_EXIT_CODE_FILE`,
//! `JOB_RESPONSE_FILE`, `job_env` from `config_exec`, and every job variable as
//! `CUSTOM_ENV_<KEY>`. Exit code 1 is a build failure, 2 a system failure, anything else
//! an unknown-exit-code system failure.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use kiln_api::{FeaturesInfo, JobVariable};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use crate::config::{CustomConfig, RunnerConfig};
use crate::executor::process::{KillTimeouts, ProcessExit, ProcessSpec, run_capture, run_streams};
use crate::executor::{
    Environment, ExecError, Executor, ExecutorCommand, ExecutorKind, ExecutorProvider, ExecutorSettings,
    JobSetup, shell_features,
};
use crate::script::ShellKind;
use crate::trace::{STREAM_WORK, StreamKind, TraceStream};

const BUILD_FAILURE_EXIT_CODE: i32 = 1;
const SYSTEM_FAILURE_EXIT_CODE: i32 = 2;
const DEFAULT_EXEC_TIMEOUT: i64 = 3600;

/// Provider of custom executors.
#[derive(Debug, Clone, Copy, Default)]
pub struct CustomProvider;

impl ExecutorProvider for CustomProvider {
    fn kind(&self) -> ExecutorKind {
        ExecutorKind::Custom
    }

    fn features(&self, f: &mut FeaturesInfo) {
        shell_features(f);
        f.variables = true;
        f.shared = true;
        f.service_variables = true;
    }

    fn default_shell(&self) -> ShellKind {
        ShellKind::Bash
    }

    fn create(
        &self,
        runner: &RunnerConfig,
        _settings: &ExecutorSettings,
    ) -> Result<Box<dyn Executor>, ExecError> {
        let config = runner
            .custom
            .clone()
            .filter(|c| !c.run_exec.is_empty())
            .ok_or_else(|| ExecError::SystemFailure("custom executor is missing `run_exec`".into()))?;
        Ok(Box::new(CustomExecutor { config, ..Default::default() }))
    }
}

/// `config_exec`'s JSON output.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ConfigOutput {
    builds_dir: Option<String>,
    cache_dir: Option<String>,
    builds_dir_is_shared: Option<bool>,
    hostname: Option<String>,
    driver: Option<Driver>,
    job_env: BTreeMap<String, String>,
    shell: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Driver {
    name: String,
    version: String,
}

/// One job on the custom executor.
#[derive(Debug, Default)]
pub struct CustomExecutor {
    config: CustomConfig,
    setup: Option<JobSetup>,
    temp: Option<tempfile::TempDir>,
    job_env: Vec<(String, String)>,
    variables: Vec<JobVariable>,
    shell: Option<ShellKind>,
    cleaned: bool,
}

fn secs(v: Option<i64>, default: i64) -> Duration {
    Duration::from_secs(u64::try_from(v.filter(|v| *v > 0).unwrap_or(default)).unwrap_or(3600))
}

impl CustomExecutor {
    fn kill_timeouts(&self) -> KillTimeouts {
        KillTimeouts {
            graceful: secs(self.config.graceful_kill_timeout, 600),
            force: secs(self.config.force_kill_timeout, 10),
        }
    }

    fn temp_path(&self) -> PathBuf {
        self.temp.as_ref().map(|t| t.path().to_path_buf()).unwrap_or_else(std::env::temp_dir)
    }

    fn spec(&self, program: &str, args: &[String]) -> ProcessSpec {
        let tmp = self.temp_path();
        let mut env: Vec<(OsString, OsString)> = vec![
            ("TMPDIR".into(), tmp.clone().into()),
            ("BUILD_FAILURE_EXIT_CODE".into(), BUILD_FAILURE_EXIT_CODE.to_string().into()),
            ("SYSTEM_FAILURE_EXIT_CODE".into(), SYSTEM_FAILURE_EXIT_CODE.to_string().into()),
            ("BUILD_EXIT_CODE_FILE".into(), tmp.join("build_exit_code").into()),
            ("JOB_RESPONSE_FILE".into(), tmp.join("response.json").into()),
        ];
        env.extend(self.job_env.iter().map(|(k, v)| (k.into(), v.into())));
        env.extend(
            self.variables.iter().map(|v| (format!("CUSTOM_ENV_{}", v.key).into(), v.value.clone().into())),
        );
        if let Some(setup) = &self.setup {
            let services: Vec<serde_json::Value> = setup
                .job
                .services
                .iter()
                .map(|s| serde_json::json!({"name": s.name, "alias": s.alias, "entrypoint": s.entrypoint, "command": s.command}))
                .collect();
            env.push((
                "CUSTOM_ENV_CI_JOB_SERVICES".into(),
                serde_json::Value::Array(services).to_string().into(),
            ));
        }
        ProcessSpec {
            program: program.into(),
            args: args.iter().map(Into::into).collect(),
            env,
            clear_env: false,
            cwd: Some(tmp),
        }
    }

    /// The job log's work streams, for an exec's stdout and stderr.
    fn streams(&self) -> Option<(TraceStream, TraceStream)> {
        let trace = &self.setup.as_ref()?.trace;
        Some((trace.stream(STREAM_WORK, StreamKind::Stdout), trace.stream(STREAM_WORK, StreamKind::Stderr)))
    }

    /// Runs an exec with its output in the job log.
    async fn exec_logged(
        &self,
        program: &str,
        args: &[String],
        cancel: &CancellationToken,
    ) -> Result<ProcessExit, ExecError> {
        let streams = self.streams();
        let (out, err) = match &streams {
            Some((o, e)) => (Some(o), Some(e)),
            None => (None, None),
        };
        let result = run_streams(
            &self.spec(program, args),
            &|b: &[u8]| out.iter().for_each(|s| s.write(b)),
            &|b: &[u8]| err.iter().for_each(|s| s.write(b)),
            cancel,
            self.kill_timeouts(),
        )
        .await;
        drop(streams);
        result.map_err(|e| ExecError::SystemFailure(format!("failed to start {program}: {e}")))
    }

    /// Maps an exec's exit to GitLab Runner's meaning.
    fn outcome(&self, what: &str, exit: ProcessExit) -> Result<(), ExecError> {
        if exit.canceled {
            return Err(ExecError::Canceled);
        }
        match exit.code {
            Some(0) => Ok(()),
            Some(BUILD_FAILURE_EXIT_CODE) => {
                let from_file = std::fs::read_to_string(self.temp_path().join("build_exit_code"))
                    .ok()
                    .and_then(|t| t.lines().next().and_then(|l| l.trim().parse::<i32>().ok()));
                Err(ExecError::BuildFailure { exit_code: from_file.unwrap_or(BUILD_FAILURE_EXIT_CODE) })
            }
            Some(SYSTEM_FAILURE_EXIT_CODE) => Err(ExecError::SystemFailure(format!(
                "{what} failed with system failure exit code {SYSTEM_FAILURE_EXIT_CODE}"
            ))),
            _ => Err(ExecError::SystemFailure(format!(
                "unknown Custom executor executable exit code {}; executable execution terminated with: {what}",
                exit.shell_code()
            ))),
        }
    }

    async fn exec_with_timeout(
        &self,
        program: &str,
        args: &[String],
        timeout: Duration,
        cancel: &CancellationToken,
    ) -> Result<(), ExecError> {
        let token = cancel.child_token();
        let timer = {
            let token = token.clone();
            tokio::spawn(async move {
                tokio::time::sleep(timeout).await;
                token.cancel();
            })
        };
        let result = self.exec_logged(program, args, &token).await;
        timer.abort();
        let exit = result?;
        if exit.canceled && !cancel.is_cancelled() {
            return Err(ExecError::SystemFailure(format!(
                "{program} timed out after {} seconds",
                timeout.as_secs()
            )));
        }
        self.outcome(program, exit)
    }
}

#[async_trait]
impl Executor for CustomExecutor {
    async fn configure(&mut self, setup: &JobSetup) -> Result<Environment, ExecError> {
        self.setup = Some(setup.clone());
        let temp = tempfile::Builder::new()
            .prefix("kiln-custom-")
            .tempdir()
            .map_err(|e| ExecError::SystemFailure(format!("failed to create a temporary directory: {e}")))?;
        let response = serde_json::to_vec(&*setup.job).unwrap_or_default();
        std::fs::write(temp.path().join("response.json"), response)
            .map_err(|e| ExecError::SystemFailure(format!("failed to write the job response file: {e}")))?;
        self.temp = Some(temp);
        let mut out = ConfigOutput::default();
        if let Some(config_exec) = self.config.config_exec.clone().filter(|s| !s.is_empty()) {
            let token = CancellationToken::new();
            let timeout = secs(self.config.config_exec_timeout, DEFAULT_EXEC_TIMEOUT);
            let timer = {
                let token = token.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(timeout).await;
                    token.cancel();
                })
            };
            let stderr = setup.trace.stream(STREAM_WORK, StreamKind::Stderr);
            let result = run_capture(
                &self.spec(&config_exec, &self.config.config_args),
                &|b: &[u8]| stderr.write(b),
                &token,
                self.kill_timeouts(),
            )
            .await;
            drop(stderr);
            timer.abort();
            let (exit, stdout) = result
                .map_err(|e| ExecError::SystemFailure(format!("failed to start {config_exec}: {e}")))?;
            self.outcome(&config_exec, exit)?;
            if !stdout.iter().all(u8::is_ascii_whitespace) {
                out = serde_json::from_slice(&stdout).map_err(|e| {
                    ExecError::SystemFailure(format!("failed to parse config_exec output as JSON: {e}"))
                })?;
            }
        }
        match &out.driver {
            Some(d) if !d.name.is_empty() => {
                setup.trace.line(&format!("Using Custom executor with driver {} {}...", d.name, d.version));
            }
            _ => setup.trace.line("Using Custom executor..."),
        }
        self.job_env = out.job_env.into_iter().collect();
        let builds_dir = out.builds_dir.or_else(|| setup.runner.builds_dir.clone()).filter(|d| !d.is_empty());
        let cache_dir = out.cache_dir.or_else(|| setup.runner.cache_dir.clone()).filter(|d| !d.is_empty());
        let (Some(builds_dir), Some(cache_dir)) = (builds_dir, cache_dir) else {
            return Err(ExecError::SystemFailure(
                "the builds_dir and cache_dir must be set in the [[runners]] section or by config_exec"
                    .into(),
            ));
        };
        let shell_name = out.shell.or_else(|| setup.runner.shell.clone()).unwrap_or_else(|| "bash".into());
        let shell = ShellKind::parse(&shell_name)
            .ok_or_else(|| ExecError::SystemFailure(format!("shell {shell_name:?} is not supported")))?;
        self.shell = Some(shell);
        Ok(Environment {
            builds_dir,
            cache_dir,
            builds_dir_is_shared: out.builds_dir_is_shared.unwrap_or(true),
            shell,
            hostname: out.hostname,
            job_env: self.job_env.clone(),
            predefined: None,
        })
    }

    async fn prepare(
        &mut self,
        variables: &[JobVariable],
        cancel: &CancellationToken,
    ) -> Result<(), ExecError> {
        self.variables = variables.to_vec();
        let Some(prepare) = self.config.prepare_exec.clone().filter(|s| !s.is_empty()) else { return Ok(()) };
        let timeout = secs(self.config.prepare_exec_timeout, DEFAULT_EXEC_TIMEOUT);
        let args = self.config.prepare_args.clone();
        self.exec_with_timeout(&prepare, &args, timeout, cancel).await
    }

    async fn run(&mut self, cmd: ExecutorCommand) -> Result<(), ExecError> {
        let ext = self.shell.unwrap_or(ShellKind::Bash).extension();
        let script = self.temp_path().join(format!("script.{}.{ext}", cmd.stage.name()));
        std::fs::write(&script, cmd.script.as_bytes())
            .map_err(|e| ExecError::SystemFailure(format!("failed to write {}: {e}", script.display())))?;
        let _ = std::fs::remove_file(self.temp_path().join("build_exit_code"));
        let mut args = self.config.run_args.clone();
        args.push(script.to_string_lossy().into_owned());
        args.push(cmd.stage.custom_executor_name());
        let exit = self.exec_logged(&self.config.run_exec, &args, &cmd.cancel).await?;
        self.outcome(&self.config.run_exec, exit)
    }

    async fn cleanup(&mut self) {
        if self.cleaned {
            return;
        }
        self.cleaned = true;
        if let Some(cleanup) = self.config.cleanup_exec.clone().filter(|s| !s.is_empty())
            && self.temp.is_some()
        {
            let token = CancellationToken::new();
            let timeout = secs(self.config.cleanup_exec_timeout, DEFAULT_EXEC_TIMEOUT);
            let timer = {
                let token = token.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(timeout).await;
                    token.cancel();
                })
            };
            // cleanup_exec never changes the job's status; its output goes to the runner log.
            let sink = |b: &[u8]| tracing::warn!(target: "kiln_runner::custom", "cleanup_exec: {}", String::from_utf8_lossy(b).trim_end());
            let result = run_streams(
                &self.spec(&cleanup, &self.config.cleanup_args),
                &sink,
                &sink,
                &token,
                self.kill_timeouts(),
            )
            .await;
            timer.abort();
            if let Err(e) = result {
                tracing::warn!("cleanup_exec {cleanup} could not run: {e}");
            }
        }
        if let Some(t) = self.temp.take() {
            let _ = t.close();
        }
    }
}
