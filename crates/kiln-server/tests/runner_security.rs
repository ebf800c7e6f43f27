//! What job and runner tokens can reach, against a real server on SQLite and
//! PostgreSQL: a job token reads its own project's repository and artifacts
//! only, and nothing once its job ended; a masked variable reaches the job
//! payload and no other API answer; runners of another scope see no jobs.

mod common;

use common::{ServerProcess, git, git_ok, work_tree};
use kiln_store::runners::{NewRunner, RunnerType};
use kiln_store::{Backend, NamespaceId, ProjectId};
use reqwest::StatusCode;
use serde_json::{Value, json};

const SECRET: &str = "Sup3rSecretValue_42";

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    async fn request_job(&self, token: &str) -> Option<Value> {
        let body =
            json!({"token": token, "info": {"name": "sec", "features": {"upload_multiple_artifacts": true}}});
        let r = self.http.post(format!("{}/jobs/request", self.base)).json(&body).send().await.unwrap();
        match r.status() {
            StatusCode::CREATED => Some(r.json().await.unwrap()),
            StatusCode::NO_CONTENT => None,
            other => panic!("job request answered {other}"),
        }
    }

    async fn finish(&self, id: i64, token: &str) -> StatusCode {
        let body = json!({"token": token, "state": "success", "output": {"checksum": "crc32:00000000", "bytesize": 0}});
        self.http.put(format!("{}/jobs/{id}", self.base)).json(&body).send().await.unwrap().status()
    }
}

async fn project_with_job(server: &ServerProcess, name: &str) -> i64 {
    let api = server.api();
    let (status, project) = api.post("/projects", json!({"name": name})).await;
    assert_eq!(status, 201, "{project}");
    let id = project["id"].as_i64().unwrap();
    if name == "alpha" {
        let (status, v) = api
            .post(
                &format!("/projects/{id}/variables"),
                json!({"key": "SECRET", "value": SECRET, "masked": true}),
            )
            .await;
        assert_eq!(status, 201, "{v}");
    }
    let work = server.dir.path().join(format!("work-{name}"));
    let ci = "job:\n  script: echo $SECRET\n  artifacts:\n    paths: [out]\n";
    work_tree(&work, &[(".gitlab-ci.yml", ci)], "first");
    git_ok(&work, &["push", "--quiet", &server.git_url(&format!("root/{name}")), "main"]);
    api.wait_for(&format!("/projects/{id}/jobs"), "a pending job", |v| {
        v.as_array().is_some_and(|a| a.iter().any(|j| j["status"] == "pending"))
    })
    .await;
    id
}

fn clones(server: &ServerProcess, project: &str, token: &str, into: &str) -> bool {
    let url = format!("http://gitlab-ci-token:{token}@127.0.0.1:{}/root/{project}.git", server.port);
    let dir = server.dir.path().join(into);
    git(server.dir.path(), &["clone", "--quiet", &url, dir.to_str().unwrap()]).status.success()
}

