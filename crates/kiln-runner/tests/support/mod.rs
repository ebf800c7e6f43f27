//! An in-test coordinator speaking the runner API on loopback, and helpers to run jobs
//! through the real runner loop against it.

#![allow(dead_code, unreachable_pub)]

pub mod git;

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Multipart, Path as AxPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{patch, post, put};
use kiln_api::{JobResponse, JobVariable, Step, UpdateJobRequest};
use kiln_runner::commands::{JobReport, RunControl, RunOptions, serve};
use kiln_runner::config::{Config, RunnerConfig};
use kiln_runner::metrics::Metrics;
use kiln_runner::network::TraceSettings;
use tokio::sync::watch;

#[derive(Default)]
pub struct Coord {
    pub queue: VecDeque<JobResponse>,
    pub traces: BTreeMap<i64, Vec<u8>>,
    pub finals: BTreeMap<i64, UpdateJobRequest>,
    pub updates: Vec<(i64, String)>,
    pub artifacts: BTreeMap<i64, Vec<(String, String, Vec<u8>)>>,
    /// `Job-Status` to answer for a job once its log contains the marker.
    pub cancel_on: BTreeMap<i64, (String, String)>,
    /// Answer the next N job requests with 429 / 502.
    pub fail_requests: Vec<u16>,
    /// Drop the first patch of a job silently and answer 416 for the next one.
    pub lose_first_patch: BTreeMap<i64, bool>,
    pub statuses: Vec<u16>,
    pub patches: BTreeMap<i64, usize>,
    /// The runner token of every job request, in order.
    pub request_tokens: Vec<String>,
    /// `POST /runners/reset_authentication_token`: the tokens reset, and what to answer.
    pub resets: Vec<String>,
    pub reset_answer: Option<(String, String)>,
}

pub type Shared = Arc<Mutex<Coord>>;

async fn request_job(State(s): State<Shared>, body: Bytes) -> Response {
    let mut c = s.lock().unwrap();
    let req: kiln_api::JobRequest = serde_json::from_slice(&body).unwrap();
    c.request_tokens.push(req.token);
    if let Some(code) = (!c.fail_requests.is_empty()).then(|| c.fail_requests.remove(0)) {
        c.statuses.push(code);
        return (StatusCode::from_u16(code).unwrap(), [("Retry-After", "0")], "").into_response();
    }
    match c.queue.pop_front() {
        Some(job) => (
            StatusCode::CREATED,
            [("Content-Type", "application/json")],
            serde_json::to_string(&job).unwrap(),
        )
            .into_response(),
        None => (StatusCode::NO_CONTENT, [("X-GitLab-Last-Update", "abc")]).into_response(),
    }
}

async fn update_job(State(s): State<Shared>, AxPath(id): AxPath<i64>, body: Bytes) -> Response {
    let req: UpdateJobRequest = serde_json::from_slice(&body).unwrap();
    let mut c = s.lock().unwrap();
    c.updates.push((id, req.state.to_string()));
    let status = job_status(&c, id);
    if matches!(req.state, kiln_api::JobState::Success | kiln_api::JobState::Failed) {
        c.finals.insert(id, req);
    }
    let mut h = HeaderMap::new();
    if let Some(st) = status {
        h.insert("Job-Status", st.parse().unwrap());
    }
    (StatusCode::OK, h, "200").into_response()
}

fn job_status(c: &Coord, id: i64) -> Option<String> {
    let (marker, status) = c.cancel_on.get(&id)?;
    let trace = c.traces.get(&id).map(|t| String::from_utf8_lossy(t).into_owned()).unwrap_or_default();
    trace.contains(marker.as_str()).then(|| status.clone())
}

async fn patch_trace(
    State(s): State<Shared>,
    AxPath(id): AxPath<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut c = s.lock().unwrap();
    *c.patches.entry(id).or_default() += 1;
    let range = headers.get("Content-Range").and_then(|v| v.to_str().ok()).unwrap_or("");
    let (start, end) = kiln_api::trace::parse_content_range(range).expect("Content-Range");
    assert_eq!(end + 1 - start, body.len() as u64, "inclusive Content-Range end");
    assert!(body.len() <= 1024 * 1024, "patches are at most 1 MiB");
    if c.lose_first_patch.get(&id) == Some(&true) {
        // Pretend the coordinator stored nothing: the next patch gets 416.
        c.lose_first_patch.insert(id, false);
        return (StatusCode::ACCEPTED, [("Range", format!("0-{}", start + body.len() as u64))])
            .into_response();
    }
    let trace = c.traces.entry(id).or_default();
    if start != trace.len() as u64 {
        let size = trace.len();
        return (StatusCode::RANGE_NOT_SATISFIABLE, [("Range", format!("0-{size}"))]).into_response();
    }
    trace.extend_from_slice(&body);
    let size = trace.len();
    let mut h = HeaderMap::new();
    h.insert("Range", format!("0-{size}").parse().unwrap());
    if let Some(st) = job_status(&c, id) {
        h.insert("Job-Status", st.parse().unwrap());
    }
    (StatusCode::ACCEPTED, h).into_response()
}

async fn upload(
    State(s): State<Shared>,
    AxPath(id): AxPath<i64>,
    Query(q): Query<BTreeMap<String, String>>,
    mut mp: Multipart,
) -> Response {
    while let Ok(Some(field)) = mp.next_field().await {
        if field.name() == Some("file") {
            let name = field.file_name().unwrap_or("").to_string();
            let data = field.bytes().await.unwrap().to_vec();
            let kind = q.get("artifact_type").cloned().unwrap_or_default();
            s.lock().unwrap().artifacts.entry(id).or_default().push((name, kind, data));
        }
    }
    (StatusCode::CREATED, "201").into_response()
}

