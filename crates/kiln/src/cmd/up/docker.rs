//! Docker in `kiln up`: when an engine answers at start, the runner runs jobs that
//! name an `image:` in containers (kiln-executor-docker) and the others on this
//! machine, as `kiln exec` does (`kiln_exec::docker::PerJobProvider`). One runner does
//! both because the coordinator, like GitLab's, hands an untagged job to any runner:
//! a separate Docker runner and shell runner would race for jobs with an image.
//!
//! Only the runner's in-memory configuration changes; `runner/config.toml` keeps
//! `executor = "shell"`, so `kiln runner run -c` on it, and a start without an engine,
//! still run every job on this machine.

use std::sync::Arc;
use std::time::Duration;

use kiln_exec::docker::PerJobProvider;
use kiln_runner::config::Config;
use kiln_runner::executor::Providers;

/// How long `kiln up` waits for the engine to answer at start.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether jobs with an image run on Docker in this start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DockerState {
    /// Jobs with an image run in containers of the engine at this address.
    On(String),
    /// Every job runs on this machine, for this reason.
    Off(String),
}

/// Probes the engine (unless `disabled`) and, when it answers, turns every runner of
/// `config` into a per-job Docker runner; returns the providers to run with.
pub(crate) async fn enable(config: &mut Config, disabled: bool) -> (DockerState, Providers) {
    if disabled {
        return (DockerState::Off("--no-docker".into()), Providers::default());
    }
    let host = kiln_executor_docker::engine::engine_host(None);
    if let Err(e) = kiln_executor_docker::engine::reachable(&host, PROBE_TIMEOUT).await {
        return (DockerState::Off(e), Providers::default());
    }
    for runner in &mut config.runners {
        runner.executor = "docker".into();
        // The shell executor's defaults under the working directory are the
        // configured `runner/builds` and `runner/cache`; the Docker executor's are
        // `/builds` and `/cache` in the container, as in GitLab Runner.
        runner.builds_dir = None;
        runner.cache_dir = None;
        let mut table = runner.docker.clone().unwrap_or_default();
        // Local images first: a machine without a registry still runs jobs.
        table.entry("pull_policy").or_insert_with(|| toml::Value::Array(vec!["if-not-present".into()]));
        table.entry("image").or_insert_with(|| "alpine:latest".into());
        runner.docker = Some(table);
    }
    let provider = PerJobProvider {
        docker: Arc::new(kiln_executor_docker::DockerProvider::new()),
        shell: Default::default(),
    };
    (
        DockerState::On(host),
        Providers { docker: Some(Arc::new(provider)), kubernetes: None, shell: Default::default() },
    )
}
