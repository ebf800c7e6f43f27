//! Server figures: pipelines created per second for a 50-job pipeline (SQLite
//! and PostgreSQL, through the REST API of a real server process),
//! status-change processing for a 500-job pipeline (through the store and
//! `kiln-pipeline`, as the server applies them), and idle RSS.
//!
//! `CARGO_TARGET_DIR=... cargo bench -p kiln-server --bench server`

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kiln_pipeline::{Event, JobDefinition, PipelineSettings, Status};
use kiln_store::Backend;
use kiln_store::effects::ApplyOptions;
use kiln_store::pipelines::{NewPipeline, PipelineSource, PlannedJob};
use kiln_store::testing::{PgCluster, free_port};
use serde_json::json;

struct Server {
    child: Child,
    url: String,
    token: String,
    _dir: tempfile::TempDir,
    _cluster: Option<PgCluster>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn server_binary() -> std::path::PathBuf {
    // Benches live in `target/release/deps`; the binary one level up.
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().join("kiln-server")
}

fn start(backend: Backend) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let cluster = (backend == Backend::Postgres).then(|| PgCluster::start().unwrap());
    let db =
        cluster.as_ref().map_or_else(|| format!("sqlite://{}/kiln.db", dir.path().display()), PgCluster::url);
    let port = free_port().unwrap();
    let child = Command::new(server_binary())
        .args([
            "--data-dir",
            dir.path().join("data").to_str().unwrap(),
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .args(["--database-url", &db])
        .env("KILN_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let creds = std::fs::read_to_string(dir.path().join("data/initial_root_credentials")).unwrap();
    let token = creds.lines().find_map(|l| l.strip_prefix("token: ")).unwrap().to_string();
    Server { child, url: format!("http://127.0.0.1:{port}"), token, _dir: dir, _cluster: cluster }
}

fn fifty_jobs() -> String {
    let mut yaml = String::from("stages: [build, test, deploy]\n");
    for i in 0..50 {
        let stage = ["build", "test", "deploy"][i % 3];
        yaml.push_str(&format!("job{i}:\n  stage: {stage}\n  script: echo {i}\n"));
    }
    yaml
}

fn git(cwd: &std::path::Path, args: &[&str]) {
    let ok = Command::new("git")
        .args(args)
        .current_dir(cwd)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "b")
        .env("GIT_AUTHOR_EMAIL", "b@example.com")
        .env("GIT_COMMITTER_NAME", "b")
        .env("GIT_COMMITTER_EMAIL", "b@example.com")
        .output()
        .unwrap()
        .status
        .success();
    assert!(ok, "git {args:?}");
}

fn creation(c: &mut Criterion, backend: Backend, name: &str) {
    let server = start(backend);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = reqwest::Client::new();
    let api = format!("{}/api/v4", server.url);
    let project: serde_json::Value = rt.block_on(async {
        client
            .post(format!("{api}/projects"))
            .header("PRIVATE-TOKEN", &server.token)
            .json(&json!({"name": "bench"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    let id = project["id"].as_i64().unwrap();
    let work = tempfile::tempdir().unwrap();
    git(work.path(), &["init", "--quiet", "--initial-branch=main"]);
    std::fs::write(work.path().join(".gitlab-ci.yml"), fifty_jobs()).unwrap();
    git(work.path(), &["add", "-A"]);
    git(work.path(), &["commit", "--quiet", "-m", "ci"]);
    let remote =
        format!("http://root:{}@{}/root/bench.git", server.token, server.url.trim_start_matches("http://"));
    git(work.path(), &["push", "--quiet", &remote, "main"]);

    let mut group = c.benchmark_group("pipeline_creation_50_jobs");
    group.throughput(Throughput::Elements(1));
    group.sample_size(20);
    group.bench_function(name, |b| {
        b.to_async(&rt).iter(|| async {
            let response = client
                .post(format!("{api}/projects/{id}/pipeline"))
                .header("PRIVATE-TOKEN", &server.token)
                .json(&json!({"ref": "main"}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 201);
        });
    });
    group.finish();
}

fn creation_sqlite(c: &mut Criterion) {
    creation(c, Backend::Sqlite, "sqlite");
}

fn creation_postgres(c: &mut Criterion) {
    creation(c, Backend::Postgres, "postgres");
}

/// 500 jobs in one stage: every job goes pending → running → success, each
/// change processed as the server processes it (load, decide, compare-and-set).
fn processing(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(kiln_store::testing::TestDb::new(Backend::Sqlite)).unwrap();
    let store = db.store.clone();
    let (user, project) = rt.block_on(async {
        let user = store
            .create_user(&kiln_store::users::NewUser {
                username: "b".into(),
                name: "b".into(),
                email: "b@example.com".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        let ns = store.user_namespace(user.id).await.unwrap();
        let project = store
            .create_project(&kiln_store::projects::NewProject {
                namespace: ns.id,
                name: "p".into(),
                path: "p".into(),
                description: String::new(),
                visibility: kiln_store::namespaces::Visibility::Private,
                default_branch: "main".into(),
                creator: Some(user.id),
            })
            .await
            .unwrap();
        (user, project)
    });
    let jobs: Vec<PlannedJob> = (0..500)
        .map(|i| PlannedJob {
            definition: JobDefinition::new(format!("job{i}"), 0),
            stage: "test".into(),
            tags: Vec::new(),
            spec: json!({}),
        })
        .collect();
    let mut group = c.benchmark_group("status_changes_500_job_pipeline");
    group.throughput(Throughput::Elements(1000));
    group.sample_size(10);
    group.bench_function("sqlite", |b| {
        b.to_async(&rt).iter(|| async {
            let new = NewPipeline {
                project: project.id,
                sha: "a".repeat(40),
                before_sha: None,
                ref_name: "main".into(),
                tag: false,
                protected: false,
                source: PipelineSource::Api,
                user: Some(user.id),
                schedule: None,
                trigger: None,
                parent_pipeline: None,
                parent_job: None,
                settings: PipelineSettings::default(),
                variables: Vec::new(),
                status: Status::Created,
                failure_reason: None,
                yaml_errors: None,
                jobs: jobs.clone(),
            };
            let (pipeline, _) = store.create_pipeline(&new).await.unwrap();
            store.handle_event(pipeline.id, &Event::Process, ApplyOptions::now()).await.unwrap();
            for n in 0..500u32 {
                let job = kiln_pipeline::JobId(n);
                store
                    .handle_event(
                        pipeline.id,
                        &Event::JobRunning { job, graceful_cancel: true },
                        ApplyOptions::now(),
                    )
                    .await
                    .unwrap();
                store
                    .handle_event(pipeline.id, &Event::JobSucceeded { job }, ApplyOptions::now())
                    .await
                    .unwrap();
            }
            assert_eq!(store.pipeline(pipeline.id).await.unwrap().status, Status::Success);
        });
    });
    group.finish();
}

/// Idle RSS of a started server (reported, not timed).
fn idle_rss(_c: &mut Criterion) {
    let server = start(Backend::Sqlite);
    std::thread::sleep(Duration::from_secs(3));
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.child.id())).unwrap();
    let rss = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap_or("VmRSS: ?");
    #[allow(clippy::print_stdout)]
    {
        println!("idle server {rss}");
    }
}

criterion_group!(benches, creation_sqlite, creation_postgres, processing, idle_rss);
criterion_main!(benches);
