//! The custom executor against a driver script written for the test.

mod support;

use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_custom_driver_protocol_runs_every_stage() {
    let (coord, url) = start().await;
    let dir = temp();
    let calls = dir.path().join("calls.log");
    let driver = dir.path().join("driver.sh");
    let builds = dir.path().join("cbuilds");
    std::fs::write(
        &driver,
        format!(
            "#!/bin/sh\nset -e\nlog={calls}\ncase \"$1\" in\n  config) echo config >> $log; echo '{{\"builds_dir\":\"{builds}\",\"cache_dir\":\"{builds}/cache\",\"builds_dir_is_shared\":false,\"driver\":{{\"name\":\"test-driver\",\"version\":\"v1\"}},\"job_env\":{{\"FROM_CONFIG\":\"yes\"}}}}' ;;\n  prepare) echo \"prepare $CUSTOM_ENV_CI_JOB_ID $FROM_CONFIG\" >> $log ;;\n  run) echo \"run $3\" >> $log; bash \"$2\" || exit $BUILD_FAILURE_EXIT_CODE ;;\n  cleanup) echo cleanup >> $log ;;\nesac\n",
            calls = calls.display(),
            builds = builds.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&driver, std::fs::Permissions::from_mode(0o755)).unwrap();
    let d = driver.to_string_lossy().into_owned();
    let mut r = runner(&url, dir.path());
    r.executor = "custom".into();
    r.custom = Some(kiln_runner::config::CustomConfig {
        config_exec: Some(d.clone()),
        config_args: vec!["config".into()],
        prepare_exec: Some(d.clone()),
        prepare_args: vec!["prepare".into()],
        run_exec: d.clone(),
        run_args: vec!["run".into()],
        cleanup_exec: Some(d),
        cleanup_args: vec!["cleanup".into()],
        ..Default::default()
    });
    let mut j = job(20, &["echo in-custom $CI_PROJECT_DIR"]);
    after_script(&mut j, &["echo after"]);
    coord.lock().unwrap().queue.push_back(j);
    let reports = run_jobs(config(r.clone(), 1), dir.path(), 1).await;
    let log = trace_of(&coord, 20);
    assert!(reports[0].outcome.as_ref().unwrap().succeeded, "{log}");
    assert!(log.contains("Using Custom executor with driver test-driver v1..."), "{log}");
    assert!(
        log.contains(&format!("in-custom {}/acme/widget", builds.display())),
        "not shared: no token/concurrency dirs: {log}"
    );
    let calls = std::fs::read_to_string(&calls).unwrap();
    assert_eq!(
        calls,
        "config\nprepare 20 yes\nrun prepare_script\nrun get_sources\nrun build_script\nrun after_script\ncleanup\n"
    );
    // A failing script is a build failure with exit code 1 (BUILD_FAILURE_EXIT_CODE).
    coord.lock().unwrap().queue.push_back(job(21, &["exit 3"]));
    run_jobs(config(r, 1), dir.path(), 1).await;
    let f = coord.lock().unwrap().finals.get(&21).cloned().unwrap();
    assert_eq!(f.failure_reason.unwrap().as_str(), "script_failure");
}
