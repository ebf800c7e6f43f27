//! The real runner, started in this process against the local coordinator:
//! GitLab Runner's poll loop with a generated configuration (one runner,
//! shell or docker executor as [`Choice`] says, builds and cache under
//! `.kiln/`).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use kiln_runner::commands::{RunControl, RunError, RunOptions, serve};
use kiln_runner::config::{Config, CustomBuildDir, RunnerConfig};
use kiln_runner::executor::Providers;
use kiln_runner::metrics::Metrics;
use kiln_runner::network::TraceSettings;
use tokio::task::JoinHandle;

use crate::docker::{Choice, PerJobProvider};

/// A running runner loop.
#[derive(Debug)]
pub struct Runner {
    pub control: RunControl,
    task: JoinHandle<Result<(), RunError>>,
}

/// What the generated configuration says.
#[derive(Debug, Clone)]
pub struct RunnerSetup {
    /// The coordinator's base URL.
    pub url: String,
    pub token: String,
    /// Jobs at once.
    pub concurrency: usize,
    /// `builds_dir`.
    pub builds_dir: String,
    /// `cache_dir` (kept between runs).
    pub cache_dir: String,
    /// `.kiln`: the runner's working directory and the jobs' `TMPDIR`.
    pub kiln_dir: std::path::PathBuf,
    /// How job scripts call the helper subcommands.
    pub helper: Vec<String>,
    /// Which executor runs the jobs.
    pub choice: Choice,
}

/// `[runners.docker]` for `kiln exec`: the default image, `if-not-present` (a
/// local run works offline with local images), `.kiln/tmp` mounted where the
/// jobs' `TMPDIR` says it is, and `disable_cache`: each run's runner has a new
/// token, so a job directory kept for the next fetch (named after the token)
/// would never be used again; the job's host directory under
/// `.kiln/builds-docker` goes when the job ends.
fn docker_table(image: &str, tmp: &Path) -> toml::Table {
    let mut t = toml::Table::new();
    t.insert("disable_cache".into(), true.into());
    t.insert("image".into(), image.into());
    t.insert("pull_policy".into(), toml::Value::Array(vec!["if-not-present".into()]));
    let tmp = tmp.display();
    t.insert("volumes".into(), toml::Value::Array(vec![format!("{tmp}:{tmp}").into()]));
    t
}

/// The configuration `kiln exec` runs with.
pub fn config(setup: &RunnerSetup) -> Config {
    let tmp = setup.kiln_dir.join("tmp");
    let mut feature_flags = BTreeMap::new();
    // Plain lines: the terminal shows them with a job prefix instead.
    feature_flags.insert("FF_TIMESTAMPS".to_string(), false);
    let builds_dir = Some(setup.builds_dir.clone());
    let cache_dir = Some(setup.cache_dir.clone());
    let (executor, shell, docker, builds_dir, cache_dir) = match &setup.choice {
        Choice::Shell => ("shell", Some("bash".to_string()), None, builds_dir, cache_dir),
        // The Docker executor finds the image's shell (bash, else sh) and puts jobs
        // in `/builds` and `/cache` of the container (their host side is under
        // `.kiln/`); jobs on the shell executor get `.kiln/builds` and
        // `.kiln/cache`, the defaults under the working directory.
        Choice::Docker(d) | Choice::PerJob(d) => {
            ("docker", None, Some(docker_table(&d.default_image, &tmp)), None, None)
        }
    };
    let runner = RunnerConfig {
        name: "kiln-exec".into(),
        url: setup.url.clone(),
        token: setup.token.clone(),
        executor: executor.into(),
        shell,
        docker,
        limit: setup.concurrency,
        builds_dir,
        cache_dir,
        environment: vec![format!("TMPDIR={}", tmp.display())],
        custom_build_dir: Some(CustomBuildDir { enabled: Some(true) }),
        feature_flags,
        ..RunnerConfig::default()
    };
    Config { concurrent: setup.concurrency, check_interval: 1, runners: vec![runner], ..Config::default() }
}

impl Runner {
    /// Starts the poll loop.
    pub fn start(setup: &RunnerSetup) -> Runner {
        let _ = std::fs::create_dir_all(setup.kiln_dir.join("tmp"));
        let config = Arc::new(config(setup));
        let (_tx, rx) = tokio::sync::watch::channel(config);
        let control = RunControl::default();
        let opts = RunOptions {
            // Never created: there is no file to rewrite on token rotation.
            config_path: setup.kiln_dir.join("runner.toml"),
            working_dir: setup.kiln_dir.clone(),
            // Job logs are buffered under `.kiln/` too, not in the system's temp dir.
            trace_dir: Some(setup.kiln_dir.join("tmp")),
            helper: setup.helper.clone(),
            providers: providers(&setup.choice),
            trace_settings: TraceSettings {
                // Live output, and a cancel noticed within a second.
                update_interval: Duration::from_millis(100),
                force_send_interval: Duration::from_millis(500),
                final_retry_limit: 10,
            },
            ..RunOptions::default()
        };
        let system_id = format!("s_{}", &crate::coordinator::random_hex(6));
        let task = tokio::spawn(serve(rx, system_id, opts, control.clone(), Arc::new(Metrics::new())));
        Runner { control, task }
    }

    /// Stops taking jobs and waits for the loop to end.
    pub async fn stop(self) -> Result<(), RunError> {
        self.control.stop.cancel();
        self.task.await.unwrap_or(Ok(()))
    }

    /// Aborts running jobs and waits at most `grace` for the loop.
    pub async fn abort(self, grace: Duration) {
        self.control.stop.cancel();
        self.control.abort.cancel();
        let _ = tokio::time::timeout(grace, self.task).await;
    }
}

/// The Docker provider of the runner, if any.
fn providers(choice: &Choice) -> Providers {
    let docker: Option<Arc<dyn kiln_runner::executor::ExecutorProvider>> = match choice {
        Choice::Shell => None,
        Choice::Docker(d) => Some(d.provider.clone()),
        Choice::PerJob(d) => {
            Some(Arc::new(PerJobProvider { docker: d.provider.clone(), shell: Default::default() }))
        }
    };
    Providers { docker, kubernetes: None, shell: Default::default() }
}

/// The helper command of this binary (`<exe> runner helper`).
pub fn helper_of(exe: &Path) -> Vec<String> {
    vec![exe.to_string_lossy().into_owned(), "runner".into(), "helper".into()]
}
