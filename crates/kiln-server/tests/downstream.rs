//! Trigger jobs: a child pipeline from `trigger:include` and a multi-project
//! pipeline from `trigger:project`, both with `strategy: depend`, so the
//! trigger job (and the parent) mirror the downstream pipeline.

mod common;

use common::{ServerProcess, git_ok, job_states, pairs, work_tree};
use kiln_pipeline::Event;
use kiln_store::Backend;
use kiln_store::effects::ApplyOptions;
use serde_json::json;

const PARENT: &str = r#"
stages: [build, downstream]
build:
  stage: build
  script: echo build
child:
  stage: downstream
  trigger:
    include: ci/child.yml
    strategy: depend
other:
  stage: downstream
  variables:
    FROM_PARENT: "yes"
  trigger:
    project: root/other
    strategy: depend
"#;

const CHILD: &str =
    "child-job:\n  script: echo child\n  rules:\n    - if: $CI_PIPELINE_SOURCE == \"parent_pipeline\"\n";
const OTHER: &str = "other-job:\n  script: echo $FROM_PARENT\n";

async fn finish_all_pending(store: &kiln_store::Store, pipeline: u64) {
    let filter = kiln_store::jobs::JobFilter {
        pipeline: Some(kiln_pipeline::PipelineId(pipeline)),
        statuses: vec![kiln_pipeline::Status::Pending],
        ..Default::default()
    };
    for job in store.list_jobs(&filter, kiln_store::Page::all()).await.unwrap().items {
        let running = Event::JobRunning { job: job.number, graceful_cancel: true };
        store.handle_event(job.pipeline_id, &running, ApplyOptions::now()).await.unwrap();
        store
            .handle_event(job.pipeline_id, &Event::JobSucceeded { job: job.number }, ApplyOptions::now())
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn child_and_multi_project_pipelines_mirror_their_status() {
    let server = ServerProcess::start(Backend::Sqlite);
    let api = server.api();
    let (_, other) = api.post("/projects", json!({"name": "other"})).await;
    let other_work = server.dir.path().join("other");
    work_tree(&other_work, &[(".gitlab-ci.yml", OTHER)], "other");
    git_ok(&other_work, &["push", "--quiet", &server.git_url("root/other"), "main"]);
    let other_id = other["id"].as_i64().unwrap();
    api.wait_for(&format!("/projects/{other_id}/pipelines"), "other's push pipeline", |v| {
        v.as_array().is_some_and(|a| a.len() == 1)
    })
    .await;

    let (_, project) = api.post("/projects", json!({"name": "parent"})).await;
    let id = project["id"].as_i64().unwrap();
    let work = server.dir.path().join("work");
    work_tree(&work, &[(".gitlab-ci.yml", PARENT), ("ci/child.yml", CHILD)], "parent");
    git_ok(&work, &["push", "--quiet", &server.git_url("root/parent"), "main"]);
    let pipelines = api
        .wait_for(&format!("/projects/{id}/pipelines"), "the parent", |v| {
            v.as_array().is_some_and(|a| a.len() == 1)
        })
        .await;
    let pid = pipelines[0]["id"].as_u64().unwrap();
    let store = kiln_store::Store::open(&server.database_url).await.unwrap();
    api.wait_for(&format!("/projects/{id}/pipelines/{pid}/jobs"), "build pending", |v| {
        v.as_array().is_some_and(|a| a.len() == 1 && a[0]["status"] == "pending")
    })
    .await;
    finish_all_pending(&store, pid).await;

    // Both downstream pipelines get created; the bridges run while they do.
    let bridges = api
        .wait_for(&format!("/projects/{id}/pipelines/{pid}/bridges"), "both downstream pipelines", |v| {
            v.as_array()
                .is_some_and(|a| a.len() == 2 && a.iter().all(|b| b["downstream_pipeline"].is_object()))
        })
        .await;
    assert_eq!(job_states(&bridges), pairs(&[("child", "running"), ("other", "running")]));
    let child =
        bridges.as_array().unwrap().iter().find(|b| b["name"] == "child").unwrap()["downstream_pipeline"]
            .clone();
    let (_, child_full) = api.get(&format!("/projects/{id}/pipelines/{}", child["id"])).await;
    assert_eq!(child_full["source"], "parent_pipeline");
    let downstream =
        bridges.as_array().unwrap().iter().find(|b| b["name"] == "other").unwrap()["downstream_pipeline"]
            .clone();
    assert_eq!(downstream["project_id"], json!(other_id));
    let (_, vars) = api.get(&format!("/projects/{other_id}/pipelines/{}/variables", downstream["id"])).await;
    assert_eq!(vars, json!([{"variable_type": "env_var", "key": "FROM_PARENT", "value": "yes"}]));
    let (_, child_jobs) = api.get(&format!("/projects/{id}/pipelines/{}/jobs", child["id"])).await;
    assert_eq!(job_states(&child_jobs), pairs(&[("child-job", "pending")]));

    finish_all_pending(&store, child["id"].as_u64().unwrap()).await;
    finish_all_pending(&store, downstream["id"].as_u64().unwrap()).await;
    let done = api
        .wait_for(&format!("/projects/{id}/pipelines/{pid}"), "the parent to pass", |v| {
            v["status"] == "success"
        })
        .await;
    assert_eq!(done["status"], "success");
    let (_, bridges) = api.get(&format!("/projects/{id}/pipelines/{pid}/bridges")).await;
    assert_eq!(job_states(&bridges), pairs(&[("child", "success"), ("other", "success")]));
    store.close().await;
}
