//! Crash safety: SIGKILL the server at random moments while pipelines are
//! being created (pushes, API calls) and processed; after every restart,
//! every acknowledged push has exactly one pipeline, nothing is duplicated,
//! and every pipeline continues to the end.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::{ServerProcess, commit, git, work_tree};
use kiln_pipeline::{Event, Status};
use kiln_store::Backend;
use kiln_store::effects::ApplyOptions;
use kiln_store::jobs::JobFilter;
use kiln_store::pipelines::PipelineFilter;
use rand::Rng;
use serde_json::json;

const CI: &str = "stages: [build, test]\nbuild:\n  stage: build\n  script: echo build\ntest:\n  stage: test\n  script: echo test\n";
const KILLS: usize = 20;

/// Runs every pending job to success through the store, as runners would.
async fn drain(store: &kiln_store::Store) {
    let pending = JobFilter { statuses: vec![Status::Pending], ..JobFilter::default() };
    for job in store.list_jobs(&pending, kiln_store::Page::all()).await.unwrap().items {
        let running = Event::JobRunning { job: job.number, graceful_cancel: true };
        if store.handle_event(job.pipeline_id, &running, ApplyOptions::now()).await.is_ok() {
            store
                .handle_event(job.pipeline_id, &Event::JobSucceeded { job: job.number }, ApplyOptions::now())
                .await
                .unwrap();
        }
    }
}

async fn crash_and_recover(backend: Backend) {
    let mut server = ServerProcess::start(backend);
    let api = server.api();
    let (status, project) = api.post("/projects", json!({"name": "crashy"})).await;
    assert_eq!(status, 201);
    let id = project["id"].as_i64().unwrap();
    let work = server.dir.path().join("work");
    work_tree(&work, &[(".gitlab-ci.yml", CI)], "ci");
    let url = server.git_url("root/crashy");
    assert!(git(&work, &["push", "--quiet", &url, "main"]).status.success());
    let store = kiln_store::Store::open(&server.database_url).await.unwrap();

    // sha → whether its push was acknowledged.
    let mut pushes: Vec<(String, bool)> = Vec::new();
    let mut api_created = 0usize;
    let mut rng = rand::rng();
    for round in 0..KILLS {
        let work_dir = work.clone();
        let remote = url.clone();
        let pushing = tokio::task::spawn_blocking(move || {
            let mut done = Vec::new();
            for i in 0..3 {
                let sha = commit(
                    &work_dir,
                    &[("round.txt", &format!("{round}-{i}"))],
                    &format!("round {round} commit {i}"),
                );
                let ok = git(&work_dir, &["push", "--quiet", &remote, "main"]).status.success();
                done.push((sha, ok));
                if !ok {
                    break;
                }
            }
            done
        });
        let api_call = {
            let api = api.clone();
            tokio::spawn(async move {
                let response = api
                    .client
                    .post(format!("{}/projects/{id}/pipeline", api.base))
                    .header("PRIVATE-TOKEN", api.token.clone().unwrap())
                    .json(&json!({"ref": "main"}))
                    .send()
                    .await;
                matches!(response, Ok(r) if r.status() == 201)
            })
        };
        // Processing of earlier pipelines runs meanwhile too.
        drain(&store).await;
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..1500))).await;
        server.kill();
        pushes.extend(pushing.await.unwrap());
        if api_call.await.unwrap() {
            api_created += 1;
        }
        server.spawn();
    }

    // Every acknowledged push has exactly one pipeline; none has two.
    let deadline = Instant::now() + Duration::from_secs(60);
    let filter = PipelineFilter { project: Some(kiln_store::ProjectId(id)), ..PipelineFilter::default() };
    loop {
        let all = store.list_pipelines(&filter, kiln_store::Page::all()).await.unwrap().items;
        let mut per_sha: HashMap<String, usize> = HashMap::new();
        for p in all.iter().filter(|p| p.source == kiln_store::pipelines::PipelineSource::Push) {
            *per_sha.entry(p.sha.clone()).or_default() += 1;
        }
        assert!(per_sha.values().all(|n| *n == 1), "a push pipeline was duplicated: {per_sha:?}");
        let missing: Vec<&String> =
            pushes.iter().filter(|(sha, ok)| *ok && !per_sha.contains_key(sha)).map(|(sha, _)| sha).collect();
        let api_count = all.iter().filter(|p| p.source == kiln_store::pipelines::PipelineSource::Api).count();
        assert!(api_count >= api_created, "an acknowledged API pipeline is missing");
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "acknowledged pushes without a pipeline: {missing:?}\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Every pipeline continues and ends as GitLab would: all jobs pass, so it passes.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        drain(&store).await;
        let all = store.list_pipelines(&filter, kiln_store::Page::all()).await.unwrap().items;
        let unfinished: Vec<_> =
            all.iter().filter(|p| p.status != Status::Success).map(|p| (p.id.0, p.status)).collect();
        if unfinished.is_empty() {
            for p in &all {
                let jobs = store
                    .list_jobs(
                        &JobFilter { pipeline: Some(p.id), include_retried: true, ..JobFilter::default() },
                        kiln_store::Page::all(),
                    )
                    .await
                    .unwrap()
                    .items;
                assert_eq!(jobs.len(), 2, "pipeline {} has duplicated jobs", p.id.0);
            }
            break;
        }
        assert!(Instant::now() < deadline, "pipelines did not finish: {unfinished:?}\n{}", server.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let acknowledged = pushes.iter().filter(|(_, ok)| *ok).count();
    assert!(acknowledged >= KILLS / 2, "too few pushes got through to mean anything: {acknowledged}");
    store.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_twenty_times_on_sqlite() {
    crash_and_recover(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_twenty_times_on_postgres() {
    crash_and_recover(Backend::Postgres).await;
}
