//! Docker in `kiln exec`: which executor runs the jobs, and the per-job choice
//! between the Docker and the shell executor.
//!
//! This crate does not depend on the Docker executor (ARCHITECTURE.md's table):
//! the `kiln` binary hands in its provider and a probe of the engine
//! ([`DockerSupport`]). The probe runs only when a job needs Docker, so a
//! pipeline without `image:` never waits for an engine.
//!
//! With the default `--executor` (auto), jobs with an `image:` run in a
//! container and jobs without one on this machine, as issue 6 asks. GitLab
//! Runner has no executor that does both: a runner has one executor, and a
//! coordinator hands a job to any runner whose tags match, so two runners
//! (shell and docker) would race for every job. Kiln's answer is one runner
//! whose `docker` provider is [`PerJobProvider`]: it decides per job, when the
//! job's payload (and so its image) is known, and hands every call to the
//! executor it chose. `kiln up` uses the same provider for the same reason.

use std::sync::Arc;

use async_trait::async_trait;
use kiln_api::{FeaturesInfo, JobVariable};
use kiln_runner::config::RunnerConfig;
use kiln_runner::executor::shell::ShellProvider;
use kiln_runner::executor::{
    Environment, ExecError, Executor, ExecutorCommand, ExecutorKind, ExecutorProvider, ExecutorSettings,
    JobSetup,
};
use kiln_runner::script::ShellKind;
use tokio_util::sync::CancellationToken;

/// A probe of the Docker engine: `Err` says why it cannot be used.
pub type Probe = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

/// The Docker executor, handed in by the binary.
#[derive(Clone)]
pub struct DockerSupport {
    /// kiln-executor-docker's provider.
    pub provider: Arc<dyn ExecutorProvider>,
    /// Whether an engine answers.
    pub probe: Probe,
    /// The image of jobs without `image:` under `--executor docker` (`[runners.docker] image`).
    pub default_image: String,
}

impl std::fmt::Debug for DockerSupport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DockerSupport").field("default_image", &self.default_image).finish_non_exhaustive()
    }
}

/// What runs the jobs of one `kiln exec`.
#[derive(Clone, Debug)]
pub enum Choice {
    /// Every job on this machine.
    Shell,
    /// Every job in a container (jobs without `image:` in the default image).
    Docker(DockerSupport),
    /// Jobs with `image:` in a container, the others on this machine.
    PerJob(DockerSupport),
}

/// Whether a job's payload names an image.
pub fn has_image(job: &kiln_api::JobResponse) -> bool {
    job.image.as_ref().is_some_and(|i| !i.name.trim().is_empty())
}

/// Why `--executor docker` cannot be used (exit status 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DockerError {
    #[error("the Docker executor is not part of this build; use `--executor shell`")]
    NotBuilt,
    #[error(
        "--executor docker cannot run with --in-place: a container sees only its own build directory; drop one of them"
    )]
    InPlace,
    #[error("--executor docker: {0}")]
    Unreachable(String),
}

/// The choice for `executor`, given whether any job names an image. `note`
/// hears why jobs with an image still run on the shell executor.
pub fn choose(
    executor: crate::Executor,
    docker: Option<&DockerSupport>,
    any_image: bool,
    in_place: bool,
    note: &mut dyn FnMut(&str),
) -> Result<Choice, DockerError> {
    match executor {
        crate::Executor::Shell => Ok(Choice::Shell),
        crate::Executor::Docker => {
            let docker = docker.ok_or(DockerError::NotBuilt)?;
            if in_place {
                return Err(DockerError::InPlace);
            }
            (docker.probe)().map_err(DockerError::Unreachable)?;
            Ok(Choice::Docker(docker.clone()))
        }
        crate::Executor::Auto if !any_image => Ok(Choice::Shell),
        crate::Executor::Auto => {
            let why = match docker {
                None => "this build has no Docker executor".to_string(),
                Some(_) if in_place => "--in-place runs every job in the working tree".to_string(),
                Some(d) => match (d.probe)() {
                    Ok(()) => return Ok(Choice::PerJob(d.clone())),
                    Err(e) => e,
                },
            };
            note(&format!("note: jobs with `image:` run on the shell executor: {why}\n"));
            Ok(Choice::Shell)
        }
    }
}

/// The `docker` provider of a runner that runs jobs with an image on Docker
/// and the others on the shell executor.
#[derive(Clone)]
pub struct PerJobProvider {
    pub docker: Arc<dyn ExecutorProvider>,
    pub shell: ShellProvider,
}

impl ExecutorProvider for PerJobProvider {
    fn kind(&self) -> ExecutorKind {
        ExecutorKind::Docker
    }

    fn features(&self, features: &mut FeaturesInfo) {
        self.docker.features(features);
    }

    fn default_shell(&self) -> ShellKind {
        self.docker.default_shell()
    }

