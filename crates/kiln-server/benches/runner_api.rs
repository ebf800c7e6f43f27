//! Runner API figures, printed (a main, not criterion: each figure needs a real
//! server process with a prepared queue). `cargo bench -p kiln-server --bench
//! runner_api` runs all on SQLite and PostgreSQL; `-- sqlite` or `-- postgres`
//! picks one, and `ingest`, `latency` or `claims` picks figures.
//!
//! - pickup latency: a runner is parked in `POST /jobs/request`; a manual job is
//!   played through the REST API, whose transaction makes it pending. Measured
//!   from that commit (the server logs the wall-clock time right after it, target
//!   `kiln_store::pending`) to the `201` arriving at the runner (the bench's
//!   wall-clock time when the response is read; same machine, same clock), which
//!   is the "job becomes pending -> 201 sent", plus the client's read.
//!   The time from sending the play request is printed too.
//! - claim throughput: 10,000 pending jobs (100 pipelines of `parallel: 100`),
//!   then 200 concurrent requesters over 20 runners until all are claimed.
//! - log ingest: one job's log sent as 1 MiB `PATCH /trace` chunks, one after
//!   the other, with the server's peak RSS; then (not timed) read back through
//!   the REST API and compared, and finished with its crc32 and size.
//!
//! The server is this crate's `kiln-server` binary (the system allocator);
//! `KILN_SERVER_CMD="target/release/kiln server"` measures the `kiln` binary
//! people run instead (mimalloc).

// Printing the figures is what this bench is for.
#![allow(clippy::print_stdout)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kiln_store::runners::NewRunner;
use kiln_store::testing::{PgCluster, free_port};
use kiln_store::{Backend, Store};
use serde_json::{Value, json};

struct Server {
    child: Child,
    url: String,
    token: String,
    database_url: String,
    _dir: tempfile::TempDir,
    dir: PathBuf,
    _cluster: Option<PgCluster>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Ok(to) = std::env::var("RUNNER_BENCH_KEEP_LOG") {
            let _ = std::fs::copy(self.dir.join("server.log"), to);
        }
    }
}

/// The server process to start: `KILN_SERVER_CMD` (a program and its leading
/// arguments, split at spaces), else this crate's `kiln-server` binary.
fn server_command() -> Command {
    match std::env::var("KILN_SERVER_CMD") {
        Ok(cmd) if !cmd.trim().is_empty() => {
            let mut parts = cmd.split_whitespace();
            let mut command = Command::new(parts.next().unwrap_or_default());
            command.args(parts);
            command
        }
        _ => Command::new(env!("CARGO_BIN_EXE_kiln-server")),
    }
}

fn start(backend: Backend) -> Server {
    let dir = tempfile::Builder::new().prefix("kiln-runner-bench-").tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let (database_url, cluster) = match backend {
        Backend::Sqlite => (format!("sqlite://{}", path.join("kiln.db").display()), None),
        Backend::Postgres => {
            let c = PgCluster::start().unwrap();
            (c.url(), Some(c))
        }
    };
    let port = free_port().unwrap();
    let log = std::fs::File::create(path.join("server.log")).unwrap();
    let child = server_command()
        .arg("--data-dir")
        .arg(path.join("data"))
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--database-url")
        .arg(&database_url)
        .args(["--long-poll-timeout", "50"])
        .env(
            "KILN_LOG",
            format!(
                "{},kiln_store::pending=debug",
                std::env::var("RUNNER_BENCH_LOG").unwrap_or_else(|_| "warn".into())
            ),
        )
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let credentials = std::fs::read_to_string(path.join("data/initial_root_credentials")).unwrap();
    let token = credentials.lines().find_map(|l| l.strip_prefix("token: ")).unwrap().to_string();
    Server {
        child,
        url: format!("http://127.0.0.1:{port}"),
        token,
        database_url,
        _dir: dir,
        dir: path,
        _cluster: cluster,
    }
}

