//! `get_sources` from a repository on this machine (a `file://` URL, as `kiln exec`'s
//! snapshot). The runner does it in process, borrowing the source's objects; it must
//! leave what the script's `git init`/`git fetch`/`git checkout` leave (the commit, the
//! refs, the shallow boundary, a clean tree) and print the same lines, and hand over
//! to `git fetch` where the source holds more than it can borrow.
//!
//! The script's way is forced with `HTTPS_PROXY` (a variable a helper process would
//! obey, so the runner does nothing in process; `git` ignores it for `file://`).

mod support;

use std::path::{Path, PathBuf};

use kiln_api::{JobResponse, JobVariable};
use support::git::{Repo, git};
use support::*;

struct Source {
    _root: tempfile::TempDir,
    repo: Repo,
    main: String,
}

/// `main`: five commits, a side branch of three merged in, one more commit; and a
/// pipeline ref on a commit no branch holds.
fn source() -> Source {
    let root = temp();
    let repo = Repo::new(root.path(), "acme/widget");
    for i in 1..=5 {
        repo.write("a.txt", &format!("{i}\n")).commit(&format!("main {i}"));
    }
    git(&repo.work, &["checkout", "-q", "-b", "side", "HEAD~3"]);
    for i in 1..=3 {
        repo.write("side.txt", &format!("{i}\n"));
        git(&repo.work, &["add", "-A"]);
        git(&repo.work, &["commit", "-q", "-m", &format!("side {i}")]);
    }
    git(&repo.work, &["checkout", "-q", "main"]);
    git(&repo.work, &["merge", "-q", "--no-edit", "side"]);
    let main = repo.write("sub/b.txt", "b\n").commit("after the merge");
    repo.detached_ref("refs/pipelines/7", "pipeline.txt");
    Source { _root: root, repo, main }
}

fn local_job(src: &Source, id: i64, depth: i64, vars: &[(&str, &str)]) -> JobResponse {
    let mut j = job(id, &["git rev-parse HEAD"]);
    j.git_info.repo_url = format!("file://{}", src.repo.bare.display());
    j.git_info.sha = src.main.clone();
    j.git_info.depth = depth;
    j.git_info.refspecs =
        vec!["+refs/pipelines/7:refs/pipelines/7".into(), "+refs/heads/main:refs/remotes/origin/main".into()];
    j.variables.retain(|v| v.key != "GIT_STRATEGY");
    for (k, v) in vars {
        j.variables.push(JobVariable::public(*k, *v));
    }
    j
}

fn scripted(mut j: JobResponse) -> JobResponse {
    j.variables.push(JobVariable::public("HTTPS_PROXY", "http://127.0.0.1:9"));
    j
}

/// Runs one job; its log with `dir` written as `<dir>`, and whether it succeeded.
async fn run_in(dir: &Path, j: JobResponse) -> (String, bool) {
    let (coord, url) = start().await;
    let id = j.id;
    coord.lock().unwrap().queue.push_back(j);
    let reports = run_jobs(config(runner(&url, dir), 1), dir, 1).await;
    let log = trace_of(&coord, id).replace(&path_str(dir), "<dir>");
    (log, reports[0].outcome.as_ref().is_some_and(|o| o.succeeded))
}

/// The `get_sources` section's lines, without git's `hint:` advice (`git init` gives it
/// where no default branch name is configured; the runner writes no such advice).
fn sources_section(log: &str) -> Vec<String> {
    log.lines()
        .skip_while(|l| !l.contains("Getting source from Git repository"))
        .skip(1)
        .take_while(|l| !l.contains("section_end:"))
        .filter(|l| !l.starts_with("hint:"))
        .map(String::from)
        .collect()
}

fn project(dir: &Path) -> PathBuf {
    dir.join("builds/testtoken/0/acme/widget")
}

/// What a checkout leaves that a job could see.
fn state(p: &Path) -> Vec<String> {
    let shallow = std::fs::read_to_string(p.join(".git/shallow")).unwrap_or_default();
    let mut shallow: Vec<&str> = shallow.lines().collect();
    shallow.sort_unstable();
    vec![
        git(p, &["rev-parse", "HEAD"]),
        git(p, &["rev-list", "--count", "HEAD"]),
        format!("shallow: {shallow:?}"),
        git(p, &["for-each-ref", "--format=%(refname) %(objectname)"]),
        git(p, &["status", "--porcelain", "--ignored"]),
        git(p, &["ls-files"]),
    ]
}

