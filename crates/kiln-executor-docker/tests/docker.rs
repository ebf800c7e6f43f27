//! The Docker executor against the real engine, through the real runner loop and the
//! in-test coordinator: jobs in a locally imported busybox image, services by alias,
//! after_script after a failure, cancel and timeout leaving nothing behind, ten jobs at
//! once kept apart, and an engine that does not answer.

mod support;

use std::time::{Duration, Instant};

use kiln_executor_docker::testing::{busybox_image, engine, service_image};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_runs_in_its_image_with_the_project_mounted_and_nothing_survives() {
    let docker = engine().await;
    let image = busybox_image(&docker).await;
    let (coord, url) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let short = "dkrbasic1";
    let data = tempfile::tempdir().unwrap();
    let settings = format!(
        "extra_hosts = [\"kiln-extra.test:10.1.2.3\"]\nvolumes = [\"{}:/data\"]\nmemory = \"64m\"\n",
        data.path().display()
    );
    let mut j = job(
        11,
        &image,
        &[
            "echo \"project=$CI_PROJECT_DIR builds=$CI_BUILDS_DIR job=$CI_JOB_ID pwd=$(pwd)\"",
            "echo \"host=$(hostname)\"",
            "grep kiln-extra.test /etc/hosts",
            "echo \"memory=$(cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes)\"",
            "echo made-in-container > built.txt",
            "echo from-the-job > /data/out.txt",
            "export",
        ],
    );
    j.variables.push(kiln_api::JobVariable::public("GREETING", "hello $CI_JOB_ID"));
    after_script(&mut j, &["cat built.txt", "echo \"after status=$CI_JOB_STATUS\""]);
    coord.lock().unwrap().queue.push_back(j);
    let reports = run_jobs(runner(&url, short, &settings), 1, dir.path(), 1).await;
    let log = trace_of(&coord, 11);
    assert!(reports[0].outcome.as_ref().unwrap().succeeded, "{log}");
    assert!(log.contains("Preparing the \"docker\" executor"), "{log}");
    assert!(log.contains(&format!("Using Docker executor with image {image} ...")), "{log}");
    assert!(log.contains("Running on runner-dkrbasic1-project-7-concurrent-0..."), "{log}");
    assert!(
        log.contains("project=/builds/acme/widget builds=/builds job=11 pwd=/builds/acme/widget"),
        "{log}"
    );
    assert!(log.contains("host=runner-dkrbasic1-project-7-concurrent-0"), "{log}");
    assert!(log.contains("10.1.2.3\tkiln-extra.test") || log.contains("10.1.2.3 kiln-extra.test"), "{log}");
    assert!(log.contains(&format!("memory={}", 64 * 1024 * 1024)), "{log}");
    assert!(log.contains("GREETING='hello 11'") || log.contains("GREETING=\"hello 11\""), "{log}");
    assert!(log.contains("\nmade-in-container\n"), "after_script sees the step's files: {log}");
    assert!(log.contains("after status=success"), "{log}");
    assert_eq!(std::fs::read_to_string(data.path().join("out.txt")).unwrap(), "from-the-job\n");
    // GIT_STRATEGY none gets a temporary build directory, gone with the job.
    let builds = dir.path().join("builds-docker");
    let left: Vec<_> =
        std::fs::read_dir(&builds).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
    assert_nothing_left(&docker, short).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_answer_by_alias_and_by_their_image_name() {
    let docker = engine().await;
    let image = busybox_image(&docker).await;
    let service = service_image(&docker, 8080).await;
    let (coord, url) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let short = "dkrsvc001";
    let mut j = job(
        12,
        &image,
        &[
            // The service answers one connection at a time (`nc -l` in a loop), so a
            // connection made before it listens again is retried.
            "for i in $(seq 50); do nc echo-svc 8080 </dev/null && break; sleep 0.1; done",
            "for i in $(seq 50); do nc other-alias 8080 </dev/null && break; sleep 0.1; done",
            "for i in $(seq 50); do nc kiln-test__netcat 8080 </dev/null && break; sleep 0.1; done",
            "for i in $(seq 50); do nc kiln-test-netcat 8080 </dev/null && break; sleep 0.1; done",
        ],
    );
    j.services = vec![kiln_api::job::Service {
        name: service.clone(),
        alias: Some("echo-svc, other-alias".into()),
        pull_policy: Some(vec!["if-not-present".into()]),
        variables: vec![kiln_api::job::ServiceVariable {
            key: "GREETING".into(),
            value: "from-$CI_JOB_ID".into(),
        }],
        ..Default::default()
    }];
    coord.lock().unwrap().queue.push_back(j);
    let reports = run_jobs(runner(&url, short, ""), 1, dir.path(), 1).await;
    let log = trace_of(&coord, 12);
    assert!(reports[0].outcome.as_ref().unwrap().succeeded, "{log}");
    assert!(log.contains("Starting service kiln-test/netcat:8080 ..."), "{log}");
    assert!(log.contains("Using locally found image version due to \"if-not-present\" pull policy"), "{log}");
    assert!(log.contains("Waiting for services to be up and running (timeout 30 seconds)..."), "{log}");
    assert!(!log.contains("probably didn't start properly"), "{log}");
    assert_eq!(log.matches("hello from ").count(), 4, "{log}");
    assert!(log.contains("from-12"), "service variables are expanded: {log}");
    assert_nothing_left(&docker, short).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_without_ports_is_a_warning_with_its_log() {
    let docker = engine().await;
    let image = busybox_image(&docker).await;
    let (coord, url) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let short = "dkrsvc002";
    let mut j = job(13, &image, &["echo job ran"]);
    j.services = vec![kiln_api::job::Service {
        name: image.clone(),
        alias: Some("quiet".into()),
        // Imported locally: the runner's default policy (`always`) would ask a registry.
        pull_policy: Some(vec!["never".into()]),
        command: Some(vec!["sh".into(), "-c".into(), "echo service says hi; sleep 60".into()]),
        ..Default::default()
    }];
    coord.lock().unwrap().queue.push_back(j);
    let reports = run_jobs(runner(&url, short, "wait_for_services_timeout = 2"), 1, dir.path(), 1).await;
    let log = trace_of(&coord, 13);
    assert!(reports[0].outcome.as_ref().unwrap().succeeded, "{log}");
    assert!(log.contains("*** WARNING:\x1b[0;m Service runner-dkrsvc002-project-7-concurrent-0-"), "{log}");
    assert!(log.contains("probably didn't start properly."), "{log}");
    assert!(log.contains("has no exposed ports"), "{log}");
    assert!(log.contains("service says hi"), "the service's log is shown: {log}");
    assert!(log.contains("job ran"), "{log}");
    assert_nothing_left(&docker, short).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_script_runs_in_the_container_after_a_failure() {
    let docker = engine().await;
    let image = busybox_image(&docker).await;
    let (coord, url) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let short = "dkrafter1";
    let mut j = job(14, &image, &["echo before > state.txt", "exit 42", "echo never"]);
    after_script(&mut j, &["echo \"after status=$CI_JOB_STATUS in $(hostname) saw $(cat state.txt)\""]);
    coord.lock().unwrap().queue.push_back(j);
    let reports = run_jobs(runner(&url, short, ""), 1, dir.path(), 1).await;
    let log = trace_of(&coord, 14);
    let outcome = reports[0].outcome.clone().unwrap();
    assert!(!outcome.succeeded);
    assert_eq!(outcome.exit_code, Some(42), "{log}");
    assert!(
        log.contains("after status=failed in runner-dkrafter1-project-7-concurrent-0 saw before"),
        "{log}"
    );
    assert!(!log.contains("\nnever\n"), "{log}");
    assert!(log.contains("ERROR: Job failed: exit code 42"), "{log}");
    assert_eq!(final_reason(&coord, 14).as_deref(), Some("script_failure"));
    assert_nothing_left(&docker, short).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_canceled_while_running_leaves_no_container() {
    let docker = engine().await;
    let image = busybox_image(&docker).await;
    let (coord, url) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let short = "dkrcancel";
    let j = job(15, &image, &["echo sleeping-now", "sleep 300", "echo woke"]);
    {
        let mut c = coord.lock().unwrap();
        c.cancel_on.insert(15, ("sleeping-now\n".into(), "canceled".into()));
        c.queue.push_back(j);
    }
    let started = Instant::now();
    let reports = run_jobs(runner(&url, short, ""), 1, dir.path(), 1).await;
    let log = trace_of(&coord, 15);
    assert!(!reports[0].outcome.as_ref().unwrap().succeeded, "{log}");
    assert!(!log.contains("woke"), "{log}");
    assert!(started.elapsed() < Duration::from_secs(60), "canceled in {:?}", started.elapsed());
    assert_nothing_left(&docker, short).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_timeout_stops_the_script_and_removes_everything() {
    let docker = engine().await;
    let image = busybox_image(&docker).await;
    let (coord, url) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let short = "dkrtimeou";
    let mut j = job(16, &image, &["echo started", "sleep 300", "echo finished"]);
    j.runner_info.timeout = 5;
    coord.lock().unwrap().queue.push_back(j);
    let started = Instant::now();
    let reports = run_jobs(runner(&url, short, ""), 1, dir.path(), 1).await;
    let log = trace_of(&coord, 16);
    assert!(log.contains("started"), "{log}");
    assert!(!log.contains("finished"), "{log}");
    assert!(log.contains("ERROR: Job failed: execution took longer than 5s seconds"), "{log}");
    assert_eq!(final_reason(&coord, 16).as_deref(), Some("job_execution_timeout"));
    assert!(reports[0].duration < Duration::from_secs(60), "{:?}", started.elapsed());
    assert_nothing_left(&docker, short).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_jobs_in_parallel_are_isolated_from_each_other() {
    let docker = engine().await;
    let image = busybox_image(&docker).await;
    let (coord, url) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let short = "dkrpar010";
    for id in 100..110 {
        let j = job(
            id,
            &image,
            &[
                "echo $CI_JOB_ID > mine.txt",
                "ls /builds/acme",
                "sleep 2",
                "test \"$(cat mine.txt)\" = \"$CI_JOB_ID\"",
                "touch /tmp/marker-$CI_JOB_ID",
                "test \"$(ls /tmp | grep -c marker)\" = 1",
                "echo \"isolated $CI_JOB_ID on $(hostname)\"",
            ],
        );
        coord.lock().unwrap().queue.push_back(j);
    }
    let reports = run_jobs(runner(&url, short, ""), 10, dir.path(), 10).await;
    assert_eq!(reports.len(), 10);
    let mut hosts = std::collections::BTreeSet::new();
    for r in &reports {
        let log = trace_of(&coord, r.id);
        assert!(r.outcome.as_ref().unwrap().succeeded, "job {}: {log}", r.id);
        let line = log.lines().find(|l| l.starts_with(&format!("isolated {} on ", r.id))).unwrap();
        hosts.insert(line.rsplit(' ').next().unwrap().to_string());
    }
    assert_eq!(hosts.len(), 10, "each job has its own concurrency slot: {hosts:?}");
    assert_nothing_left(&docker, short).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_engine_is_a_system_failure_that_says_where_it_looked() {
    let (coord, url) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("no-engine.sock");
    let settings = format!("host = \"unix://{}\"", socket.display());
    coord.lock().unwrap().queue.push_back(job(17, "kiln-test/busybox:1", &["echo never"]));
    let reports = run_jobs(runner(&url, "dkrnoengi", &settings), 1, dir.path(), 1).await;
    let log = trace_of(&coord, 17);
    assert!(!reports[0].outcome.as_ref().unwrap().succeeded, "{log}");
    assert!(
        log.contains(&format!(
            "ERROR: Job failed (system failure): Cannot connect to the Docker daemon at unix://{}. Is the docker daemon running?",
            socket.display()
        )),
        "{log}"
    );
    assert!(!log.contains("$ echo never"), "{log}");
    assert_eq!(final_reason(&coord, 17).as_deref(), Some("runner_system_failure"));
}