fn git(cwd: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(cwd)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Bench")
        .env("GIT_AUTHOR_EMAIL", "bench@example.com")
        .env("GIT_COMMITTER_NAME", "Bench")
        .env("GIT_COMMITTER_EMAIL", "bench@example.com")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

async fn api(s: &Server, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .request(method, format!("{}/api/v4{path}", s.url))
        .header("PRIVATE-TOKEN", &s.token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// A project whose `main` holds `config`, pushed with `[skip ci]`.
async fn project(s: &Server, name: &str, config: &str) -> i64 {
    let (status, p) = api(s, reqwest::Method::POST, "/projects", json!({"name": name})).await;
    assert_eq!(status, 201, "{p}");
    let work = s.dir.join(format!("work-{name}"));
    std::fs::create_dir_all(&work).unwrap();
    git(&work, &["init", "--quiet", "--initial-branch=main"]);
    std::fs::write(work.join(".gitlab-ci.yml"), config).unwrap();
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "--quiet", "-m", "bench [skip ci]"]);
    let remote = format!("http://root:{}@{}/root/{name}.git", s.token, s.url.trim_start_matches("http://"));
    git(&work, &["push", "--quiet", &remote, "main"]);
    p["id"].as_i64().unwrap()
}

fn request_body(token: &str, system_id: &str) -> Value {
    json!({"token": token, "system_id": system_id, "info": {"name": "bench", "version": "19.4.0", "features": {"cancel_gracefully": true}}})
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

async fn pickup_latency(s: &Server, store: &Store) {
    let samples = 200;
    let pid =
        project(s, "latency", &format!("play:\n  script: echo\n  when: manual\n  parallel: {samples}\n"))
            .await;
    let (status, p) =
        api(s, reqwest::Method::POST, &format!("/projects/{pid}/pipeline"), json!({"ref": "main"})).await;
    assert_eq!(status, 201, "{p}");
    let pipeline = p["id"].as_i64().unwrap();
    let (_, jobs) = api(
        s,
        reqwest::Method::GET,
        &format!("/projects/{pid}/pipelines/{pipeline}/jobs?per_page=100"),
        json!({}),
    )
    .await;
    let (_, more) = api(
        s,
        reqwest::Method::GET,
        &format!("/projects/{pid}/pipelines/{pipeline}/jobs?per_page=100&page=2"),
        json!({}),
    )
    .await;
    let ids: Vec<i64> = jobs
        .as_array()
        .unwrap()
        .iter()
        .chain(more.as_array().unwrap())
        .map(|j| j["id"].as_i64().unwrap())
        .collect();
    let (_, token) = store.create_runner(&NewRunner::instance()).await.unwrap();
    let http = reqwest::Client::new();
    let runner_url = format!("{}/api/v4/jobs/request", s.url);
    let body = request_body(&token, "s_latency0001");
    // Warm the connection and the runner's manager.
    let _ = http
        .post(&runner_url)
        .json(&request_body(&token, "s_latency0001"))
        .timeout(Duration::from_millis(200))
        .send()
        .await;
    let mut from_play = Vec::new();
    let mut received = Vec::new();
    for id in ids {
        let parked = {
            let http = http.clone();
            let url = runner_url.clone();
            let body = body.clone();
            tokio::spawn(async move {
                let r = http.post(url).json(&body).send().await.unwrap();
                let (at, wall) = (Instant::now(), SystemTime::now());
                let status = r.status().as_u16();
                let job: Value = r.json().await.unwrap_or(Value::Null);
                (status, at, wall, job["id"].as_i64())
            })
        };
        tokio::time::sleep(Duration::from_millis(30)).await; // let it park
        let sent = Instant::now();
        let play = reqwest::Client::new()
            .post(format!("{}/api/v4/projects/{pid}/jobs/{id}/play", s.url))
            .header("PRIVATE-TOKEN", &s.token)
            .send();
        let (play, parked) = tokio::join!(play, parked);
        assert!(play.unwrap().status().is_success());
        let (status, got, wall, job) = parked.unwrap();
        assert_eq!(status, 201, "the parked runner got no job");
        assert_eq!(job, Some(id), "the parked runner got another job");
        from_play.push(got.duration_since(sent));
        received.push((id, wall));
    }
    let pending = pending_times(&s.dir.join("server.log"));
    let mut latencies: Vec<Duration> = received
        .iter()
        .map(|(id, wall)| {
            let at =
                pending.get(id).unwrap_or_else(|| panic!("the server logged no pending time for job {id}"));
            wall.duration_since(*at).unwrap_or_default()
        })
        .collect();
    print_latency("job pending (commit) -> 201 at the parked runner", &mut latencies);
    print_latency("play request sent -> 201 at the parked runner", &mut from_play);
}

fn print_latency(what: &str, latencies: &mut [Duration]) {
    latencies.sort();
    println!(
        "  pickup latency ({what}), {} samples: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        latencies.len(),
        percentile(latencies, 0.5).as_secs_f64() * 1e3,
        percentile(latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().unwrap().as_secs_f64() * 1e3
    );
}

/// When each job became pending, from the server's `jobs pending` debug lines
/// (`jobs=<id>,<id> at_us=<unix microseconds>`).
fn pending_times(log: &Path) -> HashMap<i64, SystemTime> {
    let text = std::fs::read_to_string(log).unwrap();
    let mut out = HashMap::new();
    for line in text.lines().filter(|l| l.contains("jobs pending")) {
        let field = |name: &str| {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(name))
                .map(|v| v.trim_matches('"').to_string())
        };
        let (Some(jobs), Some(at)) = (field("jobs="), field("at_us=")) else { continue };
        let Ok(at) = at.parse::<u64>() else { continue };
        for id in jobs.split(',').filter_map(|j| j.parse::<i64>().ok()) {
            out.insert(id, UNIX_EPOCH + Duration::from_micros(at));
        }
    }
    out
}

async fn claim_throughput(s: &Server, store: &Store) {
    let (pipelines, per) = (100, 100);
    let pid = project(s, "throughput", &format!("work:\n  script: echo\n  parallel: {per}\n")).await;
    for _ in 0..pipelines {
        let (status, p) =
            api(s, reqwest::Method::POST, &format!("/projects/{pid}/pipeline"), json!({"ref": "main"})).await;
        assert_eq!(status, 201, "{p}");
    }
    let total = pipelines * per;
    let deadline = Instant::now() + Duration::from_secs(300);
    while store.pending_count().await.unwrap() < i64::try_from(total).unwrap() {
        assert!(Instant::now() < deadline, "jobs did not become pending");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut tokens = Vec::new();
    for _ in 0..20 {
        tokens.push(store.create_runner(&NewRunner::instance()).await.unwrap().1);
    }
    let count = Arc::new(AtomicUsize::new(0));
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<Instant>();
    let done_tx = Arc::new(std::sync::Mutex::new(Some(done_tx)));
    let started = Instant::now();
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let body = request_body(&tokens[i % 20], &format!("s_bench{i:07}"));
            let url = format!("{}/api/v4/jobs/request", s.url);
            let count = Arc::clone(&count);
            let done_tx = Arc::clone(&done_tx);
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                while count.load(Ordering::Relaxed) < total {
                    let r = http.post(&url).json(&body).send().await.unwrap();
                    if r.status().as_u16() == 201 {
                        let _ = r.bytes().await;
                        if count.fetch_add(1, Ordering::Relaxed) + 1 == total
                            && let Some(tx) = done_tx.lock().unwrap().take()
                        {
                            let _ = tx.send(Instant::now());
                        }
                    }
                }
            })
        })
        .collect();
    // The last claim ends the measurement; the other requesters are parked in
    // long polls that nothing will answer, so they are dropped.
    let elapsed = done_rx.await.unwrap().duration_since(started);
    for t in tasks {
        t.abort();
    }
    #[allow(clippy::cast_precision_loss)]
    let rate = total as f64 / elapsed.as_secs_f64();
    println!(
        "  claim throughput: {total} jobs, 200 requesters, {:.2} s: {rate:.0} claims/s",
        elapsed.as_secs_f64()
    );
}

