//! What the Docker executor adds to a job: trivial jobs (`true` in the local busybox
//! image, no services, `GIT_STRATEGY: none`) through the real runner loop, one at a
//! time and ten at once, and the same with one service, printing per-job figures from
//! the runner's own job durations (prepare, stages and cleanup: network, containers,
//! waits). Needs the Docker engine. Run with
//! `cargo bench -p kiln-executor-docker --bench job_overhead`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use kiln_executor_docker::testing::{busybox_image, engine, service_image};
use support::*;

fn figures(label: &str, wall: Duration, mut durations: Vec<Duration>) {
    durations.sort_unstable();
    let n = durations.len();
    let mean = durations.iter().sum::<Duration>() / u32::try_from(n).unwrap();
    println!(
        "{label:<34} jobs={n:<3} wall={:>7.2}s  per job: mean={:>6.0}ms p50={:>6.0}ms max={:>6.0}ms  throughput={:.2} jobs/s",
        wall.as_secs_f64(),
        mean.as_secs_f64() * 1e3,
        durations[n / 2].as_secs_f64() * 1e3,
        durations[n - 1].as_secs_f64() * 1e3,
        n as f64 / wall.as_secs_f64(),
    );
}

async fn round(label: &str, short: &str, concurrent: usize, n: usize, service: Option<&str>) {
    let docker = engine().await;
    let image = busybox_image(&docker).await;
    let (coord, url) = start().await;
    let dir = tempfile::tempdir().unwrap();
    for id in 0..n {
        let mut j = job(1000 + i64::try_from(id).unwrap(), &image, &["true"]);
        if let Some(service) = service {
            j.services = vec![kiln_api::job::Service {
                name: service.into(),
                alias: Some("svc".into()),
                pull_policy: Some(vec!["never".into()]),
                ..Default::default()
            }];
        }
        coord.lock().unwrap().queue.push_back(j);
    }
    let started = Instant::now();
    let reports = run_jobs(runner(&url, short, ""), concurrent, dir.path(), n).await;
    let wall = started.elapsed();
    assert!(reports.iter().all(|r| r.outcome.as_ref().is_some_and(|o| o.succeeded)));
    figures(label, wall, reports.iter().map(|r| r.duration).collect());
    assert_nothing_left(&docker, short).await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let docker = engine().await;
    let service = service_image(&docker, 8080).await;
    // One job first so that image layers and the engine's caches are warm.
    round("warm-up", "dkrbench0", 1, 1, None).await;
    round("sequential, no services", "dkrbench1", 1, 20, None).await;
    round("10 at once, no services", "dkrbench2", 10, 30, None).await;
    round("sequential, one service", "dkrbench3", 1, 10, Some(&service)).await;
    round("10 at once, one service", "dkrbench4", 10, 20, Some(&service)).await;
}
