//! `kiln up` as a new user runs it: on a temporary data directory and a free port it
//! prints where it is and how to push; the demo pipeline passes with its manual job
//! left manual; a project pushed with the printed command runs green; Ctrl-C stops it
//! cleanly, and a restart keeps everything (no second demo, the same runner). With
//! `--on-stop cancel`, Ctrl-C cancels a running job: its `after_script` runs and it
//! ends `canceled`. With a Docker engine, a pushed job with an `image:` runs in a
//! container and one without on this machine (skipped without an engine, except under
//! `CI=true`, where scripts/test starts one).

#[path = "support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::api::{job_states, pairs};
use support::{Api, git, work_tree};

/// A running `kiln up` and the lines it printed.
struct Up {
    child: Child,
    lines: mpsc::Receiver<String>,
    printed: Vec<String>,
}

impl Up {
    fn start(data_dir: &Path, port: u16) -> Up {
        Up::start_with(data_dir, port, &[])
    }

    fn start_with(data_dir: &Path, port: u16, extra: &[&str]) -> Up {
        let mut child = Command::new(support::kiln_bin())
            .arg("up")
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--concurrent")
            .arg("4")
            .args(extra)
            .env("HOME", data_dir.parent().unwrap())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(data_dir.with_extension("stderr.log")).unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Up { child, lines, printed: Vec::new() }
    }

    /// Waits for a printed line starting with `prefix` (after trimming).
    fn wait_line(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        if let Some(l) = self.printed.iter().find(|l| l.trim_start().starts_with(prefix)) {
            return l.trim().to_string();
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = line.trim_start().starts_with(prefix);
                    self.printed.push(line.clone());
                    if found {
                        return line.trim().to_string();
                    }
                }
                Err(_) => {
                    panic!("kiln up did not print `{prefix}`; it printed:\n{}", self.printed.join("\n"))
                }
            }
        }
    }

    /// Ctrl-C, then the exit status.
    fn interrupt(mut self) -> std::process::ExitStatus {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).unwrap());
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "kiln up did not stop after Ctrl-C");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn value_after(line: &str, label: &str) -> String {
    line.trim().strip_prefix(label).unwrap_or_else(|| panic!("`{label}` in `{line}`")).trim().to_string()
}

