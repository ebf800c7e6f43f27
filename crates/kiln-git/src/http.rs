//! Smart HTTP (clone, fetch, push) by running `git http-backend` as a CGI
//! program, with both bodies streamed.
//!
//! The server maps a URL to a [`Repository`] and decides who may read or
//! push; this module turns the request into the CGI environment, feeds the
//! body to git with a size limit, streams git's answer back under a
//! deadline, and after a push reports what changed ([`PushEvent`]) before
//! the response ends, so the caller can record it before the client hears
//! that the push is done.

use std::collections::HashMap;
use std::ffi::OsString;
use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdout};
use tokio::sync::{OwnedMutexGuard, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::command::{base_command, read_capped};
use crate::error::GitError;
use crate::push::{OptionsReader, PushEvent, diff_refs};
use crate::repo::{RefEntry, Repository};

/// Largest CGI header block accepted from `http-backend`.
const MAX_CGI_HEAD: usize = 64 * 1024;
const READ_CHUNK: usize = 64 * 1024;

/// The two git services smart HTTP offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    UploadPack,
    ReceivePack,
}

impl Service {
    pub fn name(self) -> &'static str {
        match self {
            Service::UploadPack => "git-upload-pack",
            Service::ReceivePack => "git-receive-pack",
        }
    }
}

/// A smart HTTP endpoint below `<repo>.git/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `GET info/refs?service=...`: the ref advertisement.
    InfoRefs(Service),
    /// `POST git-upload-pack` or `POST git-receive-pack`.
    Rpc(Service),
}

impl Endpoint {
    /// Recognises `suffix` (the path after `<repo>.git/`) with its method and
    /// query; `None` for anything else, including dumb HTTP.
    pub fn parse(method: &str, suffix: &str, query: Option<&str>) -> Option<Endpoint> {
        let service = |name: &str| match name {
            "git-upload-pack" => Some(Service::UploadPack),
            "git-receive-pack" => Some(Service::ReceivePack),
            _ => None,
        };
        match (method, suffix) {
            ("GET", "info/refs") => {
                let wanted = query?.split('&').find_map(|pair| pair.strip_prefix("service="))?;
                service(wanted).map(Endpoint::InfoRefs)
            }
            ("POST", rpc) => service(rpc).map(Endpoint::Rpc),
            _ => None,
        }
    }

    pub fn service(self) -> Service {
        match self {
            Endpoint::InfoRefs(s) | Endpoint::Rpc(s) => s,
        }
    }

    /// Whether this is part of a push (needs write access).
    pub fn is_push(self) -> bool {
        self.service() == Service::ReceivePack
    }

    fn path_suffix(self) -> &'static str {
        match self {
            Endpoint::InfoRefs(_) => "info/refs",
            Endpoint::Rpc(s) => s.name(),
        }
    }
}

/// A smart HTTP request, framework-neutral.
pub struct HttpRequest<S> {
    pub endpoint: Endpoint,
    pub content_type: Option<String>,
    pub content_length: Option<u64>,
    /// `gzip` when the client compressed the body (git does for big fetches).
    pub content_encoding: Option<String>,
    /// The `Git-Protocol` header (`version=2`).
    pub git_protocol: Option<String>,
    /// Who is pushing or fetching, for git's own logs.
    pub remote_user: Option<String>,
    pub remote_addr: Option<String>,
    pub body: S,
}

/// The response body: git's output as it is produced.
pub type BodyStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// Called once after a push changed refs, before the response ends. An
/// `Err` ends the response with an error (the client's push then fails
/// loudly, though git kept the refs).
pub type PushHandler =
    Box<dyn FnOnce(PushEvent) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send>;

/// Status, headers and a streamed body, ready for any HTTP server.
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: BodyStream,
}

impl std::fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpResponse").field("status", &self.status).field("headers", &self.headers).finish()
    }
}

/// Why a smart HTTP request failed before a response could start.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("request body exceeds {limit} bytes")]
    BodyTooLarge { limit: u64 },
    #[error("git http-backend did not answer within {seconds}s")]
    Timeout { seconds: u64 },
    #[error("git http-backend: {0}")]
    Backend(String),
    #[error(transparent)]
    Git(#[from] GitError),
}

