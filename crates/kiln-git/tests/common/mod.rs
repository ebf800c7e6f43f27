//! Test helpers: a tiny axum server that mounts `SmartHttp` at
//! `/<name>.git/...`, and real `git` clients run against it on loopback.

#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use kiln_git::{Endpoint, HttpError, HttpRequest, PushEvent, Repository, Settings, SmartHttp};

pub struct TestServer {
    pub url: String,
    pub root: PathBuf,
    pub settings: Arc<Settings>,
    pub events: Arc<Mutex<Vec<PushEvent>>>,
    _runtime: tokio::runtime::Runtime,
}

#[derive(Clone)]
struct AppState {
    root: PathBuf,
    settings: Arc<Settings>,
    http: Arc<SmartHttp>,
    events: Arc<Mutex<Vec<PushEvent>>>,
}

impl TestServer {
    pub fn start(root: &Path, settings: Settings) -> TestServer {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let settings = Arc::new(settings);
        let events = Arc::new(Mutex::new(Vec::new()));
        let state = AppState {
            root: root.to_path_buf(),
            settings: settings.clone(),
            http: Arc::new(SmartHttp::new()),
            events: events.clone(),
        };
        let app = Router::new().route("/{repo}/{*rest}", axum::routing::any(handle)).with_state(state);
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
        TestServer {
            url: format!("http://{addr}"),
            root: root.to_path_buf(),
            settings,
            events,
            _runtime: runtime,
        }
    }

    pub fn create_repo(&self, name: &str) -> Repository {
        let path = self.root.join(format!("{name}.git"));
        self._runtime.block_on(Repository::create(path, "main", self.settings.clone())).unwrap()
    }

    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self._runtime.block_on(f)
    }

    pub fn take_events(&self) -> Vec<PushEvent> {
        std::mem::take(&mut *self.events.lock().unwrap())
    }
}

async fn handle(
    State(state): State<AppState>,
    UrlPath((repo, rest)): UrlPath<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(endpoint) = Endpoint::parse(method.as_str(), &rest, uri.query()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if !repo.ends_with(".git") || repo.contains("..") {
        return StatusCode::NOT_FOUND.into_response();
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let request = HttpRequest {
        endpoint,
        content_type: header("content-type"),
        content_length: header("content-length").and_then(|v| v.parse().ok()),
        content_encoding: header("content-encoding"),
        git_protocol: header("git-protocol"),
        remote_user: Some("tester".into()),
        remote_addr: None,
        body: body.into_data_stream(),
    };
    let repository = Repository::open(state.root.join(&repo), state.settings.clone());
    let events = state.events.clone();
    let on_push: kiln_git::PushHandler = Box::new(move |event| {
        Box::pin(async move {
            events.lock().unwrap().push(event);
            Ok(())
        })
    });
    match state.http.serve(&repository, request, Some(on_push)).await {
        Ok(response) => {
            let mut builder = Response::builder().status(response.status);
            for (name, value) in response.headers {
                builder = builder.header(name, value);
            }
            builder.body(Body::from_stream(response.body)).unwrap()
        }
        Err(HttpError::BodyTooLarge { .. }) => StatusCode::PAYLOAD_TOO_LARGE.into_response(),
        Err(err) => (StatusCode::INTERNAL_SERVER_ERROR, err.to_string()).into_response(),
    }
}

/// Runs a git client with a clean, deterministic environment.
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
        .env("GIT_AUTHOR_DATE", "2024-05-06T07:08:09+02:00")
        .env("GIT_COMMITTER_DATE", "2024-05-06T07:08:09+02:00")
        .output()
        .unwrap()
}

/// Runs git and fails the test with its stderr when it fails.
pub fn git_ok(cwd: &Path, args: &[&str]) -> String {
    let out = git(cwd, args);
    assert!(out.status.success(), "git {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A fresh working tree with `main` checked out.
pub fn work_tree(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    git_ok(dir, &["init", "--quiet", "--initial-branch=main"]);
    dir.to_path_buf()
}

/// Writes files and commits them; returns the new commit's sha.
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
