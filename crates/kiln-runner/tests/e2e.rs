//! End to end against an in-test coordinator on loopback: the real poll loop, trace
//! streaming, the shell executor and the helper binary.

mod support;

/// `YYYY-mm-ddTHH:MM:SS.uuuuuuZ <2 hex><O|E><' '|'+'>`.
fn regex_lite_prefix() -> impl Fn(&str) -> bool {
    |line: &str| {
        let b = line.as_bytes();
        b.len() >= 32
            && b[4] == b'-'
            && b[10] == b'T'
            && b[19] == b'.'
            && b[26] == b'Z'
            && b[27] == b' '
            && b[28..30].iter().all(u8::is_ascii_hexdigit)
            && matches!(b[30], b'O' | b'E')
            && matches!(b[31], b' ' | b'+')
    }
}

use kiln_api::JobVariable;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_runs_every_stage_with_artifacts_dependencies_and_masking() {
    let (coord, url) = start().await;
    let dir = temp();
    let mut build = job(
        1,
        &[
            "mkdir -p out",
            "echo built > out/bin.txt",
            "echo 'secret is s3cr3t-V4lue-xyz ok'",
            "echo token glpat-abcdefXYZ123",
        ],
    );
    let mut masked = JobVariable {
        key: "API_SECRET".into(),
        value: "s3cr3t-V4lue-xyz".into(),
        masked: true,
        ..Default::default()
    };
    masked.public = false;
    build.variables.push(masked);
    let mut file_var = JobVariable::public("DEPLOY_KEY", "key-material");
    file_var.file = true;
    build.variables.push(file_var);
    build.steps[0]
        .script
        .push("test \"$(cat \"$DEPLOY_KEY\")\" = key-material && echo file variable ok".into());
    build.artifacts = Some(vec![kiln_api::JobArtifact {
        name: "bin".into(),
        paths: vec!["out/**".into()],
        artifact_type: "archive".into(),
        ..Default::default()
    }]);
    coord.lock().unwrap().queue.push_back(build);
    let reports = run_jobs(config(runner(&url, dir.path()), 1), dir.path(), 1).await;
    assert!(reports[0].outcome.as_ref().unwrap().succeeded, "{}", trace_of(&coord, 1));
    let log = trace_of(&coord, 1);
    for section in [
        "prepare_executor",
        "prepare_script",
        "step_script",
        "upload_artifacts_on_success",
        "cleanup_file_variables",
    ] {
        assert!(log.contains(&format!(":{section}\r\x1b[0K")), "section {section} in {log}");
    }
    assert!(log.contains("secret is [MASKED] ok"), "{log}");
    assert!(log.contains("token glpat-[MASKED]"), "{log}");
    assert!(!log.contains("s3cr3t-V4lue-xyz"), "{log}");
    assert!(log.contains("\x1b[32;1m$ echo built > out/bin.txt\x1b[0;m"), "{log}");
    assert!(log.contains("file variable ok"), "{log}");
    assert!(log.contains("Job succeeded"), "{log}");
    let (final_update, artifacts) = {
        let c = coord.lock().unwrap();
        (c.finals.get(&1).cloned().unwrap(), c.artifacts.get(&1).cloned().unwrap_or_default())
    };
    assert_eq!(final_update.state, kiln_api::JobState::Success);
    let raw = raw_trace_of(&coord, 1);
    assert_eq!(final_update.output.bytesize, raw.len() as u64);
    assert_eq!(final_update.output.checksum, format!("crc32:{:08x}", crc32fast::hash(raw.as_bytes())));
    // FF_TIMESTAMPS is on by default, as in gitlab-runner 19: every line carries a prefix,
    // stream 00 for the runner's messages and 01 for the job's output.
    let prefix = regex_lite_prefix();
    for line in raw.lines() {
        assert!(prefix(line), "line without a timestamp prefix: {line:?}");
    }
    assert!(raw.contains("Z 01O \x1b[32;1m$ echo built > out/bin.txt"), "{raw}");
    // The last section's end marker holds a `\r`, so the line after it continues it.
    assert!(raw.contains(":cleanup_file_variables\r\x1b[0K\n"), "{raw}");
    assert!(raw.contains("Z 00O+\x1b[32;1mJob succeeded"), "{raw}");
    assert_eq!(artifacts.len(), 1);
    assert_eq!(artifacts[0].0, "bin.zip");
    // A second job depends on the first and finds its file.
    let mut test = job(2, &["cat out/bin.txt"]);
    test.dependencies = vec![kiln_api::Dependency {
        id: 1,
        name: "build".into(),
        token: "glcbt-job2token".into(),
        artifacts_file: Some(Default::default()),
    }];
    coord.lock().unwrap().queue.push_back(test);
    let reports = run_jobs(config(runner(&url, dir.path()), 1), dir.path(), 1).await;
    let log = trace_of(&coord, 2);
    assert!(reports[0].outcome.as_ref().unwrap().succeeded, "{log}");
    assert!(log.contains(":download_artifacts\r"), "{log}");
    assert!(log.contains("Downloading artifacts for build (1)..."), "{log}");
    assert!(log.contains("\nbuilt\n"), "{log}");
}

