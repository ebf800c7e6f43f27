//! End to end: a real server process, a project created through the API, a
//! `git push` of a `.gitlab-ci.yml`, and the pipeline GitLab would create,
//! on SQLite and on PostgreSQL.

mod common;

use common::{ServerProcess, git_ok, job_states, pairs, work_tree};
use kiln_store::Backend;
use serde_json::json;

async fn first_pipeline(backend: Backend) {
    let server = ServerProcess::start(backend);
    let api = server.api();
    let (status, project) = api.post("/projects", json!({"name": "demo"})).await;
    assert_eq!(status, 201, "{project}");
    assert_eq!(project["path_with_namespace"], "root/demo");
    let id = project["id"].as_i64().unwrap();

    let work = server.dir.path().join("work");
    let sha = work_tree(&work, &[(".gitlab-ci.yml", "test:\n  script: echo hi\n")], "first");
    git_ok(&work, &["push", "--quiet", &server.git_url("root/demo"), "main"]);

    let pipelines = api
        .wait_for(&format!("/projects/{id}/pipelines"), "a pipeline", |v| {
            v.as_array().is_some_and(|a| !a.is_empty())
        })
        .await;
    let pipeline = &pipelines[0];
    assert_eq!(pipeline["sha"], sha.as_str());
    assert_eq!(pipeline["ref"], "main");
    assert_eq!(pipeline["source"], "push");
    let pid = pipeline["id"].as_u64().unwrap();
    let jobs = api
        .wait_for(&format!("/projects/{id}/pipelines/{pid}/jobs"), "pending jobs", |v| {
            v.as_array().is_some_and(|a| a.iter().all(|j| j["status"] == "pending"))
        })
        .await;
    assert_eq!(job_states(&jobs), pairs(&[("test", "pending")]));
    let (_, full) = api.get(&format!("/projects/{id}/pipelines/{pid}")).await;
    assert_eq!(full["before_sha"], "0000000000000000000000000000000000000000");
    assert_eq!(full["user"]["username"], "root");
    // The push that created the default branch protected it, as in GitLab.
    let (_, protected) = api.get(&format!("/projects/{id}/protected_branches")).await;
    assert_eq!(protected[0]["name"], "main", "{protected}");
    assert_eq!(protected[0]["push_access_levels"][0]["access_level"], 40, "{protected}");
    assert_eq!(protected[0]["allow_force_push"], false);
}

#[tokio::test]
async fn push_creates_a_pipeline_on_sqlite() {
    first_pipeline(Backend::Sqlite).await;
}

#[tokio::test]
async fn push_creates_a_pipeline_on_postgres() {
    first_pipeline(Backend::Postgres).await;
}

const THREE_STAGES: &str = r#"
stages: [build, test, deploy]

build:
  stage: build
  script: echo build $OS
  parallel:
    matrix:
      - OS: [linux, mac]

unit:
  stage: test
  needs: ["build: [linux]"]
  script: echo unit

lint:
  stage: test
  script: echo lint
  rules:
    - if: $CI_COMMIT_BRANCH == "main"

integration:
  stage: test
  script: echo integration
  rules:
    - if: $CI_COMMIT_BRANCH != "main"

deploy:
  stage: deploy
  script: echo deploy
  when: manual
"#;

/// Moves a job through `running` to `success` or `failed`, as a runner's
/// updates would (through the store, until the runner API exists).
async fn finish(store: &kiln_store::Store, job_id: i64, success: bool) {
    use kiln_pipeline::{Event, FailureReason};
    use kiln_store::effects::ApplyOptions;
    let job = store.job(kiln_store::BuildId(job_id)).await.unwrap();
    store
        .handle_event(
            job.pipeline_id,
            &Event::JobRunning { job: job.number, graceful_cancel: true },
            ApplyOptions::now(),
        )
        .await
        .unwrap();
    let done = if success {
        Event::JobSucceeded { job: job.number }
    } else {
        Event::JobFailed { job: job.number, reason: FailureReason::ScriptFailure, exit_code: Some(1) }
    };
    store.handle_event(job.pipeline_id, &done, ApplyOptions::now()).await.unwrap();
}

fn id_of(jobs: &serde_json::Value, name: &str) -> i64 {
    jobs.as_array().unwrap().iter().find(|j| j["name"] == name).unwrap()["id"].as_i64().unwrap()
}