async fn security(backend: Backend) {
    let server = ServerProcess::start_with(backend, &["--long-poll-timeout", "1"]);
    let api = server.api();
    let alpha = project_with_job(&server, "alpha").await;
    let beta = project_with_job(&server, "beta").await;
    let (status, group) = api.post("/groups", json!({"name": "other", "path": "other"})).await;
    assert_eq!(status, 201, "{group}");
    let store = kiln_store::Store::open(&server.database_url).await.unwrap();
    let group_runner = NewRunner {
        runner_type: RunnerType::GroupType,
        group: Some(NamespaceId(group["id"].as_i64().unwrap())),
        ..NewRunner::instance()
    };
    let (_, group_token) = store.create_runner(&group_runner).await.unwrap();
    let beta_runner = NewRunner {
        runner_type: RunnerType::ProjectType,
        projects: vec![ProjectId(beta)],
        ..NewRunner::instance()
    };
    let (_, beta_token) = store.create_runner(&beta_runner).await.unwrap();
    let (_, instance_token) = store.create_runner(&NewRunner::instance()).await.unwrap();
    let client = Client { http: reqwest::Client::new(), base: format!("{}/api/v4", server.url) };

    // Scopes: another group's runner sees nothing; beta's runner gets beta's job only.
    assert!(client.request_job(&group_token).await.is_none(), "a runner of another group got a job");
    let beta_job = client.request_job(&beta_token).await.expect("beta's runner gets beta's job");
    assert_eq!(beta_job["job_info"]["project_id"], beta);
    assert!(client.request_job(&beta_token).await.is_none(), "beta's runner got another project's job");
    let alpha_job = client.request_job(&instance_token).await.expect("the instance runner gets alpha's job");
    assert_eq!(alpha_job["job_info"]["project_id"], alpha);
    let (alpha_id, alpha_token) =
        (alpha_job["id"].as_i64().unwrap(), alpha_job["token"].as_str().unwrap().to_string());
    let (beta_id, beta_job_token) =
        (beta_job["id"].as_i64().unwrap(), beta_job["token"].as_str().unwrap().to_string());

    // The masked variable is in the payload, flagged masked.
    let secret = alpha_job["variables"].as_array().unwrap().iter().find(|v| v["key"] == "SECRET").unwrap();
    assert_eq!((secret["value"].as_str(), secret["masked"].as_bool()), (Some(SECRET), Some(true)));

    // Beta's artifact is readable with beta's token, never with alpha's.
    let part = reqwest::multipart::Part::bytes(b"beta's secret artifact".to_vec()).file_name("artifacts.zip");
    let up = client
        .http
        .post(format!("{}/jobs/{beta_id}/artifacts", client.base))
        .header("JOB-TOKEN", &beta_job_token)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap();
    assert_eq!(up.status(), StatusCode::CREATED);
    let download = |token: String| {
        let http = client.http.clone();
        let url = format!("{}/jobs/{beta_id}/artifacts", client.base);
        async move { http.get(url).header("JOB-TOKEN", token).send().await.unwrap().status() }
    };
    assert_eq!(download(beta_job_token.clone()).await, StatusCode::OK);
    assert_eq!(download(alpha_token.clone()).await, StatusCode::FORBIDDEN);
    assert!(clones(&server, "alpha", &alpha_token, "a1"), "a job token clones its own project");
    assert!(!clones(&server, "beta", &alpha_token, "b1"), "a job token cloned another project");

    // No API answer but the payload carries the masked value.
    let pipelines = api.get(&format!("/projects/{alpha}/pipelines")).await.1;
    let pid = pipelines[0]["id"].as_i64().unwrap();
    for path in [
        format!("/projects/{alpha}/jobs"),
        format!("/projects/{alpha}/jobs/{alpha_id}"),
        format!("/projects/{alpha}/jobs/{alpha_id}/trace"),
        format!("/projects/{alpha}/pipelines"),
        format!("/projects/{alpha}/pipelines/{pid}"),
        format!("/projects/{alpha}/pipelines/{pid}/jobs"),
        format!("/projects/{alpha}/pipelines/{pid}/variables"),
        format!("/projects/{alpha}/variables"),
        format!("/projects/{alpha}/variables/SECRET"),
        format!("/projects/{alpha}"),
    ] {
        let (status, body) = api.get(&path).await;
        assert!(status.is_success(), "{path}: {status}");
        assert!(!body.to_string().contains(SECRET), "{path} shows the masked value: {body}");
    }

    // Job tokens die with their jobs.
    assert_eq!(client.finish(alpha_id, &alpha_token).await, StatusCode::OK);
    assert_eq!(client.finish(beta_id, &beta_job_token).await, StatusCode::OK);
    assert!(!clones(&server, "alpha", &alpha_token, "a2"), "a finished job's token still clones");
    assert_eq!(download(beta_job_token.clone()).await, StatusCode::FORBIDDEN);
    assert_eq!(client.finish(alpha_id, &alpha_token).await, StatusCode::FORBIDDEN);
    let patch = client
        .http
        .patch(format!("{}/jobs/{alpha_id}/trace", client.base))
        .header("JOB-TOKEN", &alpha_token)
        .header("Content-Range", "0-3")
        .body("late")
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status(), StatusCode::FORBIDDEN);
    assert_eq!(patch.headers()["Job-Status"], "success");
    let api_with_job = client
        .http
        .get(format!("{}/projects/{alpha}/jobs", client.base))
        .header("JOB-TOKEN", &alpha_token)
        .send()
        .await
        .unwrap();
    assert_eq!(api_with_job.status(), StatusCode::UNAUTHORIZED);
    store.close().await;
}

#[tokio::test]
async fn job_and_runner_tokens_stay_in_their_scope_on_sqlite() {
    security(Backend::Sqlite).await;
}

#[tokio::test]
async fn job_and_runner_tokens_stay_in_their_scope_on_postgres() {
    security(Backend::Postgres).await;
}
