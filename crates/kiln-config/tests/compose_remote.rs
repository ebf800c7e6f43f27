//! `include:remote` against a real HTTP server on loopback, through a tiny
//! blocking HTTP client implementing [`Remote`] (the real fetcher lives in
//! the binary): a 200, a 404, a file that is not valid YAML, and a server
//! too slow for the client's timeout.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use kiln_config::compose::{ComposeOptions, IncludeKind, compose, expanded_view};
use kiln_config::context::PipelineContext;
use kiln_config::diag::Diagnostics;
use kiln_config::source::SourceMap;
use kiln_config::sources::{MemoryRepository, Remote, SourceError, Sources, Unavailable};
use kiln_config::yaml;

/// Serves a few fixed paths, one thread per connection.
fn start_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            thread::spawn(move || serve(stream));
        }
    });
    addr
}

fn serve(mut stream: TcpStream) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    // Drain the headers.
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("/");
    let (status, body) = match path {
        "/ci/ok.yml" => ("200 OK", "remote-job:\n  stage: test\n  script:\n    - echo from the server\n"),
        "/ci/invalid.yml" => ("200 OK", "remote-job: [unclosed\n"),
        "/ci/slow.yml" => {
            thread::sleep(Duration::from_millis(1500));
            ("200 OK", "slow:\n  script: [echo late]\n")
        }
        _ => ("404 Not Found", "not found"),
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// A minimal blocking HTTP/1.1 client with a read timeout, wording its
/// errors the way compose expects (they follow "because").
struct HttpRemote {
    timeout: Duration,
}

impl Remote for HttpRemote {
    fn fetch(&self, url: &str) -> Result<String, SourceError> {
        let rest = url.strip_prefix("http://").ok_or_else(|| SourceError::new("of an unsupported scheme"))?;
        let (host, path) =
            rest.split_once('/').map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
        let addr: SocketAddr = host.parse().map_err(|_| SourceError::new("of a socket error"))?;
        let mut stream = TcpStream::connect_timeout(&addr, self.timeout)
            .map_err(|_| SourceError::new("of a socket error"))?;
        stream.set_read_timeout(Some(self.timeout)).unwrap();
        write!(stream, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
            .map_err(|_| SourceError::new("of a socket error"))?;
        let mut response = String::new();
        stream.read_to_string(&mut response).map_err(|e| match e.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
                SourceError::new("of a timeout error")
            }
            _ => SourceError::new("of HTTP error"),
        })?;
        let (head, body) =
            response.split_once("\r\n\r\n").ok_or_else(|| SourceError::new("of HTTP error"))?;
        let code: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| SourceError::new("of HTTP error"))?;
        if code >= 400 {
            return Err(SourceError::new(format!("of HTTP code `{code}` error")));
        }
        Ok(body.to_string())
    }
}

#[test]
fn remote_includes_over_loopback_http() {
    let addr = start_server();
    let base = format!("http://{addr}");
    let main = format!(
        "include:\n  - remote: {base}/ci/ok.yml\n  - remote: {base}/ci/missing.yml\n  - {base}/ci/invalid.yml\n  - remote: {base}/ci/slow.yml\nmain-job:\n  script: [echo main]\n"
    );
    let remote = HttpRemote { timeout: Duration::from_millis(300) };
    let repository = MemoryRepository::default();
    let sources = Sources { repository: &repository, projects: &Unavailable, remote: &remote };
    let mut files = SourceMap::default();
    let mut diags = Diagnostics::default();
    let composed = compose(
        ".gitlab-ci.yml",
        &main,
        &PipelineContext::default(),
        sources,
        &ComposeOptions::default(),
        &mut files,
        &mut diags,
    );
    let mut out = yaml::to_yaml(&expanded_view(composed.root.as_ref().unwrap()));
    for d in diags.iter() {
        out.push_str(&format!("{}\n", d.display(&files)));
    }
    let out = out.replace(&base, "http://SERVER");
    insta::assert_snapshot!(out, @r#"
    stages:
    - ".pre"
    - build
    - test
    - deploy
    - ".post"
    remote-job:
      stage: test
      script:
      - echo from the server
    main-job:
      script:
      - echo main
    .gitlab-ci.yml:3:13: error: Remote file `http://SERVER/ci/missing.yml` could not be fetched because of HTTP code `404` error!
    http://SERVER/ci/invalid.yml:2:1: error: `http://SERVER/ci/invalid.yml`: yaml syntax error: while parsing a flow sequence, expected ',' or ']'
    .gitlab-ci.yml:5:13: error: Remote file `http://SERVER/ci/slow.yml` could not be fetched because of a timeout error!
    "#);
    // The fetched files are registered, remote kind, at their include.
    let remote_files: Vec<_> = composed.included.iter().filter(|f| f.kind == IncludeKind::Remote).collect();
    assert_eq!(remote_files.len(), 2);
    assert!(files.get(remote_files[0].file).unwrap().text.contains("echo from the server"));
}
