//! The runner protocol as a scripted client speaks it: plain HTTP and JSON only
//! (no Kiln crate for the protocol), against a real `kiln-server` process on
//! SQLite and PostgreSQL. It registers, long-polls, receives a job, streams its
//! log with a deliberate gap (416 recovery), uploads an artifact and a dotenv
//! report, and a second job gets both as a dependency; both finish, the pipeline
//! succeeds, and the stored log's CRC-32 is what the runner computed.

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::{ServerProcess, git_ok, work_tree};
use kiln_store::Backend;
use reqwest::StatusCode;
use serde_json::{Value, json};

const CONFIG: &str = r#"
stages: [build, test]

build:
  stage: build
  script: echo build > out.txt
  artifacts:
    paths: [out.txt]
    reports:
      dotenv: build.env

test:
  stage: test
  script: cat out.txt
"#;

/// CRC-32 (IEEE), as the runner computes `output.checksum`.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

fn info() -> Value {
    let features: serde_json::Map<String, Value> = [
        "variables",
        "image",
        "services",
        "artifacts",
        "cache",
        "fallback_cache_keys",
        "shared",
        "upload_multiple_artifacts",
        "upload_raw_artifacts",
        "session",
        "terminal",
        "refspecs",
        "masking",
        "proxy",
        "raw_variables",
        "artifacts_exclude",
        "multi_build_steps",
        "trace_reset",
        "trace_checksum",
        "trace_size",
        "vault_secrets",
        "cancelable",
        "return_exit_code",
        "service_variables",
        "service_multiple_aliases",
        "image_executor_opts",
        "service_executor_opts",
        "cancel_gracefully",
        "native_steps_integration",
        "two_phase_job_commit",
        "job_inputs",
    ]
    .into_iter()
    .map(|f| (f.to_string(), Value::Bool(true)))
    .collect();
    json!({
        "name": "gitlab-runner", "version": "19.4.0", "revision": "d79f3e7b", "platform": "linux",
        "architecture": "amd64", "executor": "shell", "shell": "bash", "features": features,
    })
}

struct Runner {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Runner {
    async fn request_job(&self, last_update: Option<&str>) -> reqwest::Response {
        let mut body = json!({"token": self.token, "system_id": "s_0123456789ab", "info": info()});
        if let Some(l) = last_update {
            body["last_update"] = json!(l);
        }
        self.http.post(format!("{}/jobs/request", self.base)).json(&body).send().await.unwrap()
    }

