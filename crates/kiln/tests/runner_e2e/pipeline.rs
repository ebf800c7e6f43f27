//! The main pipeline, on SQLite and PostgreSQL: a push runs build, test and deploy
//! with artifacts between them, a cache, a masked variable, an allowed failure by
//! exit code, a retry on `script_failure` and `after_script` after a failure; a second
//! pipeline (same project, `PHASE=two`) reuses the cache, has a job canceled through
//! the REST API while it runs and a job over its timeout.

use std::time::Duration;

use kiln_store::Backend;
use serde_json::json;

use crate::support::api::{job, job_states, pairs};
use crate::support::runner::{RunnerOptions, read_pid};
use crate::support::{RunnerProcess, ServerProcess, eventually, git_ok, process_alive, work_tree};

const SECRET: &str = "s3cr3tValue42xyz";

const PIPELINE: &str = r#"
stages: [build, test, deploy]

build:
  stage: build
  rules:
    - if: $PHASE != "two"
  script:
    - mkdir -p out
    - echo "built $CI_COMMIT_SHORT_SHA" > out/app.txt
  artifacts:
    paths: [out/]

unit:
  stage: test
  needs: [build]
  rules:
    - if: $PHASE != "two"
  script:
    - test "$(cat out/app.txt)" = "built $CI_COMMIT_SHORT_SHA"
    - mkdir -p report && echo "unit passed on $(cat out/app.txt)" > report/unit.txt
  artifacts:
    paths: [report/unit.txt]

fill-cache:
  stage: test
  rules:
    - if: $PHASE != "two"
  cache:
    key: deps-$CI_COMMIT_REF_SLUG
    paths: [vendor/]
  script:
    - mkdir -p vendor && echo "vendored in pipeline $CI_PIPELINE_ID" > vendor/stamp

secret:
  stage: test
  rules:
    - if: $PHASE != "two"
  script:
    - echo "the secret is $SECRET_TOKEN"

lint:
  stage: test
  rules:
    - if: $PHASE != "two"
  script:
    - echo "lint found warnings"
    - exit 3
  allow_failure:
    exit_codes: [3]

flaky:
  stage: test
  rules:
    - if: $PHASE != "two"
  retry:
    max: 2
    when: script_failure
  script:
    - |
      if [ ! -f "$MARKER_DIR/flaky-$CI_PIPELINE_ID" ]; then
        touch "$MARKER_DIR/flaky-$CI_PIPELINE_ID"
        echo "first attempt" "fails"
        exit 1
      fi
    - echo "second attempt" "passes"

broken:
  stage: test
  rules:
    - if: $PHASE != "two"
  allow_failure: true
  script:
    - echo "about to fail"
    - "false"
    - echo "never" "printed"
  after_script:
    - echo "after_script sees $CI_JOB_STATUS"

deploy:
  stage: deploy
  rules:
    - if: $PHASE != "two"
  dependencies: [build, unit]
  script:
    - cat out/app.txt report/unit.txt

read-cache:
  stage: test
  rules:
    - if: $PHASE == "two"
  variables:
    GIT_STRATEGY: clone
  cache:
    key: deps-$CI_COMMIT_REF_SLUG
    paths: [vendor/]
    policy: pull
  script:
    - cat vendor/stamp

cancel-me:
  stage: test
  rules:
    - if: $PHASE == "two"
  variables:
    GIT_STRATEGY: none
  script:
    - echo $$ > "$MARKER_DIR/cancel-shell.pid"
    - sleep 300 & echo $! > "$MARKER_DIR/cancel-child.pid"
    - while true; do echo tick; sleep 1; done
  after_script:
    - echo "after_script after cancel sees $CI_JOB_STATUS"

too-slow:
  stage: test
  rules:
    - if: $PHASE == "two"
  timeout: 5 sec
  variables:
    GIT_STRATEGY: none
  script:
    - echo "starting" "something long"
    - sleep 120
"#;