/// Serves smart HTTP for any number of repositories. Pushes to one
/// repository are serialised so each push's ref changes are exactly known.
#[derive(Debug, Default)]
pub struct SmartHttp {
    push_locks: Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>,
}

struct PushContext {
    repo: Repository,
    before: Vec<RefEntry>,
    guard: OwnedMutexGuard<()>,
    handler: Option<PushHandler>,
}

/// Where the body writer ended.
enum Fed {
    Done(Vec<String>),
    TooLarge,
}

impl SmartHttp {
    pub fn new() -> SmartHttp {
        SmartHttp::default()
    }

    fn push_lock(&self, repo: &Repository) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.push_locks.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        locks.entry(repo.path().to_path_buf()).or_default().clone()
    }

    /// Runs one smart HTTP request against `repo`. The caller has already
    /// checked that the client may read (or, for [`Endpoint::is_push`],
    /// write) the repository.
    pub async fn serve<S, E>(
        &self,
        repo: &Repository,
        request: HttpRequest<S>,
        on_push: Option<PushHandler>,
    ) -> Result<HttpResponse, HttpError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: std::fmt::Display + Send + 'static,
    {
        let settings = repo.settings().clone();
        let limit = settings.max_request_body;
        if request.content_length.is_some_and(|len| len > limit) {
            return Err(HttpError::BodyTooLarge { limit });
        }
        let deadline = Instant::now() + settings.http_timeout;
        let timeout_error = HttpError::Timeout { seconds: settings.http_timeout.as_secs() };
        let endpoint = request.endpoint;

        let push = if endpoint == Endpoint::Rpc(crate::Service::ReceivePack) {
            let guard = tokio::time::timeout_at(deadline, self.push_lock(repo).lock_owned())
                .await
                .map_err(|_| HttpError::Timeout { seconds: settings.http_timeout.as_secs() })?;
            let before = repo.refs().await?;
            Some(PushContext { repo: repo.clone(), before, guard, handler: on_push })
        } else {
            None
        };

        let mut child = spawn_backend(repo, &request)?;
        let (Some(stdin), Some(mut stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(HttpError::Backend("pipes not available".into()));
        };
        let stderr = tokio::spawn(read_capped(child.stderr.take(), 16 * 1024));
        let (abort_tx, mut abort_rx) = oneshot::channel();
        let gzip = request.content_encoding.as_deref().is_some_and(|e| e.eq_ignore_ascii_case("gzip"));
        let watch_options = push.is_some();
        let writer = tokio::spawn(feed_body(
            request.body,
            stdin,
            limit,
            watch_options.then(|| OptionsReader::new(gzip)),
            abort_tx,
        ));

        // Wait for git's CGI header, unless the body turns out too large first.
        let head = tokio::select! {
            head = tokio::time::timeout_at(deadline, read_cgi_head(&mut stdout)) => match head {
                Ok(head) => head?,
                Err(_) => return Err(timeout_error),
            },
            Ok(()) = &mut abort_rx => return Err(HttpError::BodyTooLarge { limit }),
        };
        let (status, headers, leftover) = head;
        let state = BodyState {
            leftover: (!leftover.is_empty()).then(|| Bytes::from(leftover)),
            stdout,
            child,
            deadline,
            writer: Some(writer),
            stderr: Some(stderr),
            push,
            limit,
            done: false,
        };
        Ok(HttpResponse { status, headers, body: Box::pin(futures::stream::unfold(state, BodyState::next)) })
    }
}

