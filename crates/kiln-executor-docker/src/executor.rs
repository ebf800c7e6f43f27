//! One job on Docker: `configure` decides the directories (the container's
//! `/builds/<namespace>/<project>` and the host directory mounted there), `prepare`
//! connects, makes the job's network and volumes, starts services and waits for them,
//! pulls the image and creates the build container; `run` runs user stages in that
//! container and predefined stages on the host; `cleanup` removes every container and
//! the network, found by label so that nothing escapes even a canceled `prepare`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bollard::Docker;
use bollard::models::ContainerCreateBody;
use kiln_api::JobVariable;
use kiln_runner::executor::{
    Environment, ExecError, Executor, ExecutorCommand, JobSetup, PredefinedEnvironment, native,
};
use kiln_runner::script::ShellKind;
use tokio_util::sync::CancellationToken;

use crate::config::DockerConfig;
use crate::engine::{connect, describe, engine_host, is_not_found};
use crate::names::ReferenceGrammar;
use crate::pull::Puller;
use crate::services::{NetworkPlan, ServiceContext, Started};

mod spec;

pub(crate) use spec::{json_log, never_restart};

/// GitLab Runner's label prefix, so tools that look for runner containers find ours.
pub const LABEL_PREFIX: &str = "com.gitlab.gitlab-runner";

/// The label naming one job's executor run: cleanup removes whatever carries it.
pub const RUN_LABEL: &str = "io.kiln.run";

/// How long cleanup may take in all.
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(300);

/// The host side of the builds directory.
#[derive(Debug, Clone)]
struct HostBuilds {
    path: PathBuf,
    /// Removed at cleanup (GitLab Runner's temporary build volume: every strategy but
    /// `fetch`, or `disable_cache`).
    temporary: bool,
}

/// One job on the Docker executor.
pub struct DockerExecutor {
    config: Arc<DockerConfig>,
    grammar: Arc<ReferenceGrammar>,
    setup: Option<JobSetup>,
    shell: ShellKind,
    predefined_shell: ShellKind,
    builds_dir: String,
    /// `runner-<short token>-project-<id>-concurrent-<n>`.
    unique: String,
    /// `unique` with a random suffix: container names and the run label.
    run: String,
    host: Option<HostBuilds>,
    docker: Option<Docker>,
    network: Option<String>,
    build: Option<String>,
    scripts: Option<tempfile::TempDir>,
    /// Predefined stages with a native form may run in the runner (they run on this
    /// machine anyway): no variable changes what a helper process would do.
    native: bool,
}

impl std::fmt::Debug for DockerExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DockerExecutor").field("run", &self.run).finish_non_exhaustive()
    }
}

fn system(message: impl Into<String>) -> ExecError {
    ExecError::SystemFailure(message.into())
}

impl DockerExecutor {
    pub(crate) fn new(config: Arc<DockerConfig>, grammar: Arc<ReferenceGrammar>) -> DockerExecutor {
        DockerExecutor {
            config,
            grammar,
            setup: None,
            shell: ShellKind::Bash,
            predefined_shell: ShellKind::Bash,
            builds_dir: String::new(),
            unique: String::new(),
            run: String::new(),
            host: None,
            docker: None,
            network: None,
            build: None,
            scripts: None,
            native: false,
        }
    }