fn borrows(p: &Path) -> bool {
    p.join(".git/objects/info/alternates").is_file()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_checkout_leaves_what_the_script_leaves_at_every_depth() {
    let src = source();
    for (id, depth) in [(1, 1), (2, 3), (3, 5), (4, 0)] {
        let (native, script) = (temp(), temp());
        let vars = [("GIT_STRATEGY", "clone")];
        let (native_log, ok) = run_in(native.path(), local_job(&src, id, depth, &vars)).await;
        assert!(ok, "depth {depth}: {native_log}");
        let (script_log, ok) = run_in(script.path(), scripted(local_job(&src, id, depth, &vars))).await;
        assert!(ok, "depth {depth}: {script_log}");
        let (n, s) = (project(native.path()), project(script.path()));
        assert!(borrows(&n) && !borrows(&s), "depth {depth}: only the in-process fetch borrows objects");
        assert_eq!(state(&n), state(&s), "depth {depth}");
        assert_eq!(sources_section(&native_log), sources_section(&script_log), "depth {depth}");
        assert!(native_log.contains(&format!("\n{}\n", src.main)), "{native_log}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetching_into_an_earlier_checkout_cleans_it_and_deepens_or_unshallows() {
    let src = source();
    let (native, script) = (temp(), temp());
    for (id, depth) in [(1, 1), (2, 4), (3, 0), (4, 2)] {
        let vars = [("GIT_STRATEGY", "fetch")];
        for dir in [native.path(), script.path()] {
            let p = project(dir);
            if p.is_dir() {
                std::fs::write(p.join("junk.txt"), "left by an earlier job\n").unwrap();
                std::fs::write(p.join("a.txt"), "changed by an earlier job\n").unwrap();
            }
        }
        let (native_log, ok) = run_in(native.path(), local_job(&src, id, depth, &vars)).await;
        assert!(ok, "depth {depth}: {native_log}");
        let (script_log, ok) = run_in(script.path(), scripted(local_job(&src, id, depth, &vars))).await;
        assert!(ok, "depth {depth}: {script_log}");
        let (n, s) = (project(native.path()), project(script.path()));
        assert_eq!(state(&n), state(&s), "depth {depth}");
        assert_eq!(sources_section(&native_log), sources_section(&script_log), "depth {depth}");
        if id > 1 {
            assert!(native_log.contains("Reinitialized existing Git repository in <dir>/"), "{native_log}");
            assert!(native_log.contains("Removing junk.txt"), "{native_log}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tag_outside_the_refspecs_is_fetched_by_git_fetch_as_the_script_would() {
    let src = source();
    git(&src.repo.work, &["tag", "-a", "-m", "first release", "v1", "HEAD~2"]);
    git(&src.repo.work, &["push", "-q", "origin", "v1"]);
    let (native, script) = (temp(), temp());
    let vars = [("GIT_STRATEGY", "clone")];
    let (native_log, ok) = run_in(native.path(), local_job(&src, 1, 0, &vars)).await;
    assert!(ok, "{native_log}");
    let (script_log, ok) = run_in(script.path(), scripted(local_job(&src, 1, 0, &vars))).await;
    assert!(ok, "{script_log}");
    let (n, s) = (project(native.path()), project(script.path()));
    assert!(!borrows(&n), "git fetch copied the objects");
    assert!(git(&n, &["for-each-ref", "refs/tags"]).contains("refs/tags/v1"));
    assert_eq!(state(&n), state(&s));
    assert_eq!(sources_section(&native_log), sources_section(&script_log));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_source_ref_fails_the_job_with_git_s_own_message() {
    let src = source();
    let dir = temp();
    let mut j = local_job(&src, 1, 20, &[("GIT_STRATEGY", "clone")]);
    j.git_info.refspecs.push("+refs/heads/gone:refs/remotes/origin/gone".into());
    let (log, ok) = run_in(dir.path(), j).await;
    assert!(!ok, "{log}");
    assert!(log.contains("couldn't find remote ref refs/heads/gone"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lfs_attributes_in_a_subdirectory_make_both_ways_run_git_lfs_pull() {
    let root = temp();
    let media = Repo::new(root.path(), "acme/widget");
    media.write(".gitattributes", "*.txt text\n");
    media.write("assets/.gitattributes", "*.bin filter=lfs diff=lfs merge=lfs -text\n");
    media.write(
        "assets/big.bin",
        "version https://git-lfs.github.com/spec/v1\noid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 12345\n",
    );
    let sha = media.commit("media");
    let src = Source { _root: root, repo: media, main: sha };
    let mut j = local_job(&src, 1, 20, &[]);
    j.git_info.refspecs.retain(|r| r.contains("heads"));
    let (native, script) = (temp(), temp());
    let lfs =
        std::process::Command::new("git").args(["lfs", "version"]).output().is_ok_and(|o| o.status.success());
    // A fresh clone, then a fetch into it (cleaned with the default flags).
    for strategy in ["clone", "fetch"] {
        let mut j = j.clone();
        j.variables.push(JobVariable::public("GIT_STRATEGY", strategy));
        let (native_log, native_ok) = run_in(native.path(), j.clone()).await;
        let (script_log, script_ok) = run_in(script.path(), scripted(j)).await;
        assert_eq!(native_ok, script_ok, "{strategy}: {native_log}\n---\n{script_log}");
        assert_eq!(sources_section(&native_log), sources_section(&script_log), "{strategy}");
        if lfs {
            // `git lfs pull` ran and found no object for the pointer (the source has no LFS store).
            assert!(!native_ok && native_log.contains("Failed to fetch some objects"), "{native_log}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_of_one_runner_share_a_walk_only_where_source_tips_and_depth_agree() {
    let src = source();
    let (coord, url) = start().await;
    let dir = temp();
    // Three projects (three checkouts) of one source: depth 3, depth 3 again (the
    // runner's walk serves it), depth 1.
    let mut jobs = Vec::new();
    for (id, depth) in [(1, 3), (2, 3), (3, 1)] {
        let mut j = local_job(&src, id, depth, &[("GIT_STRATEGY", "clone")]);
        j.job_info.project_full_path = Some(format!("acme/widget{id}"));
        jobs.push(j);
    }
    for j in jobs {
        coord.lock().unwrap().queue.push_back(j);
    }
    let reports = run_jobs(config(runner(&url, dir.path()), 1), dir.path(), 3).await;
    assert!(reports.iter().all(|r| r.outcome.as_ref().is_some_and(|o| o.succeeded)));
    let checkout = |id: i64| dir.path().join(format!("builds/testtoken/0/acme/widget{id}"));
    for (id, depth) in [(1, 3), (2, 3), (3, 1)] {
        let reference = temp();
        let vars = [("GIT_STRATEGY", "clone")];
        let (log, ok) = run_in(reference.path(), scripted(local_job(&src, 10 + id, depth, &vars))).await;
        assert!(ok, "{log}");
        assert_eq!(state(&checkout(id)), state(&project(reference.path())), "job {id}, depth {depth}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_clone_s_patterns_fetch_every_branch_and_tag_and_prune_what_the_source_dropped() {
    let src = source();
    git(&src.repo.work, &["tag", "-a", "-m", "release", "v1", "HEAD~2"]);
    git(&src.repo.work, &["push", "-q", "origin", "v1", "side"]);
    // What GitLab sends for `GIT_DEPTH: 0`.
    let full = |id: i64| {
        let mut j = local_job(&src, id, 0, &[("GIT_STRATEGY", "fetch")]);
        j.git_info.refspecs = vec![
            "+refs/pipelines/7:refs/pipelines/7".into(),
            "+refs/heads/*:refs/remotes/origin/*".into(),
            "+refs/tags/*:refs/tags/*".into(),
        ];
        j
    };
    let (native, script) = (temp(), temp());
    for id in [1, 2] {
        if id == 2 {
            // The source drops a branch: `--prune` drops our copy of it.
            git(&src.repo.work, &["push", "-q", "origin", "--delete", "side"]);
        }
        let (native_log, ok) = run_in(native.path(), full(id)).await;
        assert!(ok, "{native_log}");
        let (script_log, ok) = run_in(script.path(), scripted(full(id))).await;
        assert!(ok, "{script_log}");
        let (n, s) = (project(native.path()), project(script.path()));
        assert!(borrows(&n), "the patterns were fetched in process");
        assert_eq!(state(&n), state(&s), "fetch {id}");
        assert_eq!(sources_section(&native_log), sources_section(&script_log), "fetch {id}");
        let refs = git(&n, &["for-each-ref", "--format=%(refname)"]);
        assert!(refs.contains("refs/tags/v1"), "{refs}");
        assert_eq!(refs.contains("refs/remotes/origin/side"), id == 1, "{refs}");
    }
}