async fn main_pipeline(backend: Backend) {
    let server = ServerProcess::start(backend);
    let api = server.api();
    let project = api.create_project("app").await;
    let markers = tempfile::Builder::new().prefix("kiln-e2e-markers-").tempdir().unwrap();
    api.add_variable(project, "MARKER_DIR", &markers.path().display().to_string(), false).await;
    api.add_variable(project, "SECRET_TOKEN", SECRET, true).await;
    let (_, token) = server.runner_token("e2e runner").await;
    let _runner = RunnerProcess::start(&server.url, &token, &RunnerOptions::default());

    let work = server.dir.path().join("work");
    let sha = work_tree(&work, &[(".gitlab-ci.yml", PIPELINE)], "three stages");
    git_ok(&work, &["push", "--quiet", &server.git_url("root/app"), "main"]);
    let first = api.nth_pipeline(project, 1).await;
    let pipeline = api.wait_pipeline_done(project, first, Duration::from_secs(120)).await;
    let jobs = api.jobs(project, first).await;
    let described = api.describe(project, &jobs).await;
    assert_eq!(
        job_states(&jobs),
        pairs(&[
            ("broken", "failed"),
            ("build", "success"),
            ("deploy", "success"),
            ("fill-cache", "success"),
            ("flaky", "failed"),
            ("flaky", "success"),
            ("lint", "failed"),
            ("secret", "success"),
            ("unit", "success"),
        ]),
        "{described}"
    );
    // Failures that were allowed leave the pipeline passed, with warnings.
    assert_eq!(pipeline["status"], "success", "{pipeline}");
    assert_eq!(pipeline["detailed_status"]["group"], "success-with-warnings", "{pipeline}");
    for name in ["lint", "broken"] {
        assert_eq!(job(&jobs, name)["allow_failure"], true, "{name}");
        assert_eq!(job(&jobs, name)["failure_reason"], "script_failure", "{name}");
    }
    let log = |name: &str| api.trace(project, job(&jobs, name)["id"].as_i64().unwrap());
    let short = &sha[..8];

    // Artifacts: `unit` read the build's, `deploy` read both.
    assert!(log("unit").await.contains("Job succeeded"), "{}", log("unit").await);
    let deploy = log("deploy").await;
    assert!(deploy.contains(&format!("unit passed on built {short}")), "{deploy}");
    // Masking: the value never reaches the log.
    let secret = log("secret").await;
    assert!(secret.contains("the secret is [MASKED]"), "{secret}");
    assert!(!secret.contains(SECRET), "{secret}");
    // after_script runs after a failed script, and sees the failure.
    let broken = log("broken").await;
    assert!(broken.contains("about to fail") && !broken.contains("never printed"), "{broken}");
    assert!(broken.contains("after_script sees failed"), "{broken}");
    // The retry: the first attempt failed and was retried, the second passed.
    let flaky: Vec<_> = jobs.iter().filter(|j| j["name"] == "flaky").collect();
    let (old, new) = if flaky[0]["id"].as_i64() < flaky[1]["id"].as_i64() {
        (flaky[0], flaky[1])
    } else {
        (flaky[1], flaky[0])
    };
    assert_eq!((old["status"].as_str(), new["status"].as_str()), (Some("failed"), Some("success")));
    assert!(api.trace(project, old["id"].as_i64().unwrap()).await.contains("first attempt fails"));
    assert!(api.trace(project, new["id"].as_i64().unwrap()).await.contains("second attempt passes"));

    second_pipeline(&server, project, first, markers.path()).await;
}

/// Cache reuse, a cancel while running and a timeout.
async fn second_pipeline(server: &ServerProcess, project: i64, first: i64, markers: &std::path::Path) {
    let api = server.api();
    let body = json!({"ref": "main", "variables": [{"key": "PHASE", "value": "two"}]});
    let (status, created) = api.post(&format!("/projects/{project}/pipeline"), body).await;
    assert_eq!(status, 201, "{created}");
    let second = created["id"].as_i64().unwrap();

    // Cancel `cancel-me` once its script runs (its PID file is written).
    let shell_pid = eventually("cancel-me to start", Duration::from_secs(60), async || {
        read_pid(&markers.join("cancel-shell.pid")).ok_or_else(|| "no pid file yet".to_string())
    })
    .await;
    let child_pid = eventually("the child's pid", Duration::from_secs(10), async || {
        read_pid(&markers.join("cancel-child.pid")).ok_or_else(|| "no pid file yet".to_string())
    })
    .await;
    let jobs = api.jobs(project, second).await;
    let cancel_id = job(&jobs, "cancel-me")["id"].as_i64().unwrap();
    // Let it print a line or two first, so the log shows the job was live.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (status, canceled) =
        api.post(&format!("/projects/{project}/jobs/{cancel_id}/cancel"), json!({})).await;
    assert!(status.is_success(), "cancel: {status} {canceled}");

    let pipeline = api.wait_pipeline_done(project, second, Duration::from_secs(90)).await;
    let jobs = api.jobs(project, second).await;
    let described = api.describe(project, &jobs).await;
    assert_eq!(
        job_states(&jobs),
        pairs(&[("cancel-me", "canceled"), ("read-cache", "success"), ("too-slow", "failed")]),
        "{described}"
    );
    // A failed job outranks a canceled one in GitLab's composite status.
    assert_eq!(pipeline["status"], "failed", "{pipeline}");
    assert_eq!(job(&jobs, "too-slow")["failure_reason"], "job_execution_timeout");
    let slow = api.trace(project, job(&jobs, "too-slow")["id"].as_i64().unwrap()).await;
    assert!(slow.contains("starting something long"), "{slow}");

    let cached = api.trace(project, job(&jobs, "read-cache")["id"].as_i64().unwrap()).await;
    assert!(cached.contains(&format!("vendored in pipeline {first}")), "{cached}");

    let canceled = api.trace(project, cancel_id).await;
    assert!(canceled.contains("tick"), "{canceled}");
    assert!(canceled.contains("after_script after cancel sees canceled"), "{canceled}");
    for pid in [shell_pid, child_pid] {
        eventually("the canceled job's processes to be gone", Duration::from_secs(15), async || {
            if process_alive(pid) { Err(format!("pid {pid} still alive")) } else { Ok(()) }
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_on_sqlite() {
    main_pipeline(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_on_postgres() {
    main_pipeline(Backend::Postgres).await;
}
