//! `kiln runner` with the Docker executor as a user sets it up: `register --executor
//! docker --docker-image ...` writes `[runners.docker]`, and `kiln runner run` with that
//! configuration runs a job in the image against a coordinator on loopback, with the
//! `kiln` binary itself as the helper of the host-side stages (artifacts). `kiln exec`
//! runs a job with an image in a container (leaving nothing of it behind), Ctrl-C
//! cancels it with its `after_script` and removes its container, and with `--executor
//! docker` but no engine it exits 2 saying why. Needs the Docker engine (scripts/test starts it).

#[path = "../../kiln-runner/tests/support/mod.rs"]
mod coord;

use std::path::Path;
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use axum::routing::post;
use kiln_executor_docker::testing::{busybox_image, engine, leftovers};

const TOKEN: &str = "glrt-dkrkiln01";
const SHORT: &str = "dkrkiln01";

fn kiln(config: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kiln"));
    c.arg("runner").arg("-c").arg(config);
    // The flags are under test, not the environment they also read.
    for var in ["DOCKER_IMAGE", "DOCKER_PRIVILEGED", "DOCKER_VOLUMES", "DOCKER_PULL_POLICY", "DOCKER_HOST"] {
        c.env_remove(var);
    }
    c
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// A coordinator that only knows `POST /runners/verify` (authentication-token registration).
async fn verify_only() -> String {
    let app = axum::Router::new().route(
        "/api/v4/runners/verify",
        post(|| async {
            axum::Json(serde_json::json!({ "id": 31, "token": TOKEN, "token_expires_at": null }))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// Stops `kiln runner run` when the test ends, also on a failed assertion.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_docker_runner_runs_a_job_in_its_default_image() {
    let docker = engine().await;
    let image = busybox_image(&docker).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    let data = tempfile::tempdir().unwrap();
    let volume = format!("{}:/data", data.path().display());

    let register_url = verify_only().await;
    let out = tokio::task::spawn_blocking({
        let (config, image, volume, register_url) =
            (config.clone(), image.clone(), volume.clone(), register_url.clone());
        move || {
            kiln(&config)
                .args(["register", "--non-interactive", "--url", &register_url, "--token", TOKEN])
                .args(["--name", "dockerized", "--executor", "docker", "--docker-image", &image])
                .args(["--docker-pull-policy", "never", "--docker-volumes", &volume])
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let written = std::fs::read_to_string(&config).unwrap();
    assert!(written.contains("[runners.docker]"), "{written}");
    let loaded: toml::Table = toml::from_str(&written).unwrap();
    let docker_table = loaded["runners"][0]["docker"].as_table().unwrap();
    assert_eq!(docker_table["image"].as_str(), Some(image.as_str()), "{written}");
    assert_eq!(docker_table["pull_policy"].as_array().unwrap()[0].as_str(), Some("never"), "{written}");
    let list = kiln(&config).arg("list").output().unwrap();
    assert!(text(&list).contains("Executor=docker"), "{}", text(&list));

    // The same configuration, pointed at a coordinator that hands out a job without
    // `image:`, so the runner's default image is used.
    let (coord, url) = coord::start().await;
    std::fs::write(&config, written.replace(&register_url, &url)).unwrap();
    let mut j = coord::job(
        61,
        &["mkdir -p out", "echo made-in-busybox > out/bin.txt", "echo to-the-volume > /data/v.txt"],
    );
    j.token = "glcbt-job61token".into();
    j.artifacts = Some(vec![kiln_api::JobArtifact {
        name: "bin".into(),
        paths: vec!["out/**".into()],
        artifact_type: "archive".into(),
        ..Default::default()
    }]);
    coord.lock().unwrap().queue.push_back(j);
    let work = tempfile::tempdir().unwrap();
    let run = Running(kiln(&config).arg("run").arg("-d").arg(work.path()).spawn().unwrap());
    let started = Instant::now();
    while !coord.lock().unwrap().finals.contains_key(&61) {
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "no final update: {}",
            coord::trace_of(&coord, 61)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(run);
    let log = coord::trace_of(&coord, 61);
    let state = coord.lock().unwrap().finals[&61].state.clone();
    assert_eq!(state, kiln_api::JobState::Success, "{log}");
    assert!(log.contains(&format!("Using Docker executor with image {image} ...")), "{log}");
    assert!(log.contains("$ echo made-in-busybox > out/bin.txt"), "{log}");
    assert!(log.contains("Uploading artifacts"), "{log}");
    assert_eq!(std::fs::read_to_string(data.path().join("v.txt")).unwrap(), "to-the-volume\n");
    let artifacts = coord.lock().unwrap().artifacts.get(&61).cloned().unwrap_or_default();
    assert_eq!(artifacts.len(), 1, "{log}");
    assert_eq!(artifacts[0].0, "bin.zip", "{log}");
    let (containers, networks) = leftovers(&docker, SHORT).await;
    assert!(containers.is_empty() && networks.is_empty(), "left: {containers:?} {networks:?}");
}

#[test]
fn registering_a_docker_runner_needs_an_image() {
    let dir = tempfile::tempdir().unwrap();
    let out = kiln(&dir.path().join("config.toml"))
        .args(["register", "--non-interactive", "--url", "http://127.0.0.1:9", "--token", TOKEN])
        .args(["--name", "no-image", "--executor", "docker"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(text(&out).contains("missing --docker-image"), "{}", text(&out));
    let written = std::fs::read_to_string(dir.path().join("config.toml")).unwrap_or_default();
    assert!(!written.contains("no-image"), "{written}");
}

/// A committed project whose pipeline has a job with an image.
fn exec_project() -> tempfile::TempDir {
    exec_project_with(
        "in-image:\n  image: kiln-test/busybox:1\n  script:\n    - if command -v git; then exit 1; fi\n",
    )
}

/// A committed project with this pipeline.
fn exec_project_with(pipeline: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        let out = Command::new("git").args(args).current_dir(dir.path()).output().unwrap();
        assert!(out.status.success(), "git {args:?}: {}", text(&out));
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["config", "user.email", "dev@example.com"]);
    git(&["config", "user.name", "Dev"]);
    std::fs::write(dir.path().join(".gitlab-ci.yml"), pipeline).unwrap();
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "first"]);
    dir
}

fn kiln_exec(dir: &Path, docker_host: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kiln"))
        .arg("exec")
        .args(args)
        .current_dir(dir)
        .env("DOCKER_HOST", docker_host)
        .output()
        .unwrap()
}

#[test]
fn kiln_exec_with_docker_and_no_engine_exits_2_and_says_why() {
    let dir = exec_project();
    let nowhere = format!("unix://{}", dir.path().join("no-docker.sock").display());
    let out = kiln_exec(dir.path(), &nowhere, &["--executor", "docker"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("--executor docker: Cannot connect to the Docker daemon at {nowhere}")),
        "{}",
        text(&out)
    );
    // Without --executor the job runs on this machine, and kiln exec says so.
    let out = kiln_exec(dir.path(), &nowhere, &[]);
    assert!(text(&out).contains("note: jobs with `image:` run on the shell executor"), "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kiln_exec_runs_a_job_with_an_image_in_a_container() {
    let docker = engine().await;
    busybox_image(&docker).await;
    let dir = exec_project();
    let host = kiln_executor_docker::engine::engine_host(None);
    // The system's temporary directory is outside `.kiln/`: nothing may land there.
    let tmp = tempfile::tempdir().unwrap();
    let out = tokio::task::spawn_blocking({
        let (path, tmp) = (dir.path().to_path_buf(), tmp.path().to_path_buf());
        move || {
            Command::new(env!("CARGO_BIN_EXE_kiln"))
                .args(["exec", "--report", "report.json"])
                .current_dir(&path)
                .env("DOCKER_HOST", &host)
                .env("TMPDIR", &tmp)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("Using Docker executor with image kiln-test/busybox:1"), "{}", text(&out));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(report["jobs"][0]["status"], "success", "{report}");
    // The job's host directory went with the job.
    let left: Vec<_> = std::fs::read_dir(dir.path().join(".kiln/builds-docker")).unwrap().collect();
    assert!(left.is_empty(), "left in .kiln/builds-docker: {left:?}");
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(left.is_empty(), "written to TMPDIR: {left:?}");
}

const SLEEPER: &str = r#"
sleeper:
  image: kiln-test/busybox:1
  script:
    - echo "sleeper" "started"
    - sleep 300
  after_script:
    - echo "after_script saw" "$CI_JOB_STATUS"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_cancels_a_container_job_with_its_after_script_and_removes_the_container() {
    let docker = engine().await;
    busybox_image(&docker).await;
    let dir = exec_project_with(SLEEPER);
    let log = dir.path().join(".kiln-exec.log");
    let file = std::fs::File::create(&log).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .arg("exec")
        .current_dir(dir.path())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .unwrap();
    let read = || std::fs::read_to_string(&log).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !read().contains("sleeper started") {
        assert!(Instant::now() < deadline, "the job never started:\n{}", read());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("kiln exec did not stop:\n{}", read());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let out = read();
    assert_eq!(code, Some(130), "{out}");
    assert!(out.contains("after_script saw canceled"), "{out}");
    // The runner's short token names its containers: `on kiln-exec <short>,`.
    let short = out
        .split("on kiln-exec ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap_or_else(|| panic!("no runner line:\n{out}"));
    let (containers, networks) = leftovers(&docker, short).await;
    assert!(containers.is_empty() && networks.is_empty(), "left: {containers:?} {networks:?}");
}