async fn download(State(s): State<Shared>, AxPath(id): AxPath<i64>) -> Response {
    let c = s.lock().unwrap();
    match c.artifacts.get(&id).and_then(|a| a.iter().find(|(_, k, _)| k == "archive")) {
        Some((_, _, data)) => (StatusCode::OK, data.clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn reset_token(State(s): State<Shared>, body: Bytes) -> Response {
    let req: kiln_api::runners::ResetTokenRequest = serde_json::from_slice(&body).unwrap();
    let mut c = s.lock().unwrap();
    c.resets.push(req.token);
    let (token, expires) = c.reset_answer.clone().expect("a reset answer");
    let body = serde_json::json!({ "token": token, "token_expires_at": expires });
    (StatusCode::CREATED, [("Content-Type", "application/json")], body.to_string()).into_response()
}

pub async fn start() -> (Shared, String) {
    let shared: Shared = Arc::default();
    let app = axum::Router::new()
        .route("/api/v4/jobs/request", post(request_job))
        .route("/api/v4/runners/reset_authentication_token", post(reset_token))
        .route("/api/v4/jobs/{id}", put(update_job))
        .route("/api/v4/jobs/{id}/trace", patch(patch_trace))
        .route("/api/v4/jobs/{id}/artifacts", post(upload).get(download))
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (shared, url)
}

pub fn job(id: i64, script: &[&str]) -> JobResponse {
    let mut j = JobResponse { id, token: format!("glcbt-job{id}token"), ..Default::default() };
    j.job_info.id = id;
    j.job_info.name = format!("job{id}");
    j.job_info.project_id = 7;
    j.job_info.project_name = "widget".into();
    j.job_info.project_full_path = Some("acme/widget".into());
    j.git_info.ref_name = "main".into();
    j.runner_info.timeout = 60;
    j.features.trace_sections = true;
    j.features.failure_reasons =
        vec!["script_failure".into(), "runner_system_failure".into(), "job_execution_timeout".into()];
    j.variables = vec![
        JobVariable::public("CI", "true"),
        JobVariable::public("GIT_STRATEGY", "none"),
        JobVariable::public("CI_JOB_ID", id.to_string()),
    ];
    j.steps = vec![Step {
        name: "script".into(),
        script: script.iter().map(|s| s.to_string()).collect(),
        timeout: 60,
        when: Default::default(),
        allow_failure: false,
    }];
    j
}

pub fn after_script(j: &mut JobResponse, script: &[&str]) {
    j.steps.push(Step {
        name: "after_script".into(),
        script: script.iter().map(|s| s.to_string()).collect(),
        timeout: 60,
        when: kiln_api::job::When::Always,
        allow_failure: true,
    });
}

pub fn runner(url: &str, dir: &Path) -> RunnerConfig {
    RunnerConfig {
        name: "test-runner".into(),
        url: url.into(),
        token: "glrt-t1_testtoken123".into(),
        executor: "shell".into(),
        builds_dir: Some(dir.join("builds").to_string_lossy().into_owned()),
        cache_dir: Some(dir.join("cache").to_string_lossy().into_owned()),
        ..Default::default()
    }
}

/// The helper binary; other crates that reuse this coordinator (the Docker executor's
/// tests) have no such binary and pass their own.
pub fn helper() -> Vec<String> {
    vec![option_env!("CARGO_BIN_EXE_kiln-runner-helper").unwrap_or("kiln-runner-helper").to_string()]
}

/// Runs the runner loop until `n` jobs have finished; returns their reports.
pub async fn run_jobs(config: Config, dir: &Path, n: usize) -> Vec<JobReport> {
    run_jobs_with_helper(config, dir, n, helper()).await
}

/// [`run_jobs`] with scripts calling `helper` for the helper subcommands.
pub async fn run_jobs_with_helper(
    config: Config,
    dir: &Path,
    n: usize,
    helper: Vec<String>,
) -> Vec<JobReport> {
    let reports = Arc::new(Mutex::new(Vec::new()));
    let control = RunControl::default();
    let r2 = reports.clone();
    let stop = control.stop.clone();
    let opts = RunOptions {
        config_path: dir.join("config.toml"),
        working_dir: dir.to_path_buf(),
        helper,
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
    tokio::time::timeout(Duration::from_secs(120), run).await.expect("jobs finish in time").unwrap();
    let mut v = reports.lock().unwrap().clone();
    v.sort_by_key(|r| r.id);
    v
}

pub fn config(runner: RunnerConfig, concurrent: usize) -> Config {
    Config { concurrent, check_interval: 1, runners: vec![runner], ..Default::default() }
}

/// The log as stored by the coordinator (timestamped when `FF_TIMESTAMPS` is on).
pub fn raw_trace_of(c: &Shared, id: i64) -> String {
    String::from_utf8_lossy(c.lock().unwrap().traces.get(&id).map(Vec::as_slice).unwrap_or_default())
        .into_owned()
}

/// The log as the job wrote it: timestamp prefixes removed, continued lines joined.
pub fn trace_of(c: &Shared, id: i64) -> String {
    let raw = c.lock().unwrap().traces.get(&id).cloned().unwrap_or_default();
    String::from_utf8_lossy(&kiln_runner::trace::strip_timestamps(&raw)).into_owned()
}

pub fn temp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

pub fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

pub fn _unused(_: PathBuf) {}

/// Whether a process still runs: a zombie (killed, not yet reaped by init) does not;
/// init may take a moment to reap, so a live answer is checked again for up to 2 s.
pub fn process_alive(pid: i32) -> bool {
    let running = || match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    };
    for _ in 0..20 {
        if !running() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    true
}
