//! Test harness: the real server as a process (`kiln-server`, the same code
//! as `kiln server`) on a temporary data directory with SQLite or a private
//! PostgreSQL cluster, an API client, and real `git` clients.

#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use kiln_store::Backend;
use kiln_store::testing::{PgCluster, free_port};
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// A running `kiln-server` process and what it needs.
pub struct ServerProcess {
    pub dir: tempfile::TempDir,
    pub url: String,
    pub database_url: String,
    pub token: String,
    pub port: u16,
    child: Option<Child>,
    pub cluster: Option<PgCluster>,
    extra_args: Vec<String>,
}

impl ServerProcess {
    /// Starts a server on a fresh database of `backend`.
    pub fn start(backend: Backend) -> ServerProcess {
        ServerProcess::start_with(backend, &[])
    }

    pub fn start_with(backend: Backend, extra: &[&str]) -> ServerProcess {
        let dir = tempfile::Builder::new().prefix("kiln-server-test-").tempdir().unwrap();
        let (database_url, cluster) = match backend {
            Backend::Sqlite => (format!("sqlite://{}", dir.path().join("kiln.db").display()), None),
            Backend::Postgres => {
                let cluster = PgCluster::start().unwrap();
                (cluster.url(), Some(cluster))
            }
        };
        let port = free_port().unwrap();
        let mut server = ServerProcess {
            dir,
            url: format!("http://127.0.0.1:{port}"),
            database_url,
            token: String::new(),
            port,
            child: None,
            cluster,
            extra_args: extra.iter().map(|s| s.to_string()).collect(),
        };
        server.spawn();
        let credentials =
            std::fs::read_to_string(server.dir.path().join("data/initial_root_credentials")).unwrap();
        server.token = credentials
            .lines()
            .find_map(|l| l.strip_prefix("token: "))
            .expect("token in the credentials file")
            .to_string();
        server
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Starts the process (again) and waits until it answers.
    pub fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("server.log"))
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_kiln-server"))
            .arg("--data-dir")
            .arg(self.data_dir())
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--database-url")
            .arg(&self.database_url)
            .args(&self.extra_args)
            .env("KILN_LOG", "info,kiln_server=debug")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("server exited with {status}: {}", self.log());
            }
            assert!(Instant::now() < deadline, "server did not start: {}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    /// SIGKILL: the process dies wherever it is.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then waits for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running server");
        let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
        child.wait().unwrap()
    }

    pub fn api(&self) -> Api {
        Api {
            base: format!("{}/api/v4", self.url),
            token: Some(self.token.clone()),
            client: reqwest::Client::new(),
        }
    }

    /// A git remote URL with the admin's token as the password.
    pub fn git_url(&self, project_path: &str) -> String {
        format!("http://root:{}@127.0.0.1:{}/{project_path}.git", self.token, self.port)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A small REST client.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub token: Option<String>,
    pub client: reqwest::Client,
}

impl Api {
    pub fn with_token(&self, token: Option<&str>) -> Api {
        Api { token: token.map(str::to_string), ..self.clone() }
    }

    pub async fn request(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            req = req.header("PRIVATE-TOKEN", token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let response = req.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
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

    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.request(Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.request(Method::DELETE, path, None).await
    }

    /// Polls `path` until `done` holds for the JSON (or fails after 30 s).
    pub async fn wait_for(&self, path: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (status, value) = self.get(path).await;
            if status.is_success() && done(&value) {
                return value;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}: last answer {status} {value}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Runs a git client with a clean environment.
pub fn git(cwd: &Path, args: &[&str]) -> Output {
    Command::new("git")
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", cwd)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_AUTHOR_NAME", "Ada Lovelace")
        .env("GIT_AUTHOR_EMAIL", "ada@example.com")
        .env("GIT_COMMITTER_NAME", "Ada Lovelace")
        .env("GIT_COMMITTER_EMAIL", "ada@example.com")
        .output()
        .unwrap()
}

pub fn git_ok(cwd: &Path, args: &[&str]) -> String {
    let out = git(cwd, args);
    assert!(out.status.success(), "git {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A working tree with `main` and the given files committed.
pub fn work_tree(dir: &Path, files: &[(&str, &str)], message: &str) -> String {
    std::fs::create_dir_all(dir).unwrap();
    git_ok(dir, &["init", "--quiet", "--initial-branch=main"]);
    commit(dir, files, message)
}

pub fn commit(dir: &Path, files: &[(&str, &str)], message: &str) -> String {
    for (path, text) in files {
        let full = dir.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, text).unwrap();
    }
    git_ok(dir, &["add", "-A"]);
    git_ok(dir, &["commit", "--quiet", "--allow-empty", "-m", message]);
    git_ok(dir, &["rev-parse", "HEAD"])
}

/// Names and statuses of a pipeline's jobs, sorted by name.
pub fn job_states(jobs: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = jobs
        .as_array()
        .unwrap()
        .iter()
        .map(|j| (j["name"].as_str().unwrap().to_string(), j["status"].as_str().unwrap().to_string()))
        .collect();
    out.sort();
    out
}

pub fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = list.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
    out.sort();
    out
}