async fn wait_pipeline(api: &Api, project: &str, what: &str) -> (Value, Vec<Value>) {
    let id = project.replace('/', "%2F");
    let pipeline = api.nth_pipeline(&id, 1).await;
    let done = api.wait_pipeline_done(&id, pipeline, Duration::from_secs(120)).await;
    assert!(done["status"].is_string(), "{what}: {done}");
    (done, api.jobs(&id, pipeline).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_runs_the_demo_and_a_pushed_project_and_keeps_them() {
    let home = tempfile::Builder::new().prefix("kiln-up-").tempdir().unwrap();
    let data_dir = home.path().join("data");
    let port = kiln_store::testing::free_port().unwrap();
    let mut up = Up::start(&data_dir, port);
    let url = format!("http://127.0.0.1:{port}");
    assert!(up.wait_line("Kiln is up at").contains(&url));
    let token = value_after(&up.wait_line("API token:"), "API token:");
    assert!(token.starts_with("glpat-"), "{token}");
    let push = up.wait_line("git push ");
    let api = Api::new(&url, Some(&token));

    // The demo: three stages, needs and artifacts pass; the manual deploy waits.
    let (demo, jobs) = wait_pipeline(&api, "root/demo", "the demo pipeline").await;
    let described = api.describe("root%2Fdemo", &jobs).await;
    assert_eq!(
        job_states(&jobs),
        pairs(&[("build", "success"), ("deploy", "manual"), ("lint", "success"), ("unit-tests", "success")]),
        "{described}"
    );
    assert_eq!(demo["status"], "success", "{demo}");

    // The user's own project, pushed with exactly the printed command.
    let work = home.path().join("mine");
    work_tree(&work, &[(".gitlab-ci.yml", "hello:\n  script: echo \"hello from\" \"my project\"\n")], "mine");
    let args: Vec<&str> = push.split_whitespace().collect();
    assert_eq!(args[..2], ["git", "push"], "{push}");
    let out = git(&work, &args[1..]);
    assert!(out.status.success(), "{push}: {}", String::from_utf8_lossy(&out.stderr));
    let (mine, jobs) = wait_pipeline(&api, "root/my-project", "the pushed project's pipeline").await;
    let described = api.describe("root%2Fmy-project", &jobs).await;
    assert_eq!(mine["status"], "success", "{mine}\n{described}");
    let hello = jobs[0]["id"].as_i64().unwrap();
    let (_, log) = api.text(&format!("/projects/root%2Fmy-project/jobs/{hello}/trace")).await;
    assert!(log.contains("hello from my project"), "{log}");
    let runner_ids = || async {
        let (status, runners) = api.get("/runners/all").await;
        assert_eq!(status, 200, "{runners}");
        let mut ids: Vec<i64> = runners.as_array().unwrap().iter().filter_map(|r| r["id"].as_i64()).collect();
        ids.sort_unstable();
        ids
    };
    let runners = runner_ids().await;
    assert_eq!(runners.len(), 1, "one runner: {runners:?}");

    let status = up.interrupt();
    assert!(status.success(), "kiln up exited with {status}");

    // Restart: the same data, no second demo, the same runner.
    let mut up = Up::start(&data_dir, port);
    up.wait_line("Kiln is up at");
    up.wait_line("git push ");
    let (_, projects) = api.get("/projects?per_page=100").await;
    let mut paths: Vec<&str> =
        projects.as_array().unwrap().iter().filter_map(|p| p["path_with_namespace"].as_str()).collect();
    paths.sort_unstable();
    assert_eq!(paths, ["root/demo", "root/my-project"]);
    let (_, pipelines) = api.get("/projects/root%2Fdemo/pipelines").await;
    assert_eq!(pipelines.as_array().unwrap().len(), 1, "{pipelines}");
    assert_eq!(runner_ids().await, runners, "the runner list changed on restart");
    // The restarted runner still runs jobs.
    support::commit(&work, &[("README.md", "again\n")], "again");
    let out = git(&work, &args[1..]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let id = "root%2Fmy-project";
    let second = api.nth_pipeline(id, 2).await;
    let done = api.wait_pipeline_done(id, second, Duration::from_secs(120)).await;
    assert_eq!(done["status"], "success", "{done}");
    assert!(up.interrupt().success());
}

const LONG_JOB: &str = r#"
long:
  variables:
    GIT_STRATEGY: none
  script:
    - echo "long job" "started"
    - sleep 300
  after_script:
    - echo "cleaning up after" "$CI_JOB_STATUS"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_with_on_stop_cancel_cancels_running_jobs() {
    let home = tempfile::Builder::new().prefix("kiln-up-").tempdir().unwrap();
    let data_dir = home.path().join("data");
    let port = kiln_store::testing::free_port().unwrap();
    let mut up = Up::start_with(&data_dir, port, &["--on-stop", "cancel"]);
    let url = format!("http://127.0.0.1:{port}");
    let token = value_after(&up.wait_line("API token:"), "API token:");
    let push = up.wait_line("git push ");
    let api = Api::new(&url, Some(&token));
    let work = home.path().join("mine");
    work_tree(&work, &[(".gitlab-ci.yml", LONG_JOB)], "a long job");
    let args: Vec<&str> = push.split_whitespace().collect();
    let out = git(&work, &args[1..]);
    assert!(out.status.success(), "{push}: {}", String::from_utf8_lossy(&out.stderr));
    let id = "root%2Fmy-project";
    let pipeline = api.nth_pipeline(id, 1).await;
    let job = support::eventually("the long job to start", Duration::from_secs(60), async || {
        let jobs = api.jobs(id, pipeline).await;
        let Some(job) = jobs.first().and_then(|j| j["id"].as_i64()) else { return Err("no job".into()) };
        let log = api.trace(id, job).await;
        if log.contains("long job started") { Ok(job) } else { Err(log) }
    })
    .await;

    let status = up.interrupt();
    assert!(status.success(), "kiln up exited with {status}");
    let mut up = Up::start(&data_dir, port);
    up.wait_line("Kiln is up at");
    let (_, after) = api.get(&format!("/projects/{id}/jobs/{job}")).await;
    assert_eq!(after["status"], "canceled", "{after}");
    let log = api.trace(id, job).await;
    assert!(log.contains("cleaning up after canceled"), "{log}");
}

const IMAGE_JOBS: &str = r#"
in-container:
  image: kiln-test/busybox:1
  script:
    - if command -v git; then exit 1; fi
    - test "$CI_PROJECT_DIR" = /builds/root/my-project
    - echo "ran in" "the image"
on-host:
  script:
    - command -v git
    - echo "ran on" "this machine"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_docker_a_job_with_an_image_runs_in_a_container() {
    let host = kiln_executor_docker::engine::engine_host(None);
    if let Err(e) = kiln_executor_docker::engine::reachable(&host, Duration::from_secs(10)).await {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true and no Docker engine answers: {e}");
        let note = format!("skipped: no Docker engine answers ({e})\n");
        let _ = std::io::Write::write_all(&mut std::io::stderr(), note.as_bytes());
        return;
    }
    let engine = kiln_executor_docker::testing::engine().await;
    kiln_executor_docker::testing::busybox_image(&engine).await;
    let home = tempfile::Builder::new().prefix("kiln-up-").tempdir().unwrap();
    let data_dir = home.path().join("data");
    let port = kiln_store::testing::free_port().unwrap();
    let mut up = Up::start(&data_dir, port);
    let url = format!("http://127.0.0.1:{port}");
    let docker = up.wait_line("Docker:");
    assert!(docker.contains("jobs with an image run in containers"), "{docker}");
    let token = value_after(&up.wait_line("API token:"), "API token:");
    let push = up.wait_line("git push ");
    let api = Api::new(&url, Some(&token));
    let work = home.path().join("mine");
    work_tree(&work, &[(".gitlab-ci.yml", IMAGE_JOBS)], "jobs with and without an image");
    let args: Vec<&str> = push.split_whitespace().collect();
    let out = git(&work, &args[1..]);
    assert!(out.status.success(), "{push}: {}", String::from_utf8_lossy(&out.stderr));
    let (done, jobs) = wait_pipeline(&api, "root/my-project", "the pushed pipeline").await;
    let described = api.describe("root%2Fmy-project", &jobs).await;
    assert_eq!(done["status"], "success", "{done}\n{described}");
    for job in &jobs {
        let log = api.trace("root%2Fmy-project", job["id"].as_i64().unwrap()).await;
        match job["name"].as_str() {
            Some("in-container") => {
                assert!(log.contains("Using Docker executor with image kiln-test/busybox:1"), "{log}");
                assert!(log.contains("ran in the image"), "{log}");
            }
            Some("on-host") => assert!(log.contains("ran on this machine"), "{log}"),
            other => panic!("unexpected job {other:?}"),
        }
    }
    assert!(up.interrupt().success());
}