fn rss_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

async fn log_ingest(s: &Server, store: &Store) {
    let size_mib = 96;
    let pid = project(s, "ingest", "log:\n  script: echo\n").await;
    let (status, _) =
        api(s, reqwest::Method::POST, &format!("/projects/{pid}/pipeline"), json!({"ref": "main"})).await;
    assert_eq!(status, 201);
    let (_, token) = store.create_runner(&NewRunner { tags: vec![], ..NewRunner::instance() }).await.unwrap();
    let http = reqwest::Client::new();
    let job = loop {
        let r = http
            .post(format!("{}/api/v4/jobs/request", s.url))
            .json(&request_body(&token, "s_ingest00001"))
            .send()
            .await
            .unwrap();
        if r.status().as_u16() == 201 {
            break r.json::<Value>().await.unwrap();
        }
    };
    let (id, job_token) = (job["id"].as_i64().unwrap(), job["token"].as_str().unwrap().to_string());
    // Each patch differs (its number leads every line), so a log stored out of
    // order or twice does not read back equal.
    let patch = |n: usize| -> bytes::Bytes {
        let line = format!("{n:05} 0123456789abcdef ingest line\n");
        line.bytes().cycle().take(1024 * 1024).collect::<Vec<u8>>().into()
    };
    let chunk_len = 1024 * 1024;
    let patches: Vec<bytes::Bytes> = (0..size_mib).map(patch).collect();
    let pid_server = s.child.id();
    let before = rss_kib(pid_server, "VmRSS:");
    let started = Instant::now();
    for (n, body) in patches.iter().enumerate() {
        let start = n * chunk_len;
        let r = http
            .patch(format!("{}/api/v4/jobs/{id}/trace", s.url))
            .header("JOB-TOKEN", &job_token)
            .header("Content-Range", format!("{}-{}", start, start + chunk_len - 1))
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 202, "patch {n}");
    }
    let elapsed = started.elapsed();
    let (after, peak) = (rss_kib(pid_server, "VmRSS:"), rss_kib(pid_server, "VmHWM:"));
    // Not timed: the log reads back as sent, and the final update's checksum
    // and size match it.
    let r = http
        .get(format!("{}/api/v4/projects/{pid}/jobs/{id}/trace", s.url))
        .header("PRIVATE-TOKEN", &s.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let stored = r.bytes().await.unwrap();
    let mut crc = crc32fast::Hasher::new();
    for (n, body) in patches.iter().enumerate() {
        let at = n * chunk_len;
        assert!(stored.get(at..at + chunk_len) == Some(&body[..]), "patch {n} did not read back as sent");
        crc.update(body);
    }
    assert_eq!(stored.len(), size_mib * chunk_len, "the stored log's length");
    let r = http
        .put(format!("{}/api/v4/jobs/{id}", s.url))
        .json(&json!({
            "token": job_token, "state": "success", "exit_code": 0,
            "output": {"checksum": format!("crc32:{:08x}", crc.finalize()), "bytesize": stored.len()},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "the final update");
    #[allow(clippy::cast_precision_loss)]
    let mbps = (size_mib * chunk_len) as f64 / 1e6 / elapsed.as_secs_f64();
    println!(
        "  log ingest: {size_mib} MiB in 1 MiB patches, {:.2} s: {mbps:.0} MB/s; server RSS {} MiB before, {} MiB after, peak {} MiB",
        elapsed.as_secs_f64(),
        before / 1024,
        after / 1024,
        peak / 1024
    );
}

/// Which figures to take: all, or those named on the command line.
#[derive(Clone, Copy)]
struct Figures {
    ingest: bool,
    latency: bool,
    claims: bool,
}

async fn run(backend: Backend, figures: Figures) {
    println!("{backend:?}:");
    let server = start(backend);
    let store = Store::open(&server.database_url).await.unwrap();
    // Ingest first: the RSS figure is then the server's own, not what 10,000
    // claims left in the allocator.
    if figures.ingest {
        log_ingest(&server, &store).await;
    }
    if figures.latency {
        pickup_latency(&server, &store).await;
    }
    if figures.claims {
        claim_throughput(&server, &store).await;
    }
    store.close().await;
}

/// Arguments: `sqlite`, `postgres` (default both) and `ingest`, `latency`,
/// `claims` (default all), e.g. `-- sqlite ingest`.
fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let named = |names: &[&str]| args.iter().any(|a| names.contains(&a.as_str()));
    let figure_names = ["ingest", "latency", "claims"];
    let some_figure = named(&figure_names);
    let figures = Figures {
        ingest: !some_figure || named(&["ingest"]),
        latency: !some_figure || named(&["latency"]),
        claims: !some_figure || named(&["claims"]),
    };
    let backends: Vec<&String> = args.iter().filter(|a| !figure_names.contains(&a.as_str())).collect();
    let want = |name: &str| backends.is_empty() || backends.iter().any(|a| name.contains(a.as_str()));
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().unwrap();
    if want("sqlite") {
        rt.block_on(run(Backend::Sqlite, figures));
    }
    if want("postgres") {
        rt.block_on(run(Backend::Postgres, figures));
    }
}
