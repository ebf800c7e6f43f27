//! Store benchmarks on SQLite and PostgreSQL (a private cluster, fsync on):
//! claim throughput with 10,000 pending jobs and 200 concurrent claimers, and
//! pipeline creation (one 50-job pipeline per iteration).
//!
//! `cargo bench -p kiln-store --bench store`; criterion prints elements per second
//! (claims/s, pipelines/s).

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kiln_pipeline::{Event, JobDefinition, PipelineSettings, Status};
use kiln_store::effects::ApplyOptions;
use kiln_store::namespaces::{NewGroup, Visibility};
use kiln_store::pipelines::{NewPipeline, PipelineSource, PlannedJob};
use kiln_store::projects::{NewProject, Project};
use kiln_store::queue::RunnerMatch;
use kiln_store::runners::{ManagerInfo, NewRunner};
use kiln_store::testing::TestDb;
use kiln_store::users::{NewUser, User};
use kiln_store::{Backend, Millis, Store};

const PENDING: usize = 10_000;
const CLAIMERS: usize = 200;
const JOBS_PER_PIPELINE: usize = 50;
const PROJECTS: usize = 20;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn plan(n: usize) -> Vec<PlannedJob> {
    (0..n)
        .map(|i| PlannedJob {
            definition: JobDefinition::new(format!("job {i}"), 0),
            stage: "test".into(),
            tags: Vec::new(),
            spec: serde_json::json!({ "script": ["make test"], "image": "rust:1" }),
        })
        .collect()
}

fn new_pipeline(project: &Project, user: &User, jobs: Vec<PlannedJob>) -> NewPipeline {
    NewPipeline {
        project: project.id,
        sha: "0123456789abcdef0123456789abcdef01234567".into(),
        before_sha: None,
        ref_name: "main".into(),
        tag: false,
        protected: true,
        source: PipelineSource::Push,
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
        jobs,
    }
}

struct Fixture {
    _db: TestDb,
    store: Store,
    user: User,
    projects: Vec<Project>,
    runner: RunnerMatch,
}

async fn fixture(backend: Backend) -> Fixture {
    let db = TestDb::new(backend).await.unwrap();
    let store = db.store.clone();
    let user = store
        .create_user(&NewUser {
            username: "bench".into(),
            name: "Bench".into(),
            email: "bench@example.com".into(),
            password_digest: None,
            admin: true,
        })
        .await
        .unwrap();
    let group = store
        .create_group(
            &NewGroup {
                name: "bench".into(),
                path: "bench-group".into(),
                parent: None,
                visibility: Visibility::Private,
                description: String::new(),
            },
            user.id,
        )
        .await
        .unwrap();
    let mut projects = Vec::new();
    for i in 0..PROJECTS {
        let project = store
            .create_project(&NewProject {
                namespace: group.id,
                name: format!("p{i}"),
                path: format!("p{i}"),
                description: String::new(),
                visibility: Visibility::Private,
                default_branch: "main".into(),
                creator: Some(user.id),
            })
            .await
            .unwrap();
        projects.push(project);
    }
    let (runner, _) = store.create_runner(&NewRunner::instance()).await.unwrap();
    let info = ManagerInfo { system_id: "s_bench".into(), ..Default::default() };
    let manager = store.touch_runner_manager(runner.id, &info, Millis::now()).await.unwrap();
    let runner = store.runner_match(&runner, manager.id).await.unwrap();
    Fixture { _db: db, store, user, projects, runner }
}

/// Queues `PENDING` jobs: pipelines of 50 jobs spread over the projects.
async fn fill_queue(f: &Fixture) {
    let pipelines = PENDING / JOBS_PER_PIPELINE;
    let mut tasks = Vec::new();
    for i in 0..pipelines {
        let store = f.store.clone();
        let new = new_pipeline(&f.projects[i % PROJECTS], &f.user, plan(JOBS_PER_PIPELINE));
        tasks.push(tokio::spawn(async move {
            let (p, _) = store.create_pipeline(&new).await.unwrap();
            store.handle_event(p.id, &Event::Process, ApplyOptions::now()).await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(f.store.pending_count().await.unwrap(), PENDING as i64);
}

/// 200 tasks claim until the queue is empty; returns the time the claims took.
async fn drain(f: &Fixture) -> Duration {
    let runner = Arc::new(f.runner.clone());
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CLAIMERS {
        let store = f.store.clone();
        let runner = Arc::clone(&runner);
        tasks.push(tokio::spawn(async move {
            let mut n = 0usize;
            while store.claim_job(&runner, false, Millis::now()).await.unwrap().is_some() {
                n += 1;
            }
            n
        }));
    }
    let mut claimed = 0;
    for t in tasks {
        claimed += t.await.unwrap();
    }
    let took = start.elapsed();
    assert_eq!(claimed, PENDING);
    took
}

fn claims(c: &mut Criterion) {
    let mut group = c.benchmark_group("claim_10000_pending_200_claimers");
    group.sample_size(10).throughput(Throughput::Elements(PENDING as u64));
    for (name, backend) in [("sqlite", Backend::Sqlite), ("postgres", Backend::Postgres)] {
        let rt = runtime();
        let f = rt.block_on(fixture(backend));
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    rt.block_on(fill_queue(&f));
                    total += rt.block_on(drain(&f));
                }
                total
            })
        });
    }
    group.finish();
}

fn pipeline_creation(c: &mut Criterion) {
    let mut group = c.benchmark_group("create_pipeline_50_jobs");
    group.sample_size(20).throughput(Throughput::Elements(1));
    for (name, backend) in [("sqlite", Backend::Sqlite), ("postgres", Backend::Postgres)] {
        let rt = runtime();
        let f = rt.block_on(fixture(backend));
        let new = new_pipeline(&f.projects[0], &f.user, plan(JOBS_PER_PIPELINE));
        group.bench_function(name, |b| {
            b.to_async(&rt).iter(|| async { f.store.create_pipeline(&new).await.unwrap() });
        });
    }
    group.finish();
}

criterion_group!(benches, claims, pipeline_creation);
criterion_main!(benches);