/// On the shell executor the artifact stages and `prepare_script` run in the runner
/// itself: they work with no helper binary at all and print what the helper and the
/// script print. A job that sets a proxy variable, which a helper process would obey,
/// gets the scripts and their helper process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shell_artifact_stages_run_in_the_runner_unless_the_job_sets_a_proxy() {
    let (coord, url) = start().await;
    let dir = temp();
    let missing = vec![dir.path().join("no-such-helper").to_string_lossy().into_owned()];
    let with_artifacts = |id: i64| {
        let mut j = job(id, &["mkdir -p out", "echo built-$CI_JOB_ID > out/bin.txt"]);
        j.artifacts = Some(vec![kiln_api::JobArtifact {
            name: "bin".into(),
            paths: vec!["out/".into()],
            artifact_type: "archive".into(),
            ..Default::default()
        }]);
        j
    };
    coord.lock().unwrap().queue.push_back(with_artifacts(1));
    let reports =
        run_jobs_with_helper(config(runner(&url, dir.path()), 1), dir.path(), 1, missing.clone()).await;
    let log = trace_of(&coord, 1);
    assert!(reports[0].outcome.as_ref().unwrap().succeeded, "{log}");
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert!(log.contains(&format!("Running on {}...\n", host.trim())), "{log}");
    assert!(log.contains("\x1b[32;1mUploading artifacts...\x1b[0;m\n"), "{log}");
    assert!(log.contains("out/: found 2 matching artifact files and directories"), "{log}");
    assert!(
        log.contains(
            "Uploading artifacts as \"zip\" to coordinator... 201 Created  id=1 responseStatus=201 Created"
        ),
        "{log}"
    );
    let mut consumer = job(2, &["cat out/bin.txt"]);
    consumer.dependencies = vec![kiln_api::Dependency {
        id: 1,
        name: "build".into(),
        token: "glcbt-job2token".into(),
        artifacts_file: Some(Default::default()),
    }];
    coord.lock().unwrap().queue.push_back(consumer);
    let reports =
        run_jobs_with_helper(config(runner(&url, dir.path()), 1), dir.path(), 1, missing.clone()).await;
    let log = trace_of(&coord, 2);
    assert!(reports[0].outcome.as_ref().unwrap().succeeded, "{log}");
    assert!(log.contains("Downloading artifacts for build (1)..."), "{log}");
    assert!(log.contains("1 files extracted") || log.contains("2 files extracted"), "{log}");
    assert!(log.contains("\nbuilt-1\n"), "{log}");
    let mut proxied = with_artifacts(3);
    proxied.variables.push(JobVariable::public("HTTPS_PROXY", "http://127.0.0.1:9"));
    coord.lock().unwrap().queue.push_back(proxied);
    let reports = run_jobs_with_helper(config(runner(&url, dir.path()), 1), dir.path(), 1, missing).await;
    let log = trace_of(&coord, 3);
    assert!(!reports[0].outcome.as_ref().unwrap().succeeded, "{log}");
    assert!(log.contains("no-such-helper"), "the upload went through the script's helper: {log}");
}

