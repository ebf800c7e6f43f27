//! The compute quota of a top-level namespace: set through the admin API; once
//! the month's minutes are used, new pipelines' builds fail at creation with
//! `ci_quota_exceeded` unless the project has runners of its own; lifting the
//! limit lets the next pipeline run.

mod common;

use common::{ServerProcess, commit, git_ok, job_states, pairs, work_tree};
use kiln_store::{Backend, Millis, NamespaceId};
use serde_json::json;

const CI: &str = "build:\n  script: echo build\ntest:\n  stage: test\n  script: echo test\n";

fn this_month() -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(Millis::now().0)
        .unwrap()
        .format("%Y-%m")
        .to_string()
}

async fn quota_is_enforced(backend: Backend) {
    let server = ServerProcess::start(backend);
    let api = server.api();
    let (status, project) = api.post("/projects", json!({"name": "metered"})).await;
    assert_eq!(status, 201, "{project}");
    let id = project["id"].as_i64().unwrap();
    let ns = project["namespace"]["id"].as_i64().unwrap();

    // Only administrators see and set quotas; bad values are refused.
    let (status, body) =
        api.put(&format!("/namespaces/{ns}"), json!({"shared_runners_minutes_limit": -1})).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) =
        api.put(&format!("/namespaces/{ns}"), json!({"shared_runners_minutes_limit": 10})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["shared_runners_minutes_limit"], 10);
    assert_eq!(body["kind"], "user");
    let (status, _) = api.with_token(None).get(&format!("/namespaces/{ns}")).await;
    assert_eq!(status, 401);
    let (status, _) = api.get("/namespaces/999999").await;
    assert_eq!(status, 404);

    // Ten minutes used this month (what finished jobs on instance runners add up to).
    let store = kiln_store::Store::open(&server.database_url).await.unwrap();
    store.add_compute_usage(NamespaceId(ns), &this_month(), 600.0).await.unwrap();

    let work = server.dir.path().join("work");
    work_tree(&work, &[(".gitlab-ci.yml", CI)], "first");
    git_ok(&work, &["push", "--quiet", &server.git_url("root/metered"), "main"]);
    let pipelines = api
        .wait_for(&format!("/projects/{id}/pipelines"), "the first pipeline to fail", |v| {
            v.as_array().is_some_and(|a| a.len() == 1 && a[0]["status"] == "failed")
        })
        .await;
    let pid = pipelines[0]["id"].as_i64().unwrap();
    let (_, jobs) = api.get(&format!("/projects/{id}/pipelines/{pid}/jobs")).await;
    assert_eq!(job_states(&jobs), pairs(&[("test", "failed"), ("build", "failed")]));
    assert!(jobs.as_array().unwrap().iter().all(|j| j["failure_reason"] == "ci_quota_exceeded"), "{jobs}");

    // A retry is refused the same way: the new job fails at once.
    let build = jobs.as_array().unwrap().iter().find(|j| j["name"] == "build").unwrap()["id"].clone();
    let (status, retried) = api.post(&format!("/projects/{id}/jobs/{build}/retry"), json!({})).await;
    assert_eq!(status, 201, "{retried}");
    assert_eq!(
        (retried["status"].as_str(), retried["failure_reason"].as_str()),
        (Some("failed"), Some("ci_quota_exceeded"))
    );

    // A project with a runner of its own keeps running: the quota is for instance runners.
    let (status, runner) =
        api.post("/user/runners", json!({"runner_type": "project_type", "project_id": id})).await;
    assert_eq!(status, 201, "{runner}");
    commit(&work, &[("README", "own runner")], "own runner");
    git_ok(&work, &["push", "--quiet", &server.git_url("root/metered"), "main"]);
    api.wait_for(&format!("/projects/{id}/pipelines"), "a pipeline for the project's own runner", |v| {
        v.as_array().is_some_and(|a| a.len() == 2 && a[0]["status"] == "pending")
    })
    .await;
    let (status, _) = api.delete(&format!("/runners/{}", runner["id"])).await;
    assert_eq!(status, 204);

    // Lifting the limit (0 is "unlimited", as in GitLab) lets the next pipeline run.
    let (status, body) =
        api.put(&format!("/namespaces/{ns}"), json!({"shared_runners_minutes_limit": 0})).await;
    assert_eq!((status.as_u16(), body["shared_runners_minutes_limit"].clone()), (200, json!(null)));
    commit(&work, &[("README", "second")], "second");
    git_ok(&work, &["push", "--quiet", &server.git_url("root/metered"), "main"]);
    api.wait_for(&format!("/projects/{id}/pipelines"), "the second pipeline to wait for a runner", |v| {
        v.as_array().is_some_and(|a| a.len() == 3 && a[0]["status"] == "pending")
    })
    .await;

    // A job an instance runner runs counts against the namespace.
    let (status, runner) = api.post("/user/runners", json!({"runner_type": "instance_type"})).await;
    assert_eq!(status, 201, "{runner}");
    let http = reqwest::Client::new();
    let request = json!({"token": runner["token"], "info": {"features": {}}});
    let job: serde_json::Value = loop {
        let r = http.post(format!("{}/api/v4/jobs/request", server.url)).json(&request).send().await.unwrap();
        if r.status() == 201 {
            break r.json().await.unwrap();
        }
        assert_eq!(r.status(), 204);
    };
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let done = json!({"token": job["token"], "state": "success", "output": {"checksum": "crc32:00000000", "bytesize": 0}});
    let r = http.put(format!("{}/api/v4/jobs/{}", server.url, job["id"])).json(&done).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let (_, shown) = api.get(&format!("/projects/{id}/jobs/{}", job["id"])).await;
    assert_eq!(shown["runner"]["id"], runner["id"], "{shown}");
    assert!(shown["duration"].as_f64().unwrap() >= 0.05, "{shown}");
    let used = store.compute_usage(NamespaceId(ns), &this_month()).await.unwrap();
    assert!(used > 600.0 && used < 660.0, "usage after one short job: {used}");
    store.close().await;
}

#[tokio::test]
async fn quota_is_enforced_on_sqlite() {
    quota_is_enforced(Backend::Sqlite).await;
}

#[tokio::test]
async fn quota_is_enforced_on_postgres() {
    quota_is_enforced(Backend::Postgres).await;
}
