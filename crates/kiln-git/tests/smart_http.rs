//! Clone, fetch and push with the real `git` client against `SmartHttp`
//! mounted in a loopback axum server; push events and limits.

mod common;

use common::{TestServer, commit, git, git_ok, work_tree};
use kiln_git::{PushOptions, RefKind, Settings};

#[test]
fn push_clone_and_fetch_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let server = TestServer::start(tmp.path(), Settings::default());
    server.create_repo("proj");
    let url = format!("{}/proj.git", server.url);

    let work = work_tree(&tmp.path().join("work"));
    let first = commit(&work, &[(".gitlab-ci.yml", "test:\n  script: [true]\n")], "first");
    git_ok(&work, &["push", "--quiet", &url, "main"]);
    let events = server.take_events();
    assert_eq!(events.len(), 1);
    let update = &events[0].updates[0];
    assert_eq!(
        (update.name.as_str(), update.kind, update.short_name()),
        ("refs/heads/main", RefKind::Branch, "main")
    );
    assert_eq!(update.before, None);
    assert_eq!(update.after.as_ref().map(|o| o.to_string()), Some(first.clone()));
    assert!(events[0].options.is_empty());

    let clone = tmp.path().join("clone");
    git_ok(tmp.path(), &["clone", "--quiet", &url, clone.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(clone.join(".gitlab-ci.yml")).unwrap(), "test:\n  script: [true]\n");

    let second = commit(&work, &[("b.txt", "b")], "second");
    git_ok(&work, &["push", "--quiet", &url, "main"]);
    let events = server.take_events();
    assert_eq!(events[0].updates[0].before.as_ref().map(|o| o.to_string()), Some(first));
    assert_eq!(events[0].updates[0].after.as_ref().map(|o| o.to_string()), Some(second.clone()));

    // Protocol v2 and v0 fetches both see the new commit.
    for version in ["2", "0"] {
        git_ok(&clone, &["-c", &format!("protocol.version={version}"), "fetch", "--quiet", "origin"]);
        assert_eq!(git_ok(&clone, &["rev-parse", "origin/main"]), second);
    }
    // A shallow clone (what runners do with `GIT_DEPTH`).
    let shallow = tmp.path().join("shallow");
    git_ok(tmp.path(), &["clone", "--quiet", "--depth=1", &url, shallow.to_str().unwrap()]);
    assert_eq!(git_ok(&shallow, &["rev-list", "--count", "HEAD"]), "1");
}

#[test]
fn push_options_deletions_tags_and_rejections() {
    let tmp = tempfile::tempdir().unwrap();
    let server = TestServer::start(tmp.path(), Settings::default());
    server.create_repo("proj");
    let url = format!("{}/proj.git", server.url);
    let work = work_tree(&tmp.path().join("work"));
    let base = commit(&work, &[("a", "1")], "base");
    git_ok(&work, &["push", "--quiet", &url, "main", "main:feature"]);
    let events = server.take_events();
    assert_eq!(events[0].updates.iter().map(|u| u.short_name()).collect::<Vec<_>>(), ["feature", "main"]);

    // Push options reach the event.
    commit(&work, &[("a", "2")], "skip me");
    git_ok(&work, &["push", "--quiet", "-o", "ci.skip", "-o", "ci.variable=A=1", &url, "main"]);
    let events = server.take_events();
    assert_eq!(events[0].options, ["ci.skip", "ci.variable=A=1"]);
    let parsed = PushOptions::parse(&events[0].options);
    assert!(parsed.ci_skip);
    assert_eq!(parsed.ci_variables, [("A".to_string(), "1".to_string())]);

    // Deleting a branch.
    git_ok(&work, &["push", "--quiet", &url, ":feature"]);
    let events = server.take_events();
    assert!(events[0].updates[0].is_deletion());
    assert_eq!(events[0].updates[0].before.as_ref().map(|o| o.to_string()), Some(base.clone()));

    // Lightweight and annotated tags both report the commit.
    git_ok(&work, &["tag", "light", &base]);
    git_ok(&work, &["tag", "-a", "-m", "release notes", "v1.0", &base]);
    git_ok(&work, &["push", "--quiet", &url, "light", "v1.0"]);
    let events = server.take_events();
    assert_eq!(events[0].updates.len(), 2);
    for update in &events[0].updates {
        assert_eq!(update.kind, RefKind::Tag);
        assert_eq!(update.after.as_ref().map(|o| o.to_string()), Some(base.clone()));
    }

    // A rejected non-fast-forward push changes nothing and reports nothing.
    let other = work_tree(&tmp.path().join("other"));
    commit(&other, &[("x", "y")], "unrelated");
    let out = git(&other, &["push", "--quiet", &url, "main"]);
    assert!(!out.status.success());
    assert!(server.take_events().is_empty());
}

#[test]
fn oversized_pushes_are_refused_and_change_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let settings = Settings { max_request_body: 64 * 1024, ..Settings::default() };
    let server = TestServer::start(tmp.path(), settings);
    let repo = server.create_repo("proj");
    let url = format!("{}/proj.git", server.url);
    let work = work_tree(&tmp.path().join("work"));
    // Incompressible content, small enough for one buffered POST (Content-Length)...
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let noise: String = (0..200_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from(b'a' + (state % 26) as u8)
        })
        .collect();
    commit(&work, &[("big.txt", &noise)], "big");
    let out = git(&work, &["push", &url, "main"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("413"), "{}", String::from_utf8_lossy(&out.stderr));
    // ...and one streamed in chunks (no Content-Length).
    let out = git(&work, &["-c", "http.postBuffer=8192", "push", &url, "main"]);
    assert!(!out.status.success());
    assert!(server.take_events().is_empty());
    assert!(server.block_on(repo.refs()).unwrap().is_empty());
}

#[test]
fn only_smart_endpoints_are_served() {
    let tmp = tempfile::tempdir().unwrap();
    let server = TestServer::start(tmp.path(), Settings::default());
    server.create_repo("proj");
    // Dumb HTTP would let a client read objects without upload-pack; it is not offered.
    let out = git(
        tmp.path(),
        &["-c", "http.followRedirects=false", "ls-remote", &format!("{}/proj.git", server.url)],
    );
    assert!(out.status.success());
    let dumb = server.block_on(async {
        let stream = tokio::net::TcpStream::connect(server.url.trim_start_matches("http://")).await.unwrap();
        let (mut r, mut w) = stream.into_split();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        w.write_all(b"GET /proj.git/HEAD HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
        let mut buf = String::new();
        r.read_to_string(&mut buf).await.unwrap();
        buf
    });
    assert!(dumb.starts_with("HTTP/1.1 404"), "{dumb}");
}
