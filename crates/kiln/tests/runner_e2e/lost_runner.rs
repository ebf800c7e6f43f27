//! A runner SIGKILLed in the middle of a job: the server stops hearing from it,
//! fails the job with `runner_system_failure` after `running_no_update_timeout`
//! (set short through the server's TOML file), and the retry runs on another runner.

use std::time::Duration;

use kiln_store::Backend;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::{Pid, getpgid};

use crate::support::api::{job, job_states, pairs};
use crate::support::runner::{RunnerOptions, read_pid};
use crate::support::server::ServerOptions;
use crate::support::{RunnerProcess, ServerProcess, eventually, git_ok, work_tree};

const PIPELINE: &str = r#"
victim:
  retry:
    max: 1
    when: runner_system_failure
  variables:
    GIT_STRATEGY: none
  script:
    - echo "picked up by" "$CI_RUNNER_DESCRIPTION"
    - |
      if [ ! -f "$MARKER_DIR/victim.pid" ]; then
        echo $$ > "$MARKER_DIR/victim.pid"
        while true; do echo working; sleep 1; done
      fi
    - echo "the retry" "finished"
"#;

/// Seconds without an update after which the server gives up on a running job.
const NO_UPDATE_TIMEOUT: u64 = 90;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_runner_fails_the_job_and_the_retry_runs_elsewhere() {
    let options = ServerOptions { limits: vec![("running_no_update_timeout".into(), NO_UPDATE_TIMEOUT)] };
    let server = ServerProcess::start_with(Backend::Sqlite, &options);
    let api = server.api();
    let project = api.create_project("lost").await;
    let markers = tempfile::Builder::new().prefix("kiln-e2e-markers-").tempdir().unwrap();
    api.add_variable(project, "MARKER_DIR", &markers.path().display().to_string(), false).await;
    let (_, token_a) = server.runner_token("runner-a").await;
    let (_, token_b) = server.runner_token("runner-b").await;
    let mut runner_a = RunnerProcess::start(
        &server.url,
        &token_a,
        &RunnerOptions { name: "runner-a".into(), ..RunnerOptions::default() },
    );

    let work = server.dir.path().join("work");
    work_tree(&work, &[(".gitlab-ci.yml", PIPELINE)], "a long job");
    git_ok(&work, &["push", "--quiet", &server.git_url("root/lost"), "main"]);
    let pipeline = api.nth_pipeline(project, 1).await;
    let pid = eventually("the job to start on runner A", Duration::from_secs(60), async || {
        read_pid(&markers.path().join("victim.pid")).ok_or_else(|| "no pid file yet".to_string())
    })
    .await;
    // Kill it once its log has reached the server, so the log shows where it ran.
    let first = api.jobs(project, pipeline).await[0]["id"].as_i64().unwrap();
    eventually("runner A to stream the log", Duration::from_secs(30), async || {
        let log = api.trace(project, first).await;
        if log.contains("picked up by runner-a") { Ok(()) } else { Err(log) }
    })
    .await;
    runner_a.kill();
    // A machine that dies takes its jobs with it; here the job's process group
    // outlives the runner, so end it as the crash would have.
    if let Ok(group) = getpgid(Some(Pid::from_raw(pid)))
        && group != getpgid(None).unwrap()
    {
        let _ = killpg(group, Signal::SIGKILL);
    }
    let _runner_b = RunnerProcess::start(
        &server.url,
        &token_b,
        &RunnerOptions { name: "runner-b".into(), ..RunnerOptions::default() },
    );

    let done = api.wait_pipeline_done(project, pipeline, Duration::from_secs(NO_UPDATE_TIMEOUT + 60)).await;
    let jobs = api.jobs(project, pipeline).await;
    let described = api.describe(project, &jobs).await;
    assert_eq!(job_states(&jobs), pairs(&[("victim", "failed"), ("victim", "success")]), "{described}");
    assert_eq!(done["status"], "success", "{done}");
    let lost = jobs.iter().find(|j| j["status"] == "failed").unwrap();
    assert_eq!(lost["failure_reason"], "runner_system_failure", "{lost}");
    let first_log = api.trace(project, lost["id"].as_i64().unwrap()).await;
    assert!(first_log.contains("picked up by runner-a"), "{first_log}");
    let retry_log = api.trace(project, job(&jobs, "victim")["id"].as_i64().unwrap()).await;
    assert!(retry_log.contains("picked up by runner-b"), "{retry_log}");
    assert!(retry_log.contains("the retry finished"), "{retry_log}");
}
