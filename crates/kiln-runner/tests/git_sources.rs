//! `get_sources` against real repositories: bare repositories made by the test and
//! served by `git http-backend` on loopback, which demands the job token. Checks every
//! `GIT_*` variable the runner honours, and that the token never reaches the log.

mod support;

use std::path::{Path, PathBuf};

use kiln_api::{JobResponse, JobVariable};
use support::git::{Repo, git, serve};
use support::*;

/// A token without a GitLab prefix and not marked masked: only care keeps it out of the log.
const TOKEN: &str = "s3cretJobTok3n";

struct Upstream {
    _root: tempfile::TempDir,
    /// `http://gitlab-ci-token:<token>@127.0.0.1:<port>`.
    base: String,
    main_sha: String,
    pipeline_sha: String,
    /// The work tree of `acme/media`.
    media: PathBuf,
}

async fn upstream() -> Upstream {
    let root = temp();
    let r = root.path();
    let subsub = Repo::new(r, "acme/subsub");
    subsub.write("deep.txt", "deep\n").commit("deep");
    let sub = Repo::new(r, "acme/sub");
    sub.write("sub.txt", "one\n").commit("sub one");
    sub.add_submodule(&subsub, "../subsub.git", "nested");
    sub.write("sub.txt", "two\n").commit("sub two");
    let other = Repo::new(r, "acme/other");
    other.write("other.txt", "other\n").commit("other");
    let widget = Repo::new(r, "acme/widget");
    widget.write("a.txt", "first\n").commit("first");
    widget.add_submodule(&sub, "../sub.git", "libs/sub");
    widget.add_submodule(&other, "../other.git", "libs/other");
    let main_sha = widget.write("b.txt", "second\n").commit("second");
    let pipeline_sha = widget.detached_ref("refs/pipelines/42", "pipeline.txt");
    // A repository with a Git LFS pointer whose object no server has.
    let media = Repo::new(r, "acme/media");
    media.write(".gitattributes", "*.bin filter=lfs diff=lfs merge=lfs -text\n");
    media.write(
        "big.bin",
        "version https://git-lfs.github.com/spec/v1\noid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 12345\n",
    );
    media.commit("media");
    let url = serve(r, TOKEN).await;
    let base = url.replace("http://", &format!("http://gitlab-ci-token:{TOKEN}@"));
    Upstream { _root: root, base, main_sha, pipeline_sha, media: media.work }
}

fn git_job(up: &Upstream, id: i64, vars: &[(&str, &str)], script: &[&str]) -> JobResponse {
    let mut j = job(id, script);
    j.token = TOKEN.into();
    j.git_info.repo_url = format!("{}/acme/widget.git", up.base);
    j.git_info.sha = up.main_sha.clone();
    j.git_info.refspecs = vec!["+refs/heads/main:refs/remotes/origin/main".into()];
    // The helper's default is `none`; tests say what they want.
    j.variables.retain(|v| v.key != "GIT_STRATEGY");
    for (k, v) in vars {
        j.variables.push(JobVariable::public(*k, *v));
    }
    j
}

/// Runs one job to its end; returns its log (checked for the token) and whether it succeeded.
async fn run_any(coord: &Shared, url: &str, dir: &Path, j: JobResponse) -> (String, bool) {
    let id = j.id;
    coord.lock().unwrap().queue.push_back(j);
    let reports = run_jobs(config(runner(url, dir), 1), dir, 1).await;
    let raw = raw_trace_of(coord, id);
    assert!(!raw.contains(TOKEN), "job {id} printed the token: {raw}");
    (trace_of(coord, id), reports[0].outcome.as_ref().is_some_and(|o| o.succeeded))
}

/// Runs one job that must succeed; returns its log.
async fn run(coord: &Shared, url: &str, dir: &Path, j: JobResponse) -> String {
    let id = j.id;
    let (log, ok) = run_any(coord, url, dir, j).await;
    assert!(ok, "job {id} failed: {log}");
    log
}

