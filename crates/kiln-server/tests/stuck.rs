//! The tick drops a pending job that no online runner could take, and only
//! that one: a job an online runner matches keeps waiting. With a short
//! `stuck_pending_timeout`, on SQLite and on PostgreSQL.

mod common;

use std::time::{Duration, Instant};

use common::{ServerProcess, git_ok, work_tree};
use kiln_store::Backend;
use serde_json::{Value, json};

const CONFIG: &str = r#"
linux:
  tags: [linux]
  script: echo linux
gpu:
  tags: [gpu]
  script: echo gpu
"#;

async fn stuck_jobs(backend: Backend) {
    let settings = tempfile::tempdir().unwrap();
    let file = settings.path().join("kiln.toml");
    std::fs::write(&file, "[limits]\nstuck_pending_timeout = 1\n").unwrap();
    let server =
        ServerProcess::start_with(backend, &["--config", file.to_str().unwrap(), "--long-poll-timeout", "0"]);
    let api = server.api();
    let (status, project) = api.post("/projects", json!({"name": "stuck"})).await;
    assert_eq!(status, 201);
    let id = project["id"].as_i64().unwrap();
    let registration = {
        let store = kiln_store::Store::open(&server.database_url).await.unwrap();
        store.reset_runner_registration_token().await.unwrap()
    };
    let (status, reg) = api
        .post("/runners", json!({"token": registration, "tag_list": "linux", "run_untagged": false}))
        .await;
    assert_eq!(status, 201, "{reg}");
    // One request makes the runner online; nothing is pending yet.
    let http = reqwest::Client::new();
    let asked = http
        .post(format!("{}/api/v4/jobs/request", server.url))
        .json(&json!({"token": reg["token"], "system_id": "s_000000000001", "info": {"features": {}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status(), 204);

    let work = server.dir.path().join("work");
    work_tree(&work, &[(".gitlab-ci.yml", CONFIG)], "tags");
    git_ok(&work, &["push", "--quiet", &server.git_url("root/stuck"), "main"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let jobs = loop {
        let (_, jobs) = api.get(&format!("/projects/{id}/jobs")).await;
        let gpu = jobs.as_array().and_then(|a| a.iter().find(|j| j["name"] == "gpu")).cloned();
        if gpu.as_ref().is_some_and(|j| j["status"] == "failed") {
            break jobs;
        }
        assert!(Instant::now() < deadline, "the job no runner can take was not dropped: {jobs}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let by_name = |name: &str| -> Value {
        jobs.as_array().unwrap().iter().find(|j| j["name"] == name).cloned().unwrap()
    };
    assert_eq!(by_name("gpu")["failure_reason"], "stuck_pending_no_matching_runners", "{jobs}");
    // Two more ticks: the job the online runner matches is still waiting for it.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (_, linux) = api.get(&format!("/projects/{id}/jobs/{}", by_name("linux")["id"])).await;
    assert_eq!(linux["status"], "pending", "{linux}");
}

#[tokio::test]
async fn stuck_pending_jobs_on_sqlite() {
    stuck_jobs(Backend::Sqlite).await;
}

#[tokio::test]
async fn stuck_pending_jobs_on_postgres() {
    stuck_jobs(Backend::Postgres).await;
}