    async fn prepare_inner(&mut self, variables: &[JobVariable]) -> Result<(), ExecError> {
        let setup = self.setup.clone().ok_or_else(|| system("the docker executor was not configured"))?;
        let trace = setup.trace.clone();
        let job = setup.job.clone();
        let docker = connect(&engine_host(self.config.host.as_deref())).await.map_err(system)?;
        self.docker = Some(docker.clone());
        let image_def = job.image.clone().unwrap_or_default();
        let image_name = self.image_name(&setup, &image_def.name, variables)?;
        trace.line(&format!("Using Docker executor with image {image_name} ..."));
        let user = self.build_user(&image_def)?;
        let host = self.host.clone().ok_or_else(|| system("the docker executor was not configured"))?;
        std::fs::create_dir_all(&host.path)
            .map_err(|e| system(format!("failed to create {}: {e}", host.path.display())))?;
        // Beside the job's directory, not in it (the container does not see the host
        // stages' scripts) and not in the system's temp dir (`kiln exec` writes only
        // under `.kiln/`); removed at cleanup.
        let beside = host.path.parent().unwrap_or(&host.path);
        self.scripts = Some(
            tempfile::Builder::new()
                .prefix(&format!("{}.scripts-", self.run))
                .tempdir_in(beside)
                .map_err(|e| system(format!("failed to create the script directory: {e}")))?,
        );
        let labels = self.labels(&job, &setup.runner.short_token());

        let network = NetworkPlan::from_mode(
            self.config.network_mode.as_deref(),
            &format!("{}-job-{}-network", self.unique, job.id),
        );
        if let NetworkPlan::PerJob(name) = &network {
            let request = bollard::models::NetworkCreateRequest {
                name: name.clone(),
                driver: Some("bridge".into()),
                labels: Some(labels.clone()),
                ..Default::default()
            };
            // Recorded first: a create still in flight when `prepare` is canceled is
            // removed by name at cleanup.
            self.network = Some(name.clone());
            docker
                .create_network(request)
                .await
                .map_err(|e| system(format!("failed to create the job's network: {}", describe(&e))))?;
        }

        let volumes = crate::volumes::plan(&self.config.volumes, &self.unique, self.config.disable_cache)
            .map_err(|e| system(e.to_string()))?;
        for path in &volumes.skipped {
            trace.warning(&format!(
                "Container based cache volumes creation is disabled. Will not create volume for {path:?}"
            ));
        }
        for (name, _) in &volumes.cache {
            let mut volume_labels = labels.clone();
            volume_labels.remove(RUN_LABEL);
            let request = bollard::models::VolumeCreateRequest {
                name: Some(name.clone()),
                labels: Some(volume_labels),
                ..Default::default()
            };
            docker
                .create_volume(request)
                .await
                .map_err(|e| system(format!("failed to create volume {name}: {}", describe(&e))))?;
        }
        let mut binds = vec![format!("{}:{}", host.path.display(), self.builds_dir)];
        binds.extend(volumes.binds);

        let docker_auth_config =
            variables.iter().rev().find(|v| v.key == "DOCKER_AUTH_CONFIG").map(|v| v.value.clone());
        let puller = Puller {
            docker: &docker,
            config: &self.config,
            trace: &trace,
            grammar: &self.grammar,
            credentials: &job.credentials,
            docker_auth_config: docker_auth_config.as_deref(),
        };
        let defs = self.service_defs(&setup, variables)?;
        let ctx = ServiceContext {
            docker: &docker,
            config: &self.config,
            trace: &trace,
            grammar: &self.grammar,
            puller: &puller,
            unique: &self.run,
            labels: &labels,
            network: &network,
            binds: &binds,
            variables,
        };
        let mut created = Vec::new();
        let started: Vec<Started> = ctx.start_all(&defs, &mut created).await?;
        ctx.wait_all(&started).await;

        let platform = image_def
            .executor_opts
            .as_ref()
            .and_then(|o| o.docker.as_ref())
            .map(|d| d.platform.clone())
            .unwrap_or_default();
        let image =
            puller.get(&image_name, &platform, &image_def.pull_policy.clone().unwrap_or_default()).await?;

        let name = format!("{}-build", self.run);
        let links = match network {
            NetworkPlan::Bridge => {
                started.iter().flat_map(|s| s.aliases.iter().map(|a| format!("{}:{a}", s.name))).collect()
            }
            _ => Vec::new(),
        };
        let mut build_labels = labels.clone();
        build_labels.insert(format!("{LABEL_PREFIX}.type"), "build".into());
        let entrypoint = match &image_def.entrypoint {
            Some(e) if !e.is_empty() && self.config.disable_entrypoint_overwrite => {
                trace.warning("Entrypoint override disabled");
                None
            }
            Some(e) if !e.is_empty() => Some(e.clone()),
            _ => None,
        };
        let body = ContainerCreateBody {
            hostname: Some(
                self.config.hostname.clone().filter(|h| !h.is_empty()).unwrap_or_else(|| self.unique.clone()),
            ),
            user,
            attach_stdin: Some(true),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            open_stdin: Some(true),
            stdin_once: Some(true),
            tty: Some(false),
            env: Some(variables.iter().map(|v| format!("{}={}", v.key, v.value)).collect()),
            cmd: Some(crate::container::shell_command(self.shell)),
            image: image.id.clone().or(Some(image_name)),
            entrypoint,
            labels: Some(build_labels),
            host_config: Some(self.host_config(binds, &network, links)?),
            networking_config: network.endpoint(vec!["build".into(), name.clone()]),
            ..Default::default()
        };
        let options = bollard::query_parameters::CreateContainerOptions { name: Some(name), platform };
        let created = docker
            .create_container(Some(options), body)
            .await
            .map_err(|e| system(format!("failed to create the build container: {}", describe(&e))))?;
        self.build = Some(created.id);
        Ok(())
    }

    async fn cleanup_inner(&mut self) {
        let Some(docker) = self.docker.take() else { return };
        let filters = HashMap::from([("label".to_string(), vec![format!("{RUN_LABEL}={}", self.run)])]);
        let remove = async |docker: &Docker| {
            let options = bollard::query_parameters::ListContainersOptions {
                all: true,
                filters: Some(filters.clone()),
                ..Default::default()
            };
            let containers = docker.list_containers(Some(options)).await.unwrap_or_default();
            let removals = containers.iter().filter_map(|c| c.id.clone()).map(|id| async move {
                let options =
                    bollard::query_parameters::RemoveContainerOptions { force: true, v: true, link: false };
                if let Err(e) = docker.remove_container(&id, Some(options)).await
                    && !is_not_found(&e)
                {
                    tracing::warn!(container = %id, "failed to remove container: {}", describe(&e));
                }
            });
            futures::future::join_all(removals).await;
        };
        remove(&docker).await;
        self.build = None;
        if let Some(network) = self.network.take() {
            let mut result = docker.remove_network(&network).await;
            if result.is_err() {
                // A container whose create was in flight when `prepare` was canceled.
                tokio::time::sleep(Duration::from_secs(1)).await;
                remove(&docker).await;
                result = docker.remove_network(&network).await;
            }
            if let Err(e) = result
                && !is_not_found(&e)
            {
                tracing::warn!(network = %network, "failed to remove network: {}", describe(&e));
            }
        }
    }
}