fn spawn_backend<S>(repo: &Repository, request: &HttpRequest<S>) -> Result<Child, HttpError> {
    let settings = repo.settings();
    let path = repo.path();
    let (Some(root), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(HttpError::Backend(format!("repository path {} has no parent", path.display())));
    };
    let mut path_info = OsString::from("/");
    path_info.push(name);
    path_info.push("/");
    path_info.push(request.endpoint.path_suffix());

    let mut cmd = base_command(settings);
    cmd.arg("http-backend");
    cmd.env("GIT_PROJECT_ROOT", root).env("PATH_INFO", path_info).env("GIT_HTTP_EXPORT_ALL", "1");
    match request.endpoint {
        Endpoint::InfoRefs(service) => {
            cmd.env("REQUEST_METHOD", "GET").env("QUERY_STRING", format!("service={}", service.name()));
        }
        Endpoint::Rpc(_) => {
            cmd.env("REQUEST_METHOD", "POST").env("QUERY_STRING", "");
        }
    }
    if request.endpoint.is_push() {
        // Whoever gets here was authorised by the server.
        cmd.env("GIT_CONFIG_COUNT", "2")
            .env("GIT_CONFIG_KEY_0", "http.receivepack")
            .env("GIT_CONFIG_VALUE_0", "true")
            .env("GIT_CONFIG_KEY_1", "receive.advertisePushOptions")
            .env("GIT_CONFIG_VALUE_1", "true");
    }
    let optional = [
        ("CONTENT_TYPE", request.content_type.as_deref()),
        ("HTTP_CONTENT_ENCODING", request.content_encoding.as_deref()),
        ("GIT_PROTOCOL", request.git_protocol.as_deref()),
        ("REMOTE_USER", request.remote_user.as_deref()),
        ("REMOTE_ADDR", request.remote_addr.as_deref()),
    ];
    for (key, value) in optional {
        if let Some(value) = value {
            cmd.env(key, value);
        }
    }
    if let Some(len) = request.content_length {
        cmd.env("CONTENT_LENGTH", len.to_string());
    }
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.spawn().map_err(|source| {
        HttpError::Git(GitError::Spawn { program: settings.program.display().to_string(), source })
    })
}

/// Copies the request body into git's stdin, counting bytes. Over the limit,
/// stdin is closed (git sees a truncated request and changes nothing) and
/// `abort` fires.
async fn feed_body<S, E>(
    body: S,
    mut stdin: tokio::process::ChildStdin,
    limit: u64,
    mut options: Option<OptionsReader>,
    abort: oneshot::Sender<()>,
) -> Fed
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    let mut body = Box::pin(body);
    let mut total: u64 = 0;
    while let Some(chunk) = body.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(err) => {
                tracing::debug!(error = %err, "git request body ended with an error");
                break;
            }
        };
        total = total.saturating_add(chunk.len() as u64);
        if total > limit {
            let _ = abort.send(());
            return Fed::TooLarge;
        }
        if let Some(reader) = options.as_mut() {
            reader.feed(&chunk);
        }
        if stdin.write_all(&chunk).await.is_err() {
            // git stopped reading: it exits and says why.
            break;
        }
    }
    let _ = stdin.shutdown().await;
    Fed::Done(options.map(OptionsReader::into_options).unwrap_or_default())
}

type CgiHead = (u16, Vec<(String, String)>, Vec<u8>);

/// Reads the CGI header block: `Status:` and other headers up to an empty line.
async fn read_cgi_head(stdout: &mut ChildStdout) -> Result<CgiHead, HttpError> {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 8192];
    let end = loop {
        if let Some(end) = find_head_end(&buf) {
            break end;
        }
        if buf.len() > MAX_CGI_HEAD {
            return Err(HttpError::Backend("header block too large".into()));
        }
        let n = stdout.read(&mut chunk).await.map_err(|e| HttpError::Backend(e.to_string()))?;
        if n == 0 {
            return Err(HttpError::Backend("exited without a response".into()));
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    };
    let (head_len, body_start) = end;
    let head = String::from_utf8_lossy(buf.get(..head_len).unwrap_or_default()).into_owned();
    let mut status = 200;
    let mut headers = Vec::new();
    for line in head.lines() {
        let Some((name, value)) = line.split_once(':') else { continue };
        let value = value.trim().to_string();
        if name.eq_ignore_ascii_case("status") {
            status = value.split(' ').next().and_then(|code| code.parse().ok()).unwrap_or(500);
        } else {
            headers.push((name.trim().to_string(), value));
        }
    }
    Ok((status, headers, buf.split_off(body_start)))
}