fn project(dir: &Path) -> PathBuf {
    dir.join("builds/testtoken/0/acme/widget")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strategies_clone_fetch_none_and_empty_and_the_token_stays_out_of_the_log() {
    let up = upstream().await;
    let (coord, url) = start().await;
    let dir = temp();
    let p = project(dir.path());

    let log = run(
        &coord,
        &url,
        dir.path(),
        git_job(&up, 1, &[("GIT_STRATEGY", "clone")], &["echo junk > junk.txt"]),
    )
    .await;
    assert!(log.contains("Created fresh repository."), "{log}");
    assert!(
        log.contains(&format!("Checking out {} as detached HEAD (ref is main)...", &up.main_sha[..8])),
        "{log}"
    );
    assert_eq!(git(&p, &["rev-parse", "HEAD"]), up.main_sha);
    assert!(p.join("a.txt").is_file() && p.join("junk.txt").is_file());
    assert!(log.contains("Skipping Git submodules setup"), "{log}");
    assert!(!p.join("libs/sub/sub.txt").exists(), "submodules stay out by default");

    // `allow_git_fetch` makes `fetch` the default: the checkout is reused and cleaned
    // (GIT_CLEAN_FLAGS defaults to -ffdx); GIT_FETCH_EXTRA_FLAGS replaces `--prune --quiet`.
    let mut j = git_job(&up, 2, &[("GIT_FETCH_EXTRA_FLAGS", "--prune --verbose")], &["echo keep > keep.txt"]);
    j.allow_git_fetch = true;
    let log = run(&coord, &url, dir.path(), j).await;
    assert!(
        log.contains(&format!("Reinitialized existing Git repository in {}/.git/", p.display())),
        "{log}"
    );
    assert!(!p.join("junk.txt").exists(), "git clean -ffdx removed the untracked file");
    assert!(log.contains("From http://127.0.0.1:"), "--verbose fetch output: {log}");

    let j = git_job(&up, 3, &[("GIT_STRATEGY", "fetch"), ("GIT_CLEAN_FLAGS", "none")], &["true"]);
    run(&coord, &url, dir.path(), j).await;
    assert!(p.join("keep.txt").is_file(), "GIT_CLEAN_FLAGS=none keeps untracked files");

    let log = run(&coord, &url, dir.path(), git_job(&up, 4, &[("GIT_STRATEGY", "none")], &["ls"])).await;
    assert!(log.contains("Skipping Git repository setup"), "{log}");
    assert!(p.join("keep.txt").is_file() && p.join(".git").is_dir(), "none leaves the directory alone");

    let log = run(&coord, &url, dir.path(), git_job(&up, 5, &[("GIT_STRATEGY", "empty")], &["ls -A"])).await;
    assert!(log.contains("Skipping Git repository setup and creating an empty build directory"), "{log}");
    assert!(p.is_dir() && std::fs::read_dir(&p).unwrap().next().is_none(), "empty leaves an empty directory");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn depth_pipeline_refspecs_unshallowing_and_checkout_false() {
    let up = upstream().await;
    let (coord, url) = start().await;
    let dir = temp();
    let p = project(dir.path());

    let mut j = git_job(&up, 10, &[("GIT_STRATEGY", "clone")], &["cat pipeline.txt"]);
    j.git_info.depth = 1;
    j.git_info.refspecs = vec!["+refs/pipelines/42:refs/pipelines/42".into()];
    j.git_info.sha = up.pipeline_sha.clone();
    let log = run(&coord, &url, dir.path(), j).await;
    assert!(log.contains("Fetching changes with git depth set to 1..."), "{log}");
    assert!(log.contains("only reachable from a pipeline ref"), "{log}");
    assert_eq!(git(&p, &["rev-parse", "HEAD"]), up.pipeline_sha);
    assert_eq!(git(&p, &["rev-list", "--count", "HEAD"]), "1");

    // A full fetch into the shallow checkout unshallows it.
    let mut j = git_job(&up, 11, &[("GIT_STRATEGY", "fetch")], &["true"]);
    j.git_info.refspecs.push("+refs/pipelines/42:refs/pipelines/42".into());
    j.git_info.sha = up.pipeline_sha.clone();
    let log = run(&coord, &url, dir.path(), j).await;
    assert!(log.contains("Fetching changes..."), "{log}");
    assert!(!p.join(".git/shallow").exists());
    assert_eq!(git(&p, &["rev-list", "--count", "HEAD"]), "3");

    let j = git_job(&up, 12, &[("GIT_STRATEGY", "clone"), ("GIT_CHECKOUT", "false")], &["true"]);
    let log = run(&coord, &url, dir.path(), j).await;
    assert!(log.contains("Skipping Git checkout"), "{log}");
    assert!(p.join(".git").is_dir() && !p.join("a.txt").exists(), "nothing is checked out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submodules_normal_recursive_depth_and_paths() {
    let up = upstream().await;
    let (coord, url) = start().await;
    let dir = temp();
    let p = project(dir.path());

    let j = git_job(&up, 20, &[("GIT_STRATEGY", "clone"), ("GIT_SUBMODULE_STRATEGY", "normal")], &["true"]);
    let log = run(&coord, &url, dir.path(), j).await;
    assert!(log.contains("Updating/initializing submodules..."), "{log}");
    assert_eq!(std::fs::read_to_string(p.join("libs/sub/sub.txt")).unwrap(), "two\n");
    assert!(p.join("libs/other/other.txt").is_file());
    assert!(!p.join("libs/sub/nested/deep.txt").exists(), "normal is not recursive");

    let vars =
        [("GIT_STRATEGY", "clone"), ("GIT_SUBMODULE_STRATEGY", "recursive"), ("GIT_SUBMODULE_DEPTH", "1")];
    let log = run(&coord, &url, dir.path(), git_job(&up, 21, &vars, &["true"])).await;
    assert!(log.contains("Updating/initializing submodules recursively..."), "{log}");
    assert!(p.join("libs/sub/nested/deep.txt").is_file());
    assert_eq!(git(&p.join("libs/sub"), &["rev-list", "--count", "HEAD"]), "1", "GIT_SUBMODULE_DEPTH");

    let vars = [
        ("GIT_STRATEGY", "clone"),
        ("GIT_SUBMODULE_STRATEGY", "recursive"),
        ("GIT_SUBMODULE_PATHS", "libs/sub"),
    ];
    run(&coord, &url, dir.path(), git_job(&up, 22, &vars, &["true"])).await;
    assert!(p.join("libs/sub/sub.txt").is_file());
    assert!(!p.join("libs/other/other.txt").exists(), "GIT_SUBMODULE_PATHS leaves other submodules out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lfs_smudging_is_skipped_when_the_job_asks() {
    let up = upstream().await;
    let (coord, url) = start().await;
    let dir = temp();
    let mut j =
        git_job(&up, 30, &[("GIT_STRATEGY", "clone"), ("GIT_LFS_SKIP_SMUDGE", "1")], &["head -1 big.bin"]);
    j.git_info.repo_url = format!("{}/acme/media.git", up.base);
    j.git_info.sha = git(&up.media, &["rev-parse", "HEAD"]);
    let log = run(&coord, &url, dir.path(), j).await;
    // The pointer file stays as committed: no LFS server was asked for the object.
    assert!(log.contains("\nversion https://git-lfs.github.com/spec/v1\n"), "{log}");
    let lfs =
        std::process::Command::new("git").args(["lfs", "version"]).output().is_ok_and(|o| o.status.success());
    if lfs {
        // Without it the runner runs `git lfs pull`, which fails here and prints the remote
        // URL: the token in it is masked.
        let mut j = git_job(&up, 31, &[("GIT_STRATEGY", "clone")], &["true"]);
        j.git_info.repo_url = format!("{}/acme/media.git", up.base);
        j.git_info.sha = git(&up.media, &["rev-parse", "HEAD"]);
        let (log, ok) = run_any(&coord, &url, dir.path(), j).await;
        assert!(!ok && log.contains("gitlab-ci-token:[MASKED]@127.0.0.1"), "{log}");
    }
}