#[async_trait]
impl Executor for DockerExecutor {
    async fn configure(&mut self, setup: &JobSetup) -> Result<Environment, ExecError> {
        let runner = &setup.runner;
        let job = &setup.job;
        self.shell = match runner.shell.as_deref() {
            None | Some("") => ShellKind::Bash,
            Some(s) => match ShellKind::parse(s) {
                Some(ShellKind::Powershell) | None => {
                    return Err(system(format!("shell {s:?} is not supported by the docker executor")));
                }
                Some(k) => k,
            },
        };
        self.predefined_shell = if self.shell == ShellKind::Sh { ShellKind::Sh } else { ShellKind::Bash };
        self.builds_dir =
            runner.builds_dir.clone().filter(|b| !b.is_empty()).unwrap_or_else(|| "/builds".into());
        if !self.builds_dir.starts_with('/') {
            return Err(system(format!(
                "builds_dir {:?} must be an absolute path in the container",
                self.builds_dir
            )));
        }
        let cache_dir = runner.cache_dir.clone().filter(|c| !c.is_empty()).unwrap_or_else(|| "/cache".into());
        let short = runner.short_token();
        self.unique = format!(
            "runner-{short}-project-{}-concurrent-{}",
            job.job_info.project_id, setup.project_concurrent_id
        );
        self.run = format!("{}-{}", self.unique, hex::encode(rand::random::<[u8; 4]>()));
        let fetch = match job.variable("GIT_STRATEGY").unwrap_or("") {
            "fetch" => true,
            "clone" | "none" | "empty" => false,
            _ => job.allow_git_fetch,
        };
        let base = setup.working_dir.join("builds-docker");
        let persistent = fetch && !self.config.disable_cache;
        self.host = Some(HostBuilds {
            path: base.join(if persistent { &self.unique } else { &self.run }),
            temporary: !persistent,
        });
        let host_cache = setup.working_dir.join(self.config.cache_dir.as_deref().unwrap_or("cache"));
        self.setup = Some(setup.clone());
        let host_path = self.host.as_ref().map(|h| h.path.to_string_lossy().into_owned()).unwrap_or_default();
        Ok(Environment {
            builds_dir: self.builds_dir.clone(),
            cache_dir,
            builds_dir_is_shared: false,
            shell: self.shell,
            hostname: None,
            job_env: Vec::new(),
            predefined: Some(PredefinedEnvironment {
                builds_dir: host_path,
                cache_dir: host_cache.to_string_lossy().into_owned(),
                shell: self.predefined_shell,
            }),
        })
    }

    async fn prepare(
        &mut self,
        variables: &[JobVariable],
        cancel: &CancellationToken,
    ) -> Result<(), ExecError> {
        self.native = native::allowed(variables);
        tokio::select! {
            r = self.prepare_inner(variables) => r,
            () = cancel.cancelled() => Err(ExecError::Canceled),
        }
    }

    async fn run(&mut self, cmd: ExecutorCommand) -> Result<(), ExecError> {
        let Some(setup) = &self.setup else { return Err(system("the docker executor was not prepared")) };
        if cmd.stage.is_predefined() {
            // No local checkout: one that borrows objects from this machine would be
            // broken in the build container, which cannot see their path.
            if let Some(result) =
                native::run_if_usable(cmd.native.as_ref(), self.native, None, &setup.trace, &cmd.cancel).await
            {
                return result;
            }
            let Some(dir) = &self.scripts else { return Err(system("the docker executor was not prepared")) };
            return crate::host::run_stage(
                dir.path(),
                &cmd.stage.name(),
                self.predefined_shell,
                &cmd.script,
                &setup.working_dir,
                &setup.trace,
                &cmd.cancel,
            )
            .await;
        }
        let (Some(docker), Some(build)) = (&self.docker, &self.build) else {
            return Err(system("the docker executor was not prepared"));
        };
        crate::container::run_stage(docker, build, &cmd.script, &setup.trace, &cmd.cancel).await
    }

    async fn cleanup(&mut self) {
        if tokio::time::timeout(CLEANUP_TIMEOUT, self.cleanup_inner()).await.is_err() {
            tracing::warn!(run = %self.run, "docker cleanup did not finish in time");
        }
        if let Some(host) = self.host.take()
            && host.temporary
            && let Err(e) = std::fs::remove_dir_all(&host.path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %host.path.display(), "failed to remove the job's build directory: {e}");
        }
        if let Some(dir) = self.scripts.take() {
            let _ = dir.close();
        }
    }
}