    async fn update(&self, id: i64, token: &str, body: Value) -> reqwest::Response {
        let mut body = body;
        body["token"] = json!(token);
        body["info"] = info();
        self.http
            .put(format!("{}/jobs/{id}", self.base))
            .header("JOB-TOKEN", token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    async fn patch(&self, id: i64, token: &str, start: usize, data: &[u8]) -> reqwest::Response {
        self.http
            .patch(format!("{}/jobs/{id}/trace", self.base))
            .header("JOB-TOKEN", token)
            .header("Content-Type", "text/plain")
            .header("Content-Range", format!("{}-{}", start, start + data.len() - 1))
            .body(data.to_vec())
            .send()
            .await
            .unwrap()
    }

    async fn upload(
        &self,
        id: i64,
        token: &str,
        query: &str,
        name: &str,
        data: Vec<u8>,
    ) -> reqwest::Response {
        let part = reqwest::multipart::Part::bytes(data).file_name(name.to_string());
        let form = reqwest::multipart::Form::new().part("file", part);
        self.http
            .post(format!("{}/jobs/{id}/artifacts?{query}", self.base))
            .header("JOB-TOKEN", token)
            .multipart(form)
            .send()
            .await
            .unwrap()
    }
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string()
}

fn variable<'a>(job: &'a Value, key: &str) -> Option<&'a str> {
    job["variables"].as_array()?.iter().rev().find(|v| v["key"] == key)?["value"].as_str()
}

async fn protocol(backend: Backend) {
    let server = ServerProcess::start_with(backend, &["--long-poll-timeout", "2"]);
    let api = server.api();
    let (status, project) = api.post("/projects", json!({"name": "proto"})).await;
    assert_eq!(status, 201, "{project}");
    let project_id = project["id"].as_i64().unwrap();
    let registration = {
        let store = kiln_store::Store::open(&server.database_url).await.unwrap();
        store.reset_runner_registration_token().await.unwrap()
    };
    let http = reqwest::Client::new();
    let base = format!("{}/api/v4", server.url);

    // Register with the registration token, then verify as this machine.
    let bad =
        http.post(format!("{base}/runners")).json(&json!({"token": "nope", "info": info()})).send().await;
    assert_eq!(bad.unwrap().status(), StatusCode::FORBIDDEN);
    let reg = http
        .post(format!("{base}/runners"))
        .json(&json!({"token": registration, "description": "scripted", "info": info()}))
        .send()
        .await
        .unwrap();
    assert_eq!(reg.status(), StatusCode::CREATED);
    let reg: Value = reg.json().await.unwrap();
    let runner =
        Runner { http: http.clone(), base: base.clone(), token: reg["token"].as_str().unwrap().into() };
    assert!(reg["id"].as_i64().unwrap() > 0);
    let verify = http
        .post(format!("{base}/runners/verify"))
        .json(&json!({"token": runner.token, "system_id": "s_0123456789ab", "info": info()}))
        .send()
        .await
        .unwrap();
    assert_eq!(verify.status(), StatusCode::OK);
    assert_eq!(verify.json::<Value>().await.unwrap()["id"], reg["id"]);

    // Nothing pending: the long poll ends with 204 and a generation to echo.
    let started = Instant::now();
    let idle = runner.request_job(None).await;
    assert_eq!(idle.status(), StatusCode::NO_CONTENT);
    assert!(started.elapsed() >= Duration::from_millis(1500), "the request was held open");
    let last_update = header(&idle, "X-GitLab-Last-Update");
    assert!(!last_update.is_empty());

    // Park a request echoing it, then push: the pending job wakes it.
    let parked = {
        let runner = Runner { http: http.clone(), base: base.clone(), token: runner.token.clone() };
        let last = last_update.clone();
        tokio::spawn(async move {
            loop {
                let r = runner.request_job(Some(&last)).await;
                if r.status() == StatusCode::CREATED {
                    return r.json::<Value>().await.unwrap();
                }
                assert_eq!(r.status(), StatusCode::NO_CONTENT);
            }
        })
    };
    let work = server.dir.path().join("work");
    work_tree(&work, &[(".gitlab-ci.yml", CONFIG)], "first");
    git_ok(&work, &["push", "--quiet", &server.git_url("root/proto"), "main"]);
    let build = tokio::time::timeout(Duration::from_secs(30), parked).await.unwrap().unwrap();
    assert_eq!(build["job_info"]["name"], "build");
    assert_eq!(build["job_info"]["project_id"], project_id);
    let build_id = build["id"].as_i64().unwrap();
    let build_token = build["token"].as_str().unwrap().to_string();
    assert!(build_token.starts_with("glcbt-"), "{build_token}");
    let repo_url = build["git_info"]["repo_url"].as_str().unwrap();
    assert!(repo_url.contains(&format!("gitlab-ci-token:{build_token}@")), "{repo_url}");
    let pipeline_id = variable(&build, "CI_PIPELINE_ID").unwrap().to_string();
    let refspecs: Vec<&str> =
        build["git_info"]["refspecs"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    assert!(refspecs.iter().any(|r| r.contains(&format!("refs/pipelines/{pipeline_id}"))), "{refspecs:?}");
    assert_eq!(variable(&build, "CI_JOB_ID"), Some(build_id.to_string().as_str()));
    assert_eq!(variable(&build, "CI_JOB_TOKEN"), Some(build_token.as_str()));
    let (_, listed) = api.get(&format!("/projects/{project_id}/jobs/{build_id}")).await;
    assert_eq!(listed["status"], "running");

    // The job runs; its log arrives with a gap the server refuses (416).
    let running = runner.update(build_id, &build_token, json!({"state": "running"})).await;
    assert_eq!(running.status(), StatusCode::OK);
    assert_eq!(header(&running, "Job-Status"), "running");
    let first = runner.patch(build_id, &build_token, 0, b"hello\n").await;
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    assert_eq!(header(&first, "Range"), "0-6");
    assert_eq!(header(&first, "Job-Status"), "running");
    assert!(!header(&first, "X-GitLab-Trace-Update-Interval").is_empty());
    let gap = runner.patch(build_id, &build_token, 10, b"world\n").await;
    assert_eq!(gap.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    let resume: usize = header(&gap, "Range").rsplit('-').next().unwrap().parse().unwrap();
    assert_eq!(resume, 6);
    let second = runner.patch(build_id, &build_token, resume, b"world\n").await;
    assert_eq!(second.status(), StatusCode::ACCEPTED);
    assert_eq!(header(&second, "Range"), "0-12");
    let log = b"hello\nworld\n";

    // Artifacts: the archive and a gzipped dotenv report.
    let archive = b"PK\x05\x06 not really a zip, but bytes are bytes".to_vec();
    let up = runner
        .upload(
            build_id,
            &build_token,
            "artifact_format=zip&artifact_type=archive&expire_in=1+week",
            "artifacts.zip",
            archive.clone(),
        )
        .await;
    assert_eq!(up.status(), StatusCode::CREATED);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(b"BUILD_VERSION=1.2.3\n").unwrap();
    let up = runner
        .upload(
            build_id,
            &build_token,
            "artifact_format=gzip&artifact_type=dotenv",
            "build.env.gz",
            gz.finish().unwrap(),
        )
        .await;
    assert_eq!(up.status(), StatusCode::CREATED);

    let done = runner
        .update(
            build_id,
            &build_token,
            json!({"state": "success", "output": {"checksum": format!("crc32:{:08x}", crc32(log)), "bytesize": log.len()}}),
        )
        .await;
    assert_eq!(done.status(), StatusCode::OK);
    assert_eq!(header(&done, "Job-Status"), "success");
    // The token died with its job.
    let late = runner.patch(build_id, &build_token, 12, b"late\n").await;
    assert_eq!(late.status(), StatusCode::FORBIDDEN);
    assert_eq!(header(&late, "Job-Status"), "success");

    // The second job gets the first as a dependency, with its artifact and dotenv.
    let deadline = Instant::now() + Duration::from_secs(30);
    let test = loop {
        let r = runner.request_job(None).await;
        if r.status() == StatusCode::CREATED {
            break r.json::<Value>().await.unwrap();
        }
        assert!(Instant::now() < deadline, "the second job never came");
    };
    assert_eq!(test["job_info"]["name"], "test");
    let test_id = test["id"].as_i64().unwrap();
    let test_token = test["token"].as_str().unwrap().to_string();
    let deps = test["dependencies"].as_array().unwrap();
    assert_eq!(deps.len(), 1, "{deps:?}");
    assert_eq!(deps[0]["id"], build_id);
    assert_eq!(deps[0]["name"], "build");
    assert_eq!(deps[0]["token"], test_token.as_str());
    assert_eq!(deps[0]["artifacts_file"]["size"], archive.len());
    assert_eq!(variable(&test, "BUILD_VERSION"), Some("1.2.3"));
    let download = http
        .get(format!("{base}/jobs/{build_id}/artifacts"))
        .header("JOB-TOKEN", &test_token)
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), StatusCode::OK);
    assert_eq!(download.bytes().await.unwrap().to_vec(), archive);

    // A final update ahead of the log waits (202) until the log is complete.
    // Longer than the pieces the REST API reads a log in (1 MiB), sent in two
    // patches after the first 6 bytes.
    let mut log2 = b"build\nok\n".to_vec();
    for n in 0..60_000 {
        log2.extend_from_slice(format!("line {n:06} of the test job's log\n").as_bytes());
    }
    let log2 = log2.as_slice();
    assert_eq!(runner.patch(test_id, &test_token, 0, &log2[..6]).await.status(), StatusCode::ACCEPTED);
    let final_update = json!({"state": "success", "output": {"checksum": format!("crc32:{:08x}", crc32(log2)), "bytesize": log2.len()}});
    let early = runner.update(test_id, &test_token, final_update.clone()).await;
    assert_eq!(early.status(), StatusCode::ACCEPTED);
    assert!(!header(&early, "X-GitLab-Trace-Update-Interval").is_empty());
    let half = 6 + (log2.len() - 6) / 2;
    assert_eq!(runner.patch(test_id, &test_token, 6, &log2[6..half]).await.status(), StatusCode::ACCEPTED);
    assert_eq!(runner.patch(test_id, &test_token, half, &log2[half..]).await.status(), StatusCode::ACCEPTED);
    let done = runner.update(test_id, &test_token, final_update).await;
    assert_eq!(done.status(), StatusCode::OK);

    let pipeline = api
        .wait_for(&format!("/projects/{project_id}/pipelines/{pipeline_id}"), "pipeline success", |p| {
            p["status"] == "success"
        })
        .await;
    assert_eq!(pipeline["status"], "success");
    let read_log = |job_id| {
        let request = http
            .get(format!("{base}/projects/{project_id}/jobs/{job_id}/trace"))
            .header("PRIVATE-TOKEN", &server.token);
        async move {
            let stored = request.send().await.unwrap();
            assert_eq!(stored.status(), StatusCode::OK);
            stored.bytes().await.unwrap()
        }
    };
    let stored = read_log(build_id).await;
    assert_eq!(&stored[..], log);
    assert_eq!(crc32(&stored), crc32(log));
    let stored = read_log(test_id).await;
    assert_eq!(stored.len(), log2.len());
    assert!(&stored[..] == log2, "the test job's log read back differs");
}

#[tokio::test]
async fn scripted_runner_on_sqlite() {
    protocol(Backend::Sqlite).await;
}

#[tokio::test]
async fn scripted_runner_on_postgres() {
    protocol(Backend::Postgres).await;
}
