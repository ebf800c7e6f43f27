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
}

#[tokio::test]
async fn push_creates_a_pipeline_on_sqlite() {
    first_pipeline(Backend::Sqlite).await;
}

#[tokio::test]
async fn push_creates_a_pipeline_on_postgres() {
    first_pipeline(Backend::Postgres).await;
}