async fn three_stages(backend: Backend) {
    let server = ServerProcess::start(backend);
    let api = server.api();
    let (status, project) = api.post("/projects", json!({"name": "app"})).await;
    assert_eq!(status, 201, "{project}");
    let id = project["id"].as_i64().unwrap();
    let work = server.dir.path().join("work");
    work_tree(&work, &[(".gitlab-ci.yml", THREE_STAGES)], "CI with three stages");
    git_ok(&work, &["push", "--quiet", &server.git_url("root/app"), "main"]);

    let pipelines = api
        .wait_for(&format!("/projects/{id}/pipelines"), "the push pipeline", |v| {
            v.as_array().is_some_and(|a| a.len() == 1 && a[0]["status"] == "pending")
        })
        .await;
    let pid = pipelines[0]["id"].as_u64().unwrap();
    let jobs_path = format!("/projects/{id}/pipelines/{pid}/jobs?per_page=100");
    // What GitLab creates for `main`: both matrix builds, `unit` (needs one of
    // them), `lint` (its rule matches main), `deploy` (manual); no `integration`.
    let (_, jobs) = api.get(&jobs_path).await;
    assert_eq!(
        job_states(&jobs),
        pairs(&[
            ("build: [linux]", "pending"),
            ("build: [mac]", "pending"),
            ("deploy", "created"),
            ("lint", "created"),
            ("unit", "created"),
        ])
    );
    let stages: Vec<(&str, &str)> = jobs
        .as_array()
        .unwrap()
        .iter()
        .map(|j| (j["name"].as_str().unwrap(), j["stage"].as_str().unwrap()))
        .collect();
    assert!(stages.contains(&("build: [mac]", "build")) && stages.contains(&("deploy", "deploy")));

    let store = kiln_store::Store::open(&server.database_url).await.unwrap();
    // `unit` needs only the linux build: it starts before the stage is done.
    finish(&store, id_of(&jobs, "build: [linux]"), true).await;
    let (_, jobs) = api.get(&jobs_path).await;
    assert_eq!(
        job_states(&jobs),
        pairs(&[
            ("build: [linux]", "success"),
            ("build: [mac]", "pending"),
            ("deploy", "created"),
            ("lint", "created"),
            ("unit", "pending"),
        ])
    );
    assert_eq!(api.get(&format!("/projects/{id}/pipelines/{pid}")).await.1["status"], "running");
    finish(&store, id_of(&jobs, "build: [mac]"), true).await;
    finish(&store, id_of(&jobs, "unit"), true).await;
    finish(&store, id_of(&jobs, "lint"), true).await;
    // Only the manual job is left: it waits, and the pipeline passes (a manual
    // job is allowed to fail by default, so it does not block).
    let (_, jobs) = api.get(&jobs_path).await;
    assert_eq!(job_states(&jobs).iter().find(|(n, _)| n == "deploy").unwrap().1, "manual");
    let (_, pipeline) = api.get(&format!("/projects/{id}/pipelines/{pid}")).await;
    assert_eq!(pipeline["status"], "success", "{pipeline}");

    // Playing the manual job runs it; failing it leaves the pipeline passed with warnings.
    let (status, played) =
        api.post(&format!("/projects/{id}/jobs/{}/play", id_of(&jobs, "deploy")), json!({})).await;
    assert_eq!(status, 200, "{played}");
    assert_eq!(played["status"], "pending");
    assert_eq!(api.get(&format!("/projects/{id}/pipelines/{pid}")).await.1["status"], "running");
    finish(&store, id_of(&jobs, "deploy"), false).await;
    let (_, pipeline) = api.get(&format!("/projects/{id}/pipelines/{pid}")).await;
    assert_eq!(pipeline["status"], "success");
    assert_eq!(pipeline["detailed_status"]["group"], "success-with-warnings");

    // Retrying the failed job creates a new job with the same name; the old one no longer counts.
    let (status, retried) =
        api.post(&format!("/projects/{id}/jobs/{}/retry", id_of(&jobs, "deploy")), json!({})).await;
    assert_eq!(status, 201, "{retried}");
    assert_eq!((retried["name"].clone(), retried["status"].clone()), (json!("deploy"), json!("pending")));
    assert_ne!(retried["id"], json!(id_of(&jobs, "deploy")));
    let (_, with_retried) = api.get(&format!("{jobs_path}&include_retried=true")).await;
    assert_eq!(with_retried.as_array().unwrap().len(), 6);
    finish(&store, retried["id"].as_i64().unwrap(), true).await;
    let (_, pipeline) = api.get(&format!("/projects/{id}/pipelines/{pid}")).await;
    assert_eq!(
        (pipeline["status"].clone(), pipeline["detailed_status"]["group"].clone()),
        (json!("success"), json!("success"))
    );

    // A feature branch gets `integration` instead of `lint`.
    git_ok(&work, &["push", "--quiet", &server.git_url("root/app"), "main:feature"]);
    let pipelines = api
        .wait_for(&format!("/projects/{id}/pipelines?ref=feature"), "the branch pipeline", |v| {
            v.as_array().is_some_and(|a| a.len() == 1)
        })
        .await;
    let fid = pipelines[0]["id"].as_u64().unwrap();
    let (_, jobs) = api.get(&format!("/projects/{id}/pipelines/{fid}/jobs")).await;
    let names: Vec<String> = job_states(&jobs).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["build: [linux]", "build: [mac]", "deploy", "integration", "unit"]);
    store.close().await;
}

#[tokio::test]
async fn three_stages_needs_manual_rules_and_matrix_on_sqlite() {
    three_stages(Backend::Sqlite).await;
}

#[tokio::test]
async fn three_stages_needs_manual_rules_and_matrix_on_postgres() {
    three_stages(Backend::Postgres).await;
}
