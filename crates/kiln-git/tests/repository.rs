//! Reading a bare repository: files and trees at a commit, changed paths,
//! refs, commit details, server-kept refs; hostile names stay names.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{commit, git_ok, work_tree};
use kiln_git::{Endpoint, GitError, HttpRequest, Oid, Repository, Service, Settings, SmartHttp};

struct Fixture {
    _tmp: tempfile::TempDir,
    repo: Repository,
    first: Oid,
    second: Oid,
}

async fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let repo =
        Repository::create(tmp.path().join("p.git"), "main", Arc::new(Settings::default())).await.unwrap();
    let work = work_tree(&tmp.path().join("work"));
    let first = commit(
        &work,
        &[(".gitlab-ci.yml", "include: ci/a.yml\n"), ("ci/a.yml", "a: {script: x}\n"), ("old.txt", "o")],
        "Add CI\n\nWith a body.\n",
    );
    std::fs::remove_file(work.join("old.txt")).unwrap();
    let second =
        commit(&work, &[("ci/a.yml", "a: {script: y}\n"), ("docs/new file.md", "n")], "Change things");
    git_ok(&work, &["tag", "light", &first]);
    git_ok(&work, &["tag", "-a", "-m", "Release one\n\nnotes", "v1", &first]);
    git_ok(&work, &["push", "--quiet", repo.path().to_str().unwrap(), "main", "main:dev", "light", "v1"]);
    Fixture { _tmp: tmp, repo, first: Oid::parse(&first).unwrap(), second: Oid::parse(&second).unwrap() }
}

#[tokio::test]
async fn reads_files_and_trees_at_a_commit() {
    let f = fixture().await;
    let read = |commit: Oid, path: &'static str| {
        let repo = f.repo.clone();
        async move { repo.read_file(&commit, path).await.unwrap().map(|b| String::from_utf8(b).unwrap()) }
    };
    assert_eq!(read(f.first.clone(), "ci/a.yml").await.as_deref(), Some("a: {script: x}\n"));
    assert_eq!(read(f.second.clone(), "/ci/a.yml").await.as_deref(), Some("a: {script: y}\n"));
    assert_eq!(read(f.second.clone(), "old.txt").await, None);
    assert_eq!(read(f.second.clone(), "ci").await, None, "a directory is not a file");
    assert_eq!(read(f.second.clone(), "docs/new file.md").await.as_deref(), Some("n"));
    assert_eq!(
        f.repo.list_files(&f.second).await.unwrap(),
        [".gitlab-ci.yml", "ci/a.yml", "docs/new file.md"]
    );
    for bad in ["../etc/passwd", "a\nb", ""] {
        assert!(
            matches!(f.repo.read_file(&f.second, bad).await, Err(GitError::InvalidPath { .. })),
            "{bad:?}"
        );
    }
    let unknown = Oid::parse(&"1".repeat(40)).unwrap();
    assert_eq!(f.repo.read_file(&unknown, "ci/a.yml").await.unwrap(), None);
}

#[tokio::test]
async fn versions_of_files_for_cache_keys() {
    let f = fixture().await;
    let paths: Vec<String> =
        ["ci/a.yml", ".gitlab-ci.yml", "old.txt", "ci", "docs/new file.md", "../x", "nope"]
            .map(String::from)
            .into();
    let first = f.repo.blob_ids(&f.first, &paths).await.unwrap();
    let second = f.repo.blob_ids(&f.second, &paths).await.unwrap();
    let hash = |text: &str| {
        let out = std::process::Command::new("git")
            .args(["hash-object", "--stdin"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin.take().unwrap().write_all(text.as_bytes())?;
                c.wait_with_output()
            })
            .unwrap();
        Oid::parse(String::from_utf8(out.stdout).unwrap().trim()).unwrap()
    };
    assert_eq!(first[0], Some(hash("a: {script: x}\n")));
    assert_eq!(second[0], Some(hash("a: {script: y}\n")));
    assert_eq!(first[1], second[1], "an unchanged file keeps its blob");
    assert!(first[2].is_some() && second[2].is_none(), "a deleted file has no blob");
    assert_eq!(second[3], None, "a directory is not a blob");
    assert_eq!(second[4], Some(hash("n")));
    assert_eq!(&second[5..], [None, None], "bad and missing paths answer none, in step");

    let last = |path: &'static str| {
        let repo = f.repo.clone();
        let at = f.second.clone();
        async move { repo.last_commit_for_path(&at, path).await.unwrap() }
    };
    assert_eq!(last("ci/a.yml").await, Some(f.second.clone()));
    assert_eq!(last(".gitlab-ci.yml").await, Some(f.first.clone()));
    assert_eq!(last("old.txt").await, Some(f.second.clone()), "the deletion is the last change");
    assert_eq!(last("*.yml").await, None, "paths are literal, not patterns");
    assert_eq!(last("nope").await, None);
    assert_eq!(last("../etc/passwd").await, None);
}

#[tokio::test]
async fn big_files_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let settings = Arc::new(Settings { max_file_size: 10, ..Settings::default() });
    let repo = Repository::create(tmp.path().join("p.git"), "main", settings).await.unwrap();
    let work = work_tree(&tmp.path().join("work"));
    let sha = commit(&work, &[("big", "more than ten bytes")], "big");
    git_ok(&work, &["push", "--quiet", repo.path().to_str().unwrap(), "main"]);
    let result = repo.read_file(&Oid::parse(&sha).unwrap(), "big").await;
    assert!(matches!(result, Err(GitError::FileTooLarge { limit: 10, .. })), "{result:?}");
}

