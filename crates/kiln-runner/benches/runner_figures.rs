//! Figures for issue 5's runner targets, measured on the real `kiln runner run` process
//! (set `KILN_BIN` to a release build of `kiln`) against a coordinator in this process:
//! idle RSS, job received → first user command with `GIT_STRATEGY: none`, RSS per
//! concurrent shell job, and streaming 1 GiB of job output.
//!
//! `cargo build --release -p kiln && KILN_BIN=target/release/kiln cargo bench -p kiln-runner --bench runner_figures`
//! Prints one line per figure; it asserts nothing (performance is reported, not tested).

#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{patch, post, put};
use kiln_api::{JobResponse, JobVariable, Step};

#[derive(Default)]
struct Coord {
    queue: VecDeque<JobResponse>,
    sent_at: Vec<(i64, Instant)>,
    finished: Vec<(i64, Instant)>,
    trace_bytes: u64,
}

type Shared = Arc<Mutex<Coord>>;

async fn request_job(State(s): State<Shared>) -> Response {
    let mut c = s.lock().unwrap();
    match c.queue.pop_front() {
        Some(job) => {
            c.sent_at.push((job.id, Instant::now()));
            (
                StatusCode::CREATED,
                [("Content-Type", "application/json")],
                serde_json::to_string(&job).unwrap(),
            )
                .into_response()
        }
        None => (StatusCode::NO_CONTENT, [("X-GitLab-Last-Update", "x")]).into_response(),
    }
}

async fn update_job(State(s): State<Shared>, Path(id): Path<i64>, body: Bytes) -> Response {
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    if v["state"] == "success" || v["state"] == "failed" {
        s.lock().unwrap().finished.push((id, Instant::now()));
    }
    (StatusCode::OK, "200").into_response()
}

async fn patch_trace(State(s): State<Shared>, body: Bytes) -> Response {
    let mut c = s.lock().unwrap();
    c.trace_bytes += body.len() as u64;
    let end = c.trace_bytes;
    (StatusCode::ACCEPTED, [("Range", format!("0-{end}")), ("X-GitLab-Trace-Update-Interval", "1".into())])
        .into_response()
}

fn job(id: i64, script: &str) -> JobResponse {
    let mut j = JobResponse { id, token: format!("glcbt-bench{id}"), ..Default::default() };
    j.job_info.id = id;
    j.job_info.project_id = 1;
    j.job_info.project_full_path = Some("bench/project".into());
    j.runner_info.timeout = 3600;
    j.features.trace_sections = true;
    j.variables = vec![JobVariable::public("GIT_STRATEGY", "none")];
    j.steps = vec![Step {
        name: "script".into(),
        script: vec![script.into()],
        timeout: 3600,
        ..Default::default()
    }];
    j
}

fn rss_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

async fn wait_finished(c: &Shared, n: usize, limit: Duration) {
    let start = Instant::now();
    while c.lock().unwrap().finished.len() < n && start.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let Ok(bin) = std::env::var("KILN_BIN") else {
        println!("runner_figures: set KILN_BIN to a release build of `kiln` to measure");
        return;
    };
    let coord: Shared = Arc::default();
    let app = axum::Router::new()
        .route("/api/v4/jobs/request", post(request_job))
        .route("/api/v4/jobs/{id}", put(update_job))
        .route("/api/v4/jobs/{id}/trace", patch(patch_trace))
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(coord.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "concurrent = 50\ncheck_interval = 1\n\n[[runners]]\n  name = \"bench\"\n  url = \"{url}\"\n  token = \"glrt-benchtoken\"\n  executor = \"shell\"\n  output_limit = 2000000\n"
        ),
    )
    .unwrap();
    let mut child = std::process::Command::new(&bin)
        .args(["runner", "--log-level", "warn", "run", "-c"])
        .arg(&config)
        .arg("-d")
        .arg(dir.path())
        .spawn()
        .unwrap();
    let pid = child.id();

    tokio::time::sleep(Duration::from_secs(3)).await;
    let idle = rss_kib(pid, "VmRSS:");
    println!("idle RSS of `kiln runner run`: {:.2} MiB", idle as f64 / 1024.0);

    // Job received → first user command (GIT_STRATEGY: none); best of 10.
    let stamp = dir.path().join("stamp");
    let mut best = Duration::MAX;
    for i in 0..10 {
        let script = format!("date +%s%N > {}", stamp.display());
        coord.lock().unwrap().queue.push_back(job(100 + i, &script));
        wait_finished(&coord, usize::try_from(i).unwrap() + 1, Duration::from_secs(30)).await;
        let sent = coord.lock().unwrap().sent_at.last().unwrap().1;
        let ns: u128 = std::fs::read_to_string(&stamp).unwrap().trim().parse().unwrap();
        let wall = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let first_command =
            Instant::now() - Duration::from_nanos(u64::try_from(wall.saturating_sub(ns)).unwrap());
        best = best.min(first_command.saturating_duration_since(sent));
    }
    println!(
        "job received -> first user command (GIT_STRATEGY: none, best of 10): {:.1} ms",
        best.as_secs_f64() * 1000.0
    );

    // 50 concurrent sleeping jobs.
    let before = coord.lock().unwrap().finished.len();
    for i in 0..50 {
        coord.lock().unwrap().queue.push_back(job(200 + i, "sleep 6"));
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    let loaded = rss_kib(pid, "VmRSS:");
    wait_finished(&coord, before + 50, Duration::from_secs(60)).await;
    println!(
        "RSS with 50 concurrent shell jobs: {:.2} MiB, {:.3} MiB per job",
        loaded as f64 / 1024.0,
        (loaded.saturating_sub(idle)) as f64 / 1024.0 / 50.0
    );

    // 1 GiB of output.
    let before = coord.lock().unwrap().finished.len();
    coord.lock().unwrap().trace_bytes = 0;
    let line = "x".repeat(99);
    coord.lock().unwrap().queue.push_back(job(300, &format!("yes {line} | head -c 1073741824")));
    let start = Instant::now();
    let mut peak = 0;
    while coord.lock().unwrap().finished.len() <= before && start.elapsed() < Duration::from_secs(600) {
        peak = peak.max(rss_kib(pid, "VmRSS:"));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let took = start.elapsed();
    let bytes = coord.lock().unwrap().trace_bytes;
    println!(
        "1 GiB job output: {:.0} MB/s ({} bytes of log in {:.2} s), runner peak RSS {:.2} MiB",
        bytes as f64 / took.as_secs_f64() / 1e6,
        bytes,
        took.as_secs_f64(),
        peak as f64 / 1024.0
    );
    let _ = child.kill();
    let _ = child.wait();
}