/// Position of the blank line ending the header block: (header length, body start).
fn find_head_end(buf: &[u8]) -> Option<(usize, usize)> {
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| (p, p + 4));
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|p| (p, p + 2));
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

/// The response body's state between chunks.
struct BodyState {
    leftover: Option<Bytes>,
    stdout: ChildStdout,
    child: Child,
    deadline: Instant,
    writer: Option<JoinHandle<Fed>>,
    stderr: Option<JoinHandle<Vec<u8>>>,
    push: Option<PushContext>,
    limit: u64,
    done: bool,
}

impl BodyState {
    async fn next(mut self) -> Option<(io::Result<Bytes>, BodyState)> {
        if self.done {
            return None;
        }
        if let Some(bytes) = self.leftover.take() {
            return Some((Ok(bytes), self));
        }
        let mut chunk = vec![0u8; READ_CHUNK];
        match tokio::time::timeout_at(self.deadline, self.stdout.read(&mut chunk)).await {
            Err(_) => {
                self.done = true;
                let err = io::Error::new(io::ErrorKind::TimedOut, "git http-backend timed out");
                Some((Err(err), self))
            }
            Ok(Err(err)) => {
                self.done = true;
                Some((Err(err), self))
            }
            Ok(Ok(0)) => {
                self.done = true;
                match self.finish().await {
                    Ok(()) => None,
                    Err(err) => Some((Err(err), self)),
                }
            }
            Ok(Ok(n)) => {
                chunk.truncate(n);
                Some((Ok(Bytes::from(chunk)), self))
            }
        }
    }

    /// After git's output ended: wait for it, and report a push.
    async fn finish(&mut self) -> io::Result<()> {
        let status = tokio::time::timeout_at(self.deadline, self.child.wait())
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "git http-backend timed out"))??;
        let stderr = match self.stderr.take() {
            Some(task) => task.await.unwrap_or_default(),
            None => Vec::new(),
        };
        if !status.success() || !stderr.is_empty() {
            tracing::debug!(%status, stderr = %String::from_utf8_lossy(&stderr), "git http-backend finished");
        }
        let fed = match self.writer.take() {
            Some(task) => task.await.unwrap_or(Fed::Done(Vec::new())),
            None => Fed::Done(Vec::new()),
        };
        let options = match fed {
            Fed::Done(options) => options,
            Fed::TooLarge => {
                return Err(io::Error::other(format!("request body exceeds {} bytes", self.limit)));
            }
        };
        let Some(push) = self.push.take() else { return Ok(()) };
        let PushContext { repo, before, guard, handler } = push;
        let after = repo.refs().await.map_err(io::Error::other)?;
        drop(guard);
        let updates = diff_refs(&before, &after);
        if updates.is_empty() {
            return Ok(());
        }
        match handler {
            Some(handler) => handler(PushEvent { updates, options }).await.map_err(io::Error::other),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_only_the_smart_ones() {
        assert_eq!(
            Endpoint::parse("GET", "info/refs", Some("service=git-upload-pack")),
            Some(Endpoint::InfoRefs(Service::UploadPack))
        );
        assert_eq!(
            Endpoint::parse("POST", "git-receive-pack", None),
            Some(Endpoint::Rpc(Service::ReceivePack))
        );
        assert_eq!(Endpoint::parse("GET", "info/refs", None), None);
        assert_eq!(Endpoint::parse("GET", "HEAD", None), None);
        assert_eq!(Endpoint::parse("GET", "objects/info/packs", None), None);
        assert_eq!(Endpoint::parse("POST", "git-upload-archive", None), None);
        assert!(Endpoint::parse("GET", "info/refs", Some("service=git-receive-pack")).unwrap().is_push());
    }

    #[test]
    fn cgi_head_ends_at_the_first_blank_line() {
        assert_eq!(find_head_end(b"Status: 200\r\nA: b\r\n\r\nbody"), Some((17, 21)));
        assert_eq!(find_head_end(b"A: b\n\nbody\r\n\r\n"), Some((4, 6)));
        assert_eq!(find_head_end(b"A: b\r\n"), None);
    }
}