#[tokio::test]
async fn changed_paths_and_merge_base() {
    let f = fixture().await;
    assert_eq!(
        f.repo.changed_paths(&f.first, &f.second).await.unwrap(),
        ["ci/a.yml", "docs/new file.md", "old.txt"]
    );
    assert_eq!(f.repo.merge_base(&f.first, &f.second).await.unwrap(), Some(f.first.clone()));
}

#[tokio::test]
async fn refs_resolve_and_describe_commits() {
    let f = fixture().await;
    assert_eq!(f.repo.resolve_branch("main").await.unwrap(), Some(f.second.clone()));
    assert_eq!(f.repo.resolve_branch("nope").await.unwrap(), None);
    assert_eq!(f.repo.resolve_tag("v1").await.unwrap(), Some(f.first.clone()));
    assert_eq!(f.repo.resolve_tag("light").await.unwrap(), Some(f.first.clone()));
    let refs = f.repo.refs().await.unwrap();
    let names: Vec<&str> = refs.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["refs/heads/dev", "refs/heads/main", "refs/tags/light", "refs/tags/v1"]);
    assert_eq!(refs[3].commit(), &f.first);
    assert_ne!(refs[3].target, f.first, "an annotated tag names its tag object");
    assert_eq!(f.repo.tag_message("v1").await.unwrap(), "Release one\n\nnotes");
    assert_eq!(f.repo.tag_message("light").await.unwrap(), "");
    assert!(f.repo.commit_exists(&f.first).await.unwrap());
    assert!(!f.repo.commit_exists(&refs[3].target).await.unwrap());

    let info = f.repo.commit_info(&f.first).await.unwrap();
    // The message as git stores it (GitLab's API shows it the same way).
    assert_eq!(info.message, "Add CI\n\nWith a body.\n");
    assert_eq!(info.title(), "Add CI");
    assert_eq!((info.author_name.as_str(), info.author_email.as_str()), ("Ada Lovelace", "ada@example.com"));
    assert_eq!(info.authored_iso, "2024-05-06T07:08:09+02:00");
    assert_eq!(info.authored_at, 1_714_972_089);
    assert!(info.parents.is_empty());
    assert_eq!(f.repo.commit_info(&f.second).await.unwrap().parents, std::slice::from_ref(&f.first));
}

#[tokio::test]
async fn hostile_ref_names_never_become_options_or_revisions() {
    let f = fixture().await;
    for name in ["--output=/tmp/pwned", "main~1", "main^{tree}", "@{-1}", ":/Add", "main..dev", "HEAD"] {
        let result = f.repo.resolve_branch(name).await;
        assert!(matches!(result, Err(GitError::InvalidRefName { .. })), "{name}: {result:?}");
    }
    // Odd but legal names are looked up literally.
    assert_eq!(f.repo.resolve_branch("$(id)").await.unwrap(), None);
    assert!(matches!(f.repo.resolve_ref("refs/heads/main\n").await, Err(GitError::InvalidRefName { .. })));
}

#[tokio::test]
async fn server_kept_refs_are_compare_and_set() {
    let f = fixture().await;
    f.repo.update_ref("refs/pipelines/1", &f.first, None).await.unwrap();
    assert_eq!(f.repo.resolve_ref("refs/pipelines/1").await.unwrap(), Some(f.first.clone()));
    // Creating it again, or moving it from a stale value, fails.
    assert!(f.repo.update_ref("refs/pipelines/1", &f.second, None).await.is_err());
    assert!(f.repo.update_ref("refs/pipelines/1", &f.second, Some(&f.second)).await.is_err());
    f.repo.update_ref("refs/pipelines/1", &f.second, Some(&f.first)).await.unwrap();
    // They are not branches or tags.
    assert_eq!(f.repo.refs().await.unwrap().len(), 4);
    assert_eq!(f.repo.refs_under(&["refs/pipelines/"]).await.unwrap().len(), 1);
    f.repo.delete_ref("refs/pipelines/1").await.unwrap();
    assert_eq!(f.repo.resolve_ref("refs/pipelines/1").await.unwrap(), None);
    f.repo.set_default_branch("dev").await.unwrap();
}

#[tokio::test]
async fn a_request_that_never_finishes_times_out() {
    let tmp = tempfile::tempdir().unwrap();
    let settings = Arc::new(Settings { http_timeout: Duration::from_millis(300), ..Settings::default() });
    let repo = Repository::create(tmp.path().join("p.git"), "main", settings).await.unwrap();
    let request = HttpRequest {
        endpoint: Endpoint::Rpc(Service::UploadPack),
        content_type: Some("application/x-git-upload-pack-request".into()),
        content_length: None,
        content_encoding: None,
        git_protocol: None,
        remote_user: None,
        remote_addr: None,
        body: futures::stream::pending::<Result<bytes::Bytes, std::io::Error>>(),
    };
    // git answers with its headers before reading the body, so the
    // deadline ends the streamed body instead.
    let response = SmartHttp::new().serve(&repo, request, None).await.unwrap();
    use futures::StreamExt;
    let items: Vec<_> = response.body.collect().await;
    let last = items.last().unwrap();
    assert!(matches!(last, Err(e) if e.kind() == std::io::ErrorKind::TimedOut), "{items:?}");
}
