//! Real git repositories for the tests: bare repositories made with the `git` CLI and
//! served over HTTP on loopback by `git http-backend` through a small CGI bridge that
//! demands the job token as Basic credentials, as GitLab does.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use axum::body::Bytes;
use axum::extract::{Path as AxPath, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};

/// Runs git in `dir`, panicking with its output on failure; returns stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A work tree whose commits are pushed to a bare repository `<root>/<name>.git`.
pub struct Repo {
    pub work: PathBuf,
    pub bare: PathBuf,
}

impl Repo {
    pub fn new(root: &Path, name: &str) -> Repo {
        let bare = root.join(format!("{name}.git"));
        std::fs::create_dir_all(&bare).unwrap();
        git(&bare, &["init", "--bare", "-q", "-b", "main"]);
        let work = root.join("work").join(name);
        std::fs::create_dir_all(&work).unwrap();
        git(&work, &["init", "-q", "-b", "main"]);
        git(&work, &["config", "protocol.file.allow", "always"]);
        git(&work, &["remote", "add", "origin", bare.to_str().unwrap()]);
        Repo { work, bare }
    }

    pub fn write(&self, path: &str, content: &str) -> &Repo {
        let p = self.work.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
        self
    }

    /// Commits everything and pushes `main`; returns the commit's sha.
    pub fn commit(&self, message: &str) -> String {
        git(&self.work, &["add", "-A"]);
        git(&self.work, &["commit", "-q", "-m", message]);
        git(&self.work, &["push", "-q", "origin", "HEAD:refs/heads/main"]);
        git(&self.work, &["rev-parse", "HEAD"])
    }

    /// Adds `url` as a submodule at `path` (a file path, later rewritten for HTTP).
    pub fn add_submodule(&self, source: &Repo, relative_url: &str, path: &str) {
        git(
            &self.work,
            &[
                "-c",
                "protocol.file.allow=always",
                "submodule",
                "add",
                "-q",
                source.bare.to_str().unwrap(),
                path,
            ],
        );
        git(&self.work, &["config", "-f", ".gitmodules", &format!("submodule.{path}.url"), relative_url]);
    }

    /// Points a ref (e.g. `refs/pipelines/42`) of the bare repository at a commit that
    /// no branch holds; returns its sha.
    pub fn detached_ref(&self, refname: &str, file: &str) -> String {
        git(&self.work, &["checkout", "-q", "--detach"]);
        self.write(file, "only reachable from a pipeline ref\n");
        git(&self.work, &["add", "-A"]);
        git(&self.work, &["commit", "-q", "-m", "pipeline commit"]);
        let sha = git(&self.work, &["rev-parse", "HEAD"]);
        git(&self.work, &["push", "-q", "origin", &format!("HEAD:{refname}")]);
        git(&self.work, &["checkout", "-q", "main"]);
        sha
    }
}

/// Standard base64 (for the expected `Authorization` header).
fn base64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(T[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[derive(Clone)]
struct Served {
    root: PathBuf,
    authorization: String,
}

async fn cgi(
    State(s): State<Served>,
    method: Method,
    AxPath(path): AxPath<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let auth = headers.get("Authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
    if auth != s.authorization {
        return (StatusCode::UNAUTHORIZED, [("WWW-Authenticate", "Basic realm=\"GitLab\"")], "")
            .into_response();
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let mut child = Command::new("git")
        .arg("http-backend")
        .env("GIT_PROJECT_ROOT", &s.root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("PATH_INFO", format!("/{path}"))
        .env("QUERY_STRING", query.unwrap_or_default())
        .env("REQUEST_METHOD", method.as_str())
        .env("CONTENT_TYPE", header("Content-Type"))
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("HTTP_CONTENT_ENCODING", header("Content-Encoding"))
        .env("GIT_PROTOCOL", header("Git-Protocol"))
        .env("REMOTE_USER", "gitlab-ci-token")
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || std::io::Write::write_all(&mut stdin, &body));
    let out = child.wait_with_output().unwrap();
    let _ = writer.join();
    let raw = out.stdout;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)));
    let Some((end, sep)) = split else { return (StatusCode::INTERNAL_SERVER_ERROR, raw).into_response() };
    let mut status = StatusCode::OK;
    let mut response_headers = HeaderMap::new();
    for line in String::from_utf8_lossy(&raw[..end]).lines() {
        let Some((k, v)) = line.split_once(':') else { continue };
        let v = v.trim();
        if k.eq_ignore_ascii_case("Status") {
            status = v
                .split(' ')
                .next()
                .and_then(|c| c.parse().ok())
                .and_then(|c| StatusCode::from_u16(c).ok())
                .unwrap();
        } else if let (Ok(name), Ok(value)) = (k.parse::<axum::http::HeaderName>(), v.parse()) {
            response_headers.insert(name, value);
        }
    }
    (status, response_headers, raw[end + sep..].to_vec()).into_response()
}

/// Serves every bare repository under `root` at `http://127.0.0.1:<port>/<name>.git`,
/// for clients authenticating as `gitlab-ci-token:<token>`; returns the base URL.
pub async fn serve(root: &Path, token: &str) -> String {
    let served = Served {
        root: root.to_path_buf(),
        authorization: format!("Basic {}", base64(format!("gitlab-ci-token:{token}").as_bytes())),
    };
    let app = axum::Router::new().route("/{*path}", axum::routing::any(cgi)).with_state(served);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}
