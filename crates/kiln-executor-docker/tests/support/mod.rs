//! Docker tests' support: the runner's in-test coordinator (reused from kiln-runner's
//! tests), the real runner loop with the Docker provider, and jobs in busybox images.

#![allow(dead_code, unreachable_pub)]

#[path = "../../../kiln-runner/tests/support/mod.rs"]
pub mod coord;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kiln_api::JobResponse;
use kiln_executor_docker::DockerProvider;
use kiln_runner::commands::{JobReport, RunControl, RunOptions, serve};
use kiln_runner::config::{Config, RunnerConfig};
use kiln_runner::executor::Providers;
use kiln_runner::metrics::Metrics;
use kiln_runner::network::TraceSettings;
use tokio::sync::watch;

#[allow(unused_imports)]
pub use coord::git::{Repo, serve as serve_git};
#[allow(unused_imports)]
pub use coord::{Shared, after_script, start, trace_of};

/// A Docker runner whose short token is `short` (9 characters: it labels everything the
/// runner makes, so each test finds only its own leftovers). Jobs may ask for any pull
/// policy unless `docker` sets `allowed_pull_policies` (by default GitLab Runner allows
/// only the runner's own policy, `always`).
pub fn runner(url: &str, short: &str, docker: &str) -> RunnerConfig {
    assert_eq!(short.len(), 9);
    let docker = if docker.contains("allowed_pull_policies") {
        docker.to_string()
    } else {
        format!("allowed_pull_policies = [\"always\", \"if-not-present\", \"never\"]\n{docker}")
    };
    RunnerConfig {
        name: format!("docker-{short}"),
        url: url.into(),
        token: format!("glrt-{short}"),
        executor: "docker".into(),
        docker: Some(toml::from_str(&docker).unwrap()),
        ..Default::default()
    }
}

/// A job in `image` with pull policy `never` (test images are imported locally).
pub fn job(id: i64, image: &str, script: &[&str]) -> JobResponse {
    let mut j = coord::job(id, script);
    j.image = Some(kiln_api::job::Image {
        name: image.into(),
        pull_policy: Some(vec!["never".into()]),
        ..Default::default()
    });
    j.features.failure_reasons.push("image_pull_failure".into());
    j
}

/// Runs the runner loop with the Docker provider until `n` jobs have finished.
pub async fn run_jobs(runner: RunnerConfig, concurrent: usize, dir: &Path, n: usize) -> Vec<JobReport> {
    let config = Config { concurrent, check_interval: 1, runners: vec![runner], ..Default::default() };
    let reports = Arc::new(Mutex::new(Vec::new()));
    let control = RunControl::default();
    let r2 = reports.clone();
    let stop = control.stop.clone();
    let opts = RunOptions {
        config_path: dir.join("config.toml"),
        working_dir: dir.to_path_buf(),
        providers: Providers {
            docker: Some(Arc::new(DockerProvider::new())),
            kubernetes: None,
            shell: Default::default(),
        },
        // The predefined stages run on this machine and call the helper for caches and
        // artifacts.
        helper: vec![env!("CARGO_BIN_EXE_kiln-docker-test-helper").to_string()],
        trace_settings: TraceSettings { update_interval: Duration::from_millis(200), ..Default::default() },
        on_job: Some(Arc::new(move |r| {
            let mut v = r2.lock().unwrap();
            v.push(r);
            if v.len() >= n {
                stop.cancel();
            }
        })),
        ..Default::default()
    };
    let (_tx, rx) = watch::channel(Arc::new(config));
    let run = serve(rx, "s_0123456789ab".into(), opts, control, Arc::new(Metrics::new()));
    tokio::time::timeout(Duration::from_secs(240), run).await.expect("jobs finish in time").unwrap();
    let mut v = reports.lock().unwrap().clone();
    v.sort_by_key(|r| r.id);
    v
}

/// Asserts that nothing of the runner is left in the engine.
pub async fn assert_nothing_left(docker: &bollard::Docker, short: &str) {
    let (containers, networks) = kiln_executor_docker::testing::leftovers(docker, short).await;
    assert!(containers.is_empty(), "containers left: {containers:?}");
    assert!(networks.is_empty(), "networks left: {networks:?}");
}

/// The final update's failure reason as sent.
pub fn final_reason(c: &Shared, id: i64) -> Option<String> {
    c.lock().unwrap().finals.get(&id).and_then(|f| f.failure_reason.as_ref().map(|r| r.to_string()))
}
