//! `kiln exec` as a user runs it: exit codes 0/1/2 (configuration errors with
//! file:line:column), `--report`, `--list` as a table and JSON, `--preview`,
//! nothing written outside `.kiln/`, and Ctrl-C (a real SIGINT): the first
//! cancels the running jobs with their `after_script` and exits 130, a second
//! stops at once.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git").args(args).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A committed project with these files.
fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    git(root, &["init", "-q", "-b", "main"]);
    git(root, &["config", "user.email", "dev@example.com"]);
    git(root, &["config", "user.name", "Dev"]);
    for (name, text) in files {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "first"]);
    dir
}

fn kiln_exec(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kiln")).arg("exec").args(args).current_dir(dir).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const PIPELINE: &str = "\
stages: [build, test]
build:
  stage: build
  script:
    - mkdir -p out && echo built > out/bin
    - echo made > scratch.txt
  artifacts:
    paths: [out/]
  cache:
    key: deps
    paths: [deps/]
test:
  stage: test
  needs: [build]
  script:
    - test \"$(cat out/bin)\" = built
    - echo \"ran in $CI_PROJECT_DIR\"
nightly:
  script: echo nightly
  rules:
    - if: $CI_PIPELINE_SOURCE == \"schedule\"
";

#[test]
fn a_passing_pipeline_exits_0_and_writes_its_report() {
    let dir = project(&[(".gitlab-ci.yml", PIPELINE)]);
    let report = dir.path().join(".kiln-report.json");
    let out = kiln_exec(dir.path(), &["--report", report.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.lines().any(|l| l.starts_with("test") && l.contains("> ran in ")), "{stdout}");
    let report: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(report["status"], "success");
    assert!(report["duration_s"].as_f64().unwrap() > 0.0);
    let jobs: Vec<(&str, &str, &str)> = report["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| (j["name"].as_str().unwrap(), j["stage"].as_str().unwrap(), j["status"].as_str().unwrap()))
        .collect();
    assert_eq!(jobs, [("build", "build", "success"), ("test", "test", "success")]);
    assert!(stdout.contains("JOB") && stdout.contains("STATUS") && stdout.contains("EXIT CODE"), "{stdout}");
}

#[test]
fn jobs_write_nothing_outside_kiln_and_their_own_directory() {
    let dir = project(&[(".gitlab-ci.yml", PIPELINE)]);
    // The system's temporary directory is outside too: stage scripts, job logs, archives
    // and downloads must not land there, not even for a moment. TMPDIR names a file, so
    // whatever tries to create something in it fails the run (root included).
    let tmp = tempfile::NamedTempFile::new().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .arg("exec")
        .current_dir(dir.path())
        .env("TMPDIR", tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    // `.kiln/` ignores itself; nothing else appeared or changed in the tree.
    let status = git(dir.path(), &["status", "--porcelain", "--ignored"]);
    assert_eq!(status, "!! .kiln/\n");
    let stdout = text(&out.stdout);
    let builds = dir.path().join(".kiln/builds").canonicalize().unwrap();
    assert!(stdout.contains(&format!("ran in {}", builds.display())), "{stdout}");
    assert!(dir.path().join(".kiln/logs/1").is_dir());
}

#[test]
fn a_failing_pipeline_exits_1() {
    let dir = project(&[(".gitlab-ci.yml", "broken:\n  script:\n    - echo about to fail\n    - exit 3\n")]);
    let out = kiln_exec(dir.path(), &[]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("broken > about to fail"), "{stdout}");
    let row = stdout.lines().find(|l| l.starts_with("broken ") && l.contains("failed")).unwrap_or_default();
    assert!(row.trim_end().ends_with('3'), "the exit code column: {stdout}");
}

#[test]
fn configuration_and_usage_errors_exit_2_with_the_place() {
    let dir = project(&[(
        ".gitlab-ci.yml",
        "build:\n  stage: build\n  script: make\ntest:\n  scrpit: make test\n",
    )]);
    let out = kiln_exec(dir.path(), &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(".gitlab-ci.yml:4:1") || stderr.contains(".gitlab-ci.yml:5:"), "{stderr}");

    let dir = project(&[(".gitlab-ci.yml", PIPELINE)]);
    let out = kiln_exec(dir.path(), &["biuld"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no job named `biuld`"), "{}", text(&out.stderr));
}

#[test]
fn list_shows_the_jobs_after_rules_as_a_table_or_json() {
    let dir = project(&[(".gitlab-ci.yml", PIPELINE)]);
    let out = kiln_exec(dir.path(), &["--list"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let rows: Vec<Vec<&str>> = stdout.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows[0], ["NAME", "STAGE", "WHEN", "ALLOW", "FAILURE", "NEEDS"]);
    assert_eq!(rows[1], ["build", "build", "on_success", "no", "-"]);
    assert_eq!(rows[2], ["test", "test", "on_success", "no", "build"]);
    assert_eq!(rows.len(), 3, "`nightly` is left out by its rules: {stdout}");

    let out = kiln_exec(dir.path(), &["--list", "--format", "json", "--source", "schedule"]);
    assert_eq!(out.status.code(), Some(0));
    let jobs: Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = jobs.as_array().unwrap().iter().map(|j| j["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["build", "test", "nightly"]);
    assert_eq!(jobs[1]["needs"], serde_json::json!(["build"]));
    assert_eq!(jobs[0]["needs"], Value::Null);
    assert!(!dir.path().join(".kiln").exists(), "--list runs nothing");
}

#[test]
fn preview_prints_the_expanded_configuration() {
    let ci = ".base:\n  before_script: [echo base]\nbuild:\n  extends: .base\n  script: make\n";
    let dir = project(&[(".gitlab-ci.yml", ci)]);
    let out = kiln_exec(dir.path(), &["--preview"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    let build = stdout.split("\nbuild:").nth(1).unwrap_or_else(|| panic!("no build job: {stdout}"));
    assert!(build.contains("echo base"), "extends is applied: {stdout}");
    assert!(!dir.path().join(".kiln").exists(), "--preview runs nothing");
}

/// `kiln exec` with its output going to `log`.
fn spawn(dir: &Path, log: &Path) -> Child {
    let file = std::fs::File::create(log).unwrap();
    Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(["exec", "--report", ".kiln-report.json"])
        .current_dir(dir)
        .stdout(Stdio::from(file.try_clone().unwrap()))
        .stderr(Stdio::from(file))
        .spawn()
        .unwrap()
}

fn wait_for_line(log: &Path, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !std::fs::read_to_string(log).unwrap_or_default().contains(needle) {
        assert!(
            Instant::now() < deadline,
            "`{needle}` never appeared:\n{}",
            std::fs::read_to_string(log).unwrap()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn interrupt(child: &Child) {
    kill(Pid::from_raw(i32::try_from(child.id()).unwrap()), Signal::SIGINT).unwrap();
}

fn wait(mut child: Child) -> Option<i32> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("kiln exec did not stop");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn ctrl_c_cancels_running_jobs_with_their_after_script_and_exits_130() {
    let ci = "long:\n  stage: build\n  script:\n    - echo started\n    - sleep 60\n  after_script:\n    - echo \"after_script saw $CI_JOB_STATUS\"\nlater:\n  stage: test\n  script: echo never\n";
    let dir = project(&[(".gitlab-ci.yml", ci)]);
    let log = dir.path().join(".kiln-out.txt");
    let child = spawn(dir.path(), &log);
    wait_for_line(&log, "> started");
    interrupt(&child);
    assert_eq!(wait(child), Some(130));
    let out = std::fs::read_to_string(&log).unwrap();
    assert!(out.contains("long  > after_script saw canceled"), "{out}");
    assert!(!out.contains("> never"), "{out}");
    let report: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join(".kiln-report.json")).unwrap()).unwrap();
    assert_eq!(report["status"], "canceled");
    assert_eq!(report["jobs"][0]["status"], "canceled");
}

#[test]
fn a_second_ctrl_c_stops_at_once_without_waiting_for_after_script() {
    let marker = tempfile::tempdir().unwrap();
    let done = marker.path().join("after-script-finished");
    let ci = format!(
        "long:\n  script:\n    - echo started\n    - sleep 60\n  after_script:\n    - echo cleaning up\n    - sleep 3\n    - touch {}\n",
        done.display()
    );
    let dir = project(&[(".gitlab-ci.yml", &ci)]);
    let log = dir.path().join(".kiln-out.txt");
    let child = spawn(dir.path(), &log);
    wait_for_line(&log, "long > started");
    interrupt(&child);
    wait_for_line(&log, "long > cleaning up");
    interrupt(&child);
    assert_eq!(wait(child), Some(130));
    // The after_script was killed with the job: it never gets to its last line.
    std::thread::sleep(Duration::from_secs(5));
    assert!(!done.exists(), "{}", std::fs::read_to_string(&log).unwrap());
}

/// A project that is itself a shallow clone (`git clone --depth`) runs at a limited
/// depth and with the full history (`GIT_DEPTH: 0`): the snapshot carries the
/// clone's shallow boundary, so the job's fetch does not walk into missing parents.
#[test]
fn a_shallow_clone_of_a_project_runs_at_any_depth() {
    let upstream = project(&[(".gitlab-ci.yml", "history:\n  script:\n    - git log --oneline | wc -l\n")]);
    for i in 1..=4 {
        std::fs::write(upstream.path().join("n.txt"), format!("{i}\n")).unwrap();
        git(upstream.path(), &["add", "n.txt"]);
        git(upstream.path(), &["commit", "-q", "-m", &format!("commit {i}")]);
    }
    let clones = tempfile::tempdir().unwrap();
    let url = format!("file://{}", upstream.path().display());
    git(clones.path(), &["clone", "-q", "--depth", "2", &url, "shallow"]);
    let dir = clones.path().join("shallow");
    for depth in ["20", "1", "0"] {
        let out = kiln_exec(&dir, &["--variable", &format!("GIT_DEPTH={depth}")]);
        let output = text(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "GIT_DEPTH={depth}: {output}{}", text(&out.stderr));
        // The clone's two commits (one at depth 1), never the upstream's five.
        let seen = if depth == "1" { "1" } else { "2" };
        assert!(
            output.lines().any(|l| l.ends_with(&format!("| {seen}")) || l.ends_with(&format!(" {seen}"))),
            "GIT_DEPTH={depth}: {output}"
        );
    }
}