    fn can_create(&self) -> bool {
        self.docker.can_create()
    }

    fn create(
        &self,
        runner: &RunnerConfig,
        settings: &ExecutorSettings,
    ) -> Result<Box<dyn Executor>, ExecError> {
        Ok(Box::new(PerJobExecutor {
            docker: Some(self.docker.create(runner, settings)?),
            shell: Some(self.shell.create(runner, settings)?),
            chosen: None,
        }))
    }
}

/// One job on whichever executor its image asks for.
struct PerJobExecutor {
    docker: Option<Box<dyn Executor>>,
    shell: Option<Box<dyn Executor>>,
    chosen: Option<Box<dyn Executor>>,
}

impl PerJobExecutor {
    fn chosen(&mut self) -> Result<&mut Box<dyn Executor>, ExecError> {
        self.chosen.as_mut().ok_or_else(|| ExecError::SystemFailure("the executor was not configured".into()))
    }
}

#[async_trait]
impl Executor for PerJobExecutor {
    fn name_for(&self, job: &kiln_api::JobResponse) -> Option<&'static str> {
        Some(if has_image(job) { "docker" } else { "shell" })
    }

    async fn configure(&mut self, setup: &JobSetup) -> Result<Environment, ExecError> {
        let chosen = if has_image(&setup.job) {
            self.docker.take()
        } else {
            setup.trace.line("The job has no image: it runs on this machine (shell executor).");
            self.shell.take()
        };
        self.docker = None;
        self.shell = None;
        self.chosen = chosen;
        self.chosen()?.configure(setup).await
    }

    async fn prepare(
        &mut self,
        variables: &[JobVariable],
        cancel: &CancellationToken,
    ) -> Result<(), ExecError> {
        self.chosen()?.prepare(variables, cancel).await
    }

    async fn run(&mut self, cmd: ExecutorCommand) -> Result<(), ExecError> {
        self.chosen()?.run(cmd).await
    }

    async fn cleanup(&mut self) {
        if let Some(chosen) = self.chosen.as_mut() {
            chosen.cleanup().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Executor as Asked;

    fn support(answer: Result<(), String>) -> DockerSupport {
        DockerSupport {
            provider: Arc::new(ShellProvider::default()),
            probe: Arc::new(move || answer.clone()),
            default_image: "alpine:latest".into(),
        }
    }

    fn pick(asked: Asked, docker: Option<&DockerSupport>, image: bool, in_place: bool) -> (String, String) {
        let mut notes = String::new();
        let choice = choose(asked, docker, image, in_place, &mut |n| notes.push_str(n));
        let name = match choice {
            Ok(Choice::Shell) => "shell".to_string(),
            Ok(Choice::Docker(_)) => "docker".to_string(),
            Ok(Choice::PerJob(_)) => "per-job".to_string(),
            Err(e) => format!("error: {e}"),
        };
        (name, notes)
    }

    #[test]
    fn auto_uses_docker_only_for_a_pipeline_with_images_and_an_engine() {
        let up = support(Ok(()));
        let down = support(Err("Cannot connect to the Docker daemon".into()));
        assert_eq!(pick(Asked::Auto, Some(&up), true, false).0, "per-job");
        assert_eq!(pick(Asked::Auto, Some(&up), false, false).0, "shell");
        let (name, note) = pick(Asked::Auto, Some(&down), true, false);
        assert_eq!(name, "shell");
        assert!(note.contains("Cannot connect to the Docker daemon"), "{note}");
        let (name, note) = pick(Asked::Auto, None, true, false);
        assert_eq!(name, "shell");
        assert!(note.contains("no Docker executor"), "{note}");
        assert_eq!(pick(Asked::Auto, Some(&up), true, true).0, "shell");
    }

    #[test]
    fn docker_when_asked_or_a_clear_error() {
        let up = support(Ok(()));
        let down = support(Err("Cannot connect to the Docker daemon".into()));
        assert_eq!(pick(Asked::Docker, Some(&up), false, false).0, "docker");
        let (err, _) = pick(Asked::Docker, Some(&down), true, false);
        assert!(err.starts_with("error: --executor docker: Cannot connect"), "{err}");
        assert!(pick(Asked::Docker, None, true, false).0.contains("not part of this build"));
        assert!(pick(Asked::Docker, Some(&up), true, true).0.contains("--in-place"));
        assert_eq!(pick(Asked::Shell, Some(&up), true, false).0, "shell");
    }

    #[test]
    fn the_probe_is_not_asked_when_no_job_has_an_image() {
        let probe: Probe = Arc::new(|| panic!("probed"));
        let d = DockerSupport {
            provider: Arc::new(ShellProvider::default()),
            probe,
            default_image: String::new(),
        };
        assert_eq!(pick(Asked::Auto, Some(&d), false, false).0, "shell");
    }
}
