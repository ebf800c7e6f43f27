//! A small client for the REST API v4, and waits on what it answers.

use std::fmt::Display;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::Value;

/// REST API v4 with a personal access token.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub token: Option<String>,
    pub client: reqwest::Client,
}

impl Api {
    pub fn new(url: &str, token: Option<&str>) -> Api {
        Api {
            base: format!("{}/api/v4", url.trim_end_matches('/')),
            token: token.map(str::to_string),
            client: reqwest::Client::new(),
        }
    }

    pub async fn request(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = self.client.request(method.clone(), format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            req = req.header("PRIVATE-TOKEN", token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let response = req.send().await.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.request(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.request(Method::POST, path, Some(body)).await
    }

    /// GET as text (job logs).
    pub async fn text(&self, path: &str) -> (StatusCode, String) {
        let mut req = self.client.get(format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            req = req.header("PRIVATE-TOKEN", token);
        }
        let response = req.send().await.unwrap_or_else(|e| panic!("GET {path}: {e}"));
        (response.status(), response.text().await.unwrap_or_default())
    }

    /// Polls `path` until `done` holds for its JSON, or panics after `limit`.
    pub async fn wait_for(
        &self,
        path: &str,
        what: &str,
        limit: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let (status, value) = self.get(path).await;
            if status.is_success() && done(&value) {
                return value;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}: last answer {status} {value}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Creates a project under the caller's namespace; returns its id.
    pub async fn create_project(&self, name: &str) -> i64 {
        let (status, project) = self.post("/projects", serde_json::json!({"name": name})).await;
        assert_eq!(status, 201, "creating project {name}: {project}");
        project["id"].as_i64().expect("project id")
    }

    /// Adds a CI/CD variable to a project.
    pub async fn add_variable(&self, project: i64, key: &str, value: &str, masked: bool) {
        let body = serde_json::json!({"key": key, "value": value, "masked": masked});
        let (status, answer) = self.post(&format!("/projects/{project}/variables"), body).await;
        assert_eq!(status, 201, "adding variable {key}: {answer}");
    }

    /// Every job of a pipeline, retried ones included.
    pub async fn jobs(&self, project: impl Display, pipeline: i64) -> Vec<Value> {
        let path = format!("/projects/{project}/pipelines/{pipeline}/jobs?per_page=100&include_retried=true");
        let (status, jobs) = self.get(&path).await;
        assert!(status.is_success(), "listing jobs: {status} {jobs}");
        jobs.as_array().cloned().unwrap_or_default()
    }

    /// Waits until a pipeline has a finished status (not created, pending,
    /// running, waiting_for_resource, preparing, canceling) and returns it; on
    /// timeout, panics with its jobs and their logs.
    pub async fn wait_pipeline_done(&self, project: impl Display, pipeline: i64, limit: Duration) -> Value {
        let path = format!("/projects/{project}/pipelines/{pipeline}");
        let deadline = Instant::now() + limit;
        loop {
            let (status, value) = self.get(&path).await;
            let running = matches!(
                value["status"].as_str(),
                Some("created" | "pending" | "running" | "waiting_for_resource" | "preparing" | "canceling")
                    | None
            );
            if status.is_success() && !running {
                return value;
            }
            if Instant::now() > deadline {
                let jobs = self.jobs(&project, pipeline).await;
                let described = self.describe(&project, &jobs).await;
                panic!("pipeline {pipeline} did not finish in {limit:?}: {value}\njobs:\n{described}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The newest pipeline of a project once there are `count` of them.
    pub async fn nth_pipeline(&self, project: impl Display, count: usize) -> i64 {
        let path = format!("/projects/{project}/pipelines?per_page=100");
        let pipelines = self
            .wait_for(&path, &format!("{count} pipeline(s)"), Duration::from_secs(30), |v| {
                v.as_array().is_some_and(|a| a.len() >= count)
            })
            .await;
        let mut ids: Vec<i64> =
            pipelines.as_array().unwrap().iter().filter_map(|p| p["id"].as_i64()).collect();
        ids.sort_unstable();
        ids[count - 1]
    }

    /// A job's log.
    pub async fn trace(&self, project: impl Display, job: i64) -> String {
        let (status, text) = self.text(&format!("/projects/{project}/jobs/{job}/trace")).await;
        assert!(status.is_success(), "job {job} trace: {status} {text}");
        text
    }
}

impl Api {
    /// Each job's name, status and failure reason, with the log of failed ones: for
    /// assertion messages.
    pub async fn describe(&self, project: impl Display, jobs: &[Value]) -> String {
        let mut out = String::new();
        for j in jobs {
            let line = format!(
                "- {} (id {}): {} {}\n",
                j["name"].as_str().unwrap_or(""),
                j["id"],
                j["status"].as_str().unwrap_or(""),
                j["failure_reason"].as_str().unwrap_or("")
            );
            out.push_str(&line);
            if matches!(j["status"].as_str(), Some("failed" | "running" | "canceling")) {
                let id = j["id"].as_i64().unwrap_or(0);
                let (_, log) = self.text(&format!("/projects/{project}/jobs/{id}/trace")).await;
                out.push_str(super::tail(&log, 3000));
                out.push('\n');
            }
        }
        out
    }
}

/// `(name, status)` of each job (retried ones included), sorted.
pub fn job_states(jobs: &[Value]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = jobs
        .iter()
        .map(|j| {
            (j["name"].as_str().unwrap_or("").to_string(), j["status"].as_str().unwrap_or("").to_string())
        })
        .collect();
    out.sort();
    out
}

/// Sorted owned pairs, to compare with [`job_states`].
pub fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = list.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
    out.sort();
    out
}

/// The newest job of that name (retries have higher ids).
pub fn job<'a>(jobs: &'a [Value], name: &str) -> &'a Value {
    jobs.iter()
        .filter(|j| j["name"] == name)
        .max_by_key(|j| j["id"].as_i64())
        .unwrap_or_else(|| panic!("no job {name} in {jobs:?}"))
}