/// GitLab Runner expands the job's variables in `artifacts:paths`, `artifacts:exclude`,
/// `artifacts:name` and `cache:paths` (a parallel matrix job naming its own output).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn variables_in_artifact_and_cache_paths_are_expanded() {
    let (coord, url) = start().await;
    let dir = temp();
    let mut j = job(
        1,
        &[
            "mkdir -p out-linux vendor-linux",
            "echo keep > out-linux/keep.txt",
            "echo skip > out-linux/skip.txt",
        ],
    );
    j.variables.push(JobVariable::public("PLATFORM", "linux"));
    j.artifacts = Some(vec![kiln_api::JobArtifact {
        name: "bin-$PLATFORM".into(),
        paths: vec!["out-${PLATFORM}/".into()],
        exclude: vec!["out-$PLATFORM/skip.txt".into()],
        artifact_type: "archive".into(),
        ..Default::default()
    }]);
    j.cache = vec![kiln_api::CacheSpec {
        key: "deps".into(),
        paths: vec!["vendor-$PLATFORM".into()],
        ..Default::default()
    }];
    coord.lock().unwrap().queue.push_back(j);
    let reports = run_jobs(config(runner(&url, dir.path()), 1), dir.path(), 1).await;
    let log = trace_of(&coord, 1);
    assert!(reports[0].outcome.as_ref().unwrap().succeeded, "{log}");
    assert!(log.contains("out-linux/: found 2 matching artifact files and directories"), "{log}");
    assert!(log.contains("vendor-linux: found 1 matching"), "{log}");
    let (name, _, zip) = coord.lock().unwrap().artifacts[&1][0].clone();
    assert_eq!(name, "bin-linux.zip");
    let names: Vec<String> = zip::ZipArchive::new(std::io::Cursor::new(zip))
        .unwrap()
        .file_names()
        .map(|n| n.unwrap().into_owned())
        .collect();
    assert!(names.iter().any(|n| n == "out-linux/keep.txt"), "{names:?}");
    assert!(!names.iter().any(|n| n.ends_with("skip.txt")), "excluded: {names:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_script_runs_after_a_failure_and_the_exit_code_is_reported() {
    let (coord, url) = start().await;
    let dir = temp();
    let mut j = job(3, &["echo before", "exit 42", "echo never"]);
    after_script(&mut j, &["echo after status=$CI_JOB_STATUS"]);
    coord.lock().unwrap().queue.push_back(j);
    run_jobs(config(runner(&url, dir.path()), 1), dir.path(), 1).await;
    let log = trace_of(&coord, 3);
    assert!(log.contains("after status=failed"), "{log}");
    assert!(!log.contains("\nnever\n"), "{log}");
    assert!(log.contains("ERROR: Job failed: exit code 42"), "{log}");
    let f = coord.lock().unwrap().finals.get(&3).cloned().unwrap();
    assert_eq!(f.failure_reason.unwrap().as_str(), "script_failure");
    assert_eq!(f.exit_code, Some(42));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canceled_job_runs_after_script_and_leaves_no_process_behind() {
    let (coord, url) = start().await;
    let dir = temp();
    let pidfile = dir.path().join("bg.pid");
    let bg = format!("sleep 1000 & echo $! > {}", pidfile.display());
    let mut j = job(4, &[bg.as_str(), "echo started-long-work", "sleep 1000"]);
    after_script(&mut j, &["echo after status=$CI_JOB_STATUS"]);
    {
        let mut c = coord.lock().unwrap();
        c.cancel_on.insert(4, ("started-long-work".into(), "canceling".into()));
        c.queue.push_back(j);
    }
    run_jobs(config(runner(&url, dir.path()), 1), dir.path(), 1).await;
    let log = trace_of(&coord, 4);
    assert!(log.contains("after status=canceled"), "{log}");
    let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
    assert!(!process_alive(pid), "background process {pid} survived its job");
    let f = coord.lock().unwrap().finals.get(&4).cloned().unwrap();
    assert_eq!(f.state, kiln_api::JobState::Failed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_over_its_timeout_fails_with_job_execution_timeout() {
    let (coord, url) = start().await;
    let dir = temp();
    let mut j = job(5, &["sleep 30"]);
    j.runner_info.timeout = 2;
    coord.lock().unwrap().queue.push_back(j);
    run_jobs(config(runner(&url, dir.path()), 1), dir.path(), 1).await;
    let log = trace_of(&coord, 5);
    assert!(log.contains("ERROR: Job failed: execution took longer than 2s seconds"), "{log}");
    let f = coord.lock().unwrap().finals.get(&5).cloned().unwrap();
    assert_eq!(f.failure_reason.unwrap().as_str(), "job_execution_timeout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_recovers_from_416_and_requests_retry_on_429_and_5xx() {
    let (coord, url) = start().await;
    let dir = temp();
    let j = job(6, &["for i in 1 2 3; do echo line-$i; sleep 0.3; done"]);
    {
        let mut c = coord.lock().unwrap();
        c.fail_requests = vec![429, 502, 503];
        c.lose_first_patch.insert(6, true);
        c.queue.push_back(j);
    }
    run_jobs(config(runner(&url, dir.path()), 1), dir.path(), 1).await;
    let log = trace_of(&coord, 6);
    assert!(
        log.starts_with("\x1b[32;1mRunning with kiln-runner"),
        "the lost first patch was resent: {log:?}"
    );
    assert!(log.contains("line-3") && log.contains("Job succeeded"), "{log}");
    let c = coord.lock().unwrap();
    assert_eq!(c.statuses, vec![429, 502, 503]);
    drop(c);
    let raw = raw_trace_of(&coord, 6);
    assert_eq!(coord.lock().unwrap().finals.get(&6).unwrap().output.bytesize, raw.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_saved_by_one_job_is_restored_by_the_next() {
    // In the runner (the shell executor's native stages: no helper binary needed) ...
    let dir = temp();
    let missing = vec![dir.path().join("no-such-helper").to_string_lossy().into_owned()];
    cache_round_trip(&dir, missing, &[]).await;
    // ... and through the scripts and the helper binary, as a job that sets a proxy gets them.
    cache_round_trip(&temp(), helper(), &[("HTTPS_PROXY", "http://127.0.0.1:9")]).await;
}

async fn cache_round_trip(dir: &tempfile::TempDir, helper: Vec<String>, vars: &[(&str, &str)]) {
    let (coord, url) = start().await;
    let cache = kiln_api::CacheSpec {
        key: "deps-$CI_COMMIT_REF_NAME".into(),
        paths: vec!["vendor".into()],
        ..Default::default()
    };
    let mut a = job(7, &["mkdir -p vendor", "echo cached-content > vendor/lib.txt"]);
    a.variables.push(JobVariable::public("CI_COMMIT_REF_NAME", "main"));
    a.cache = vec![cache.clone()];
    let mut b = job(8, &["cat vendor/lib.txt"]);
    b.variables.push(JobVariable::public("GIT_STRATEGY", "empty"));
    b.variables.push(JobVariable::public("CI_COMMIT_REF_NAME", "main"));
    b.cache = vec![kiln_api::CacheSpec { policy: kiln_api::job::CachePolicy::Pull, ..cache }];
    for &(k, v) in vars {
        a.variables.push(JobVariable::public(k, v));
        b.variables.push(JobVariable::public(k, v));
    }
    coord.lock().unwrap().queue.push_back(a);
    run_jobs_with_helper(config(runner(&url, dir.path()), 1), dir.path(), 1, helper.clone()).await;
    let log_a = trace_of(&coord, 7);
    // Nothing to restore yet: a warning, and the job goes on.
    assert!(log_a.contains("\x1b[0;33mWARNING: Failed to extract cache for deps-main\x1b[0;m"), "{log_a}");
    assert!(log_a.contains("Creating cache deps-main...") && log_a.contains("Created cache"), "{log_a}");
    coord.lock().unwrap().queue.push_back(b);
    run_jobs_with_helper(config(runner(&url, dir.path()), 1), dir.path(), 1, helper).await;
    let log_b = trace_of(&coord, 8);
    assert!(
        log_b.contains("Checking cache for deps-main...") && log_b.contains("Successfully extracted cache"),
        "{log_b}"
    );
    assert!(log_b.contains("\ncached-content\n") && log_b.contains("Job succeeded"), "{log_b}");
    assert!(!log_b.contains(":archive_cache\r"), "pull policy does not save: {log_b}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_jobs_all_succeed_with_their_own_logs() {
    let (coord, url) = start().await;
    let dir = temp();
    for id in 100..150 {
        let line = format!("for i in 1 2 3; do echo job-{id}-line-$i; sleep 0.2; done");
        coord.lock().unwrap().queue.push_back(job(id, &[line.as_str()]));
    }
    let reports = run_jobs(config(runner(&url, dir.path()), 50), dir.path(), 50).await;
    assert_eq!(reports.len(), 50);
    for id in 100..150 {
        let log = trace_of(&coord, id);
        assert!(log.contains(&format!("job-{id}-line-3")) && log.contains("Job succeeded"), "{id}: {log}");
        let foreign = (100..150).filter(|o| *o != id).any(|o| log.contains(&format!("job-{o}-line")));
        assert!(!foreign, "job {id}'s log holds another job's output");
        assert_eq!(coord.lock().unwrap().finals.get(&id).unwrap().state, kiln_api::JobState::Success);
    }
}
