//! The split between the host and the container: git, caches, artifacts and file
//! variables handled on the runner's machine reach a busybox image that has no git, a
//! `fetch` checkout stays for the next job; `image:entrypoint` as
//! GitLab Runner applies it; and cleanup after a `prepare` that failed or was canceled
//! with services already running.

mod support;

use std::time::{Duration, Instant};

use kiln_api::{JobResponse, JobVariable};
use kiln_executor_docker::testing::{busybox_image, engine, import_busybox, service_image};
use support::*;

/// The job token, which the git server demands; not GitLab-prefixed, so only the
/// runner's care keeps it out of the log.
const TOKEN: &str = "d0ckerJobTok3n";

/// A job that clones `acme/widget` at `sha` from `base` (with credentials) on the host.
fn git_job(id: i64, image: &str, base: &str, sha: &str, script: &[&str]) -> JobResponse {
    let mut j = job(id, image, script);
    j.token = TOKEN.into();
    j.git_info.repo_url = format!("{base}/acme/widget.git");
    j.git_info.sha = sha.into();
    j.git_info.refspecs = vec!["+refs/heads/main:refs/remotes/origin/main".into()];
    j.variables.retain(|v| v.key != "GIT_STRATEGY");
    j.variables.push(JobVariable::public("GIT_STRATEGY", "clone"));
    j
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sources_caches_and_artifacts_pass_through_the_host_into_an_image_without_git() {
    let docker = engine().await;
    let image = busybox_image(&docker).await;
    let upstream = tempfile::tempdir().unwrap();
    let widget = Repo::new(upstream.path(), "acme/widget");
    let sha = widget.write("a.txt", "checked out on the host\n").commit("first");
    let base = serve_git(upstream.path(), TOKEN)
        .await
        .replace("http://", &format!("http://gitlab-ci-token:{TOKEN}@"));
    let (coord, url) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let short = "dkrstage1";

    let mut build = git_job(
        41,
        &image,
        &base,
        &sha,
        &[
            "cat a.txt",
            "if command -v git; then echo git-in-image; else echo no-git-in-image; fi",
            "mkdir -p out vendor",
            "echo built-in-container > out/bin.txt",
            "echo cached-in-container > vendor/lib.txt",
            "test \"$(cat \"$DEPLOY_KEY\")\" = key-material && echo file variable in the container",
        ],
    );
    let mut file_var = JobVariable::public("DEPLOY_KEY", "key-material");
    file_var.file = true;
    build.variables.push(file_var);
    build.artifacts = Some(vec![kiln_api::JobArtifact {
        name: "bin".into(),
        paths: vec!["out/**".into()],
        artifact_type: "archive".into(),
        ..Default::default()
    }]);
    let cache =
        kiln_api::CacheSpec { key: "deps".into(), paths: vec!["vendor".into()], ..Default::default() };
    build.cache = vec![cache.clone()];

    let mut test = git_job(42, &image, &base, &sha, &["cat out/bin.txt", "cat vendor/lib.txt", "cat a.txt"]);
    test.dependencies = vec![kiln_api::Dependency {
        id: 41,
        name: "build".into(),
        token: TOKEN.into(),
        artifacts_file: Some(Default::default()),
    }];
    test.cache = vec![kiln_api::CacheSpec { policy: kiln_api::job::CachePolicy::Pull, ..cache }];
    coord.lock().unwrap().queue.extend([build, test]);
    let reports = run_jobs(runner(&url, short, ""), 1, dir.path(), 2).await;

    let log = trace_of(&coord, 41);
    assert!(reports[0].outcome.as_ref().unwrap().succeeded, "{log}");
    assert!(log.contains("Created fresh repository."), "{log}");
    assert!(log.contains("\nchecked out on the host\n"), "{log}");
    assert!(log.contains("\nno-git-in-image\n"), "{log}");
    assert!(log.contains("\nfile variable in the container\n"), "{log}");
    assert!(log.contains("Creating cache deps...") && log.contains("Created cache"), "{log}");
    assert!(!log.contains(TOKEN), "the token stays out of the log: {log}");
    let uploaded = coord.lock().unwrap().artifacts.get(&41).map(Vec::len).unwrap_or(0);
    assert_eq!(uploaded, 1, "{log}");

    let log = trace_of(&coord, 42);
    assert!(reports[1].outcome.as_ref().unwrap().succeeded, "{log}");
    assert!(log.contains("Downloading artifacts for build (41)..."), "{log}");
    assert!(log.contains("Successfully extracted cache"), "{log}");
    assert!(log.contains("\nbuilt-in-container\n"), "{log}");
    assert!(log.contains("\ncached-in-container\n"), "{log}");
    assert!(log.contains("\nchecked out on the host\n"), "{log}");
    // `clone` gets a temporary build directory on the host, removed with the job.
    let builds = dir.path().join("builds-docker");
    let left: Vec<_> =
        std::fs::read_dir(&builds).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
    assert_nothing_left(&docker, short).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_keeps_the_checkout_for_the_next_job_and_cleans_it() {
    let docker = engine().await;
    let image = busybox_image(&docker).await;
    let upstream = tempfile::tempdir().unwrap();
    let widget = Repo::new(upstream.path(), "acme/widget");
    let sha = widget.write("a.txt", "fetched\n").commit("first");
    let base = serve_git(upstream.path(), TOKEN)
        .await
        .replace("http://", &format!("http://gitlab-ci-token:{TOKEN}@"));
    let (coord, url) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let short = "dkrfetch1";
    let mut jobs = Vec::new();
    for (id, script) in [(48, "echo junk > junk.txt"), (49, "test ! -e junk.txt && echo cleaned")] {
        let mut j = git_job(id, &image, &base, &sha, &[script, "cat a.txt"]);
        j.variables.retain(|v| v.key != "GIT_STRATEGY");
        j.variables.push(JobVariable::public("GIT_STRATEGY", "fetch"));
        jobs.push(j);
    }
    coord.lock().unwrap().queue.extend(jobs);
    let reports = run_jobs(runner(&url, short, ""), 1, dir.path(), 2).await;
    for r in &reports {
        assert!(r.outcome.as_ref().unwrap().succeeded, "{}", trace_of(&coord, r.id));
    }
    assert!(trace_of(&coord, 48).contains("Created fresh repository."), "{}", trace_of(&coord, 48));
    let log = trace_of(&coord, 49);
    assert!(log.contains("Reinitialized existing Git repository"), "{log}");
    assert!(log.contains("\ncleaned\n") && log.contains("\nfetched\n"), "{log}");
    // GitLab Runner keeps a `fetch` checkout in a cache volume; here it is the host
    // directory of the concurrency slot, left for the next job.
    let kept =
        dir.path().join(format!("builds-docker/runner-{short}-project-7-concurrent-0/acme/widget/a.txt"));
    assert_eq!(std::fs::read_to_string(&kept).unwrap(), "fetched\n");
    assert_nothing_left(&docker, short).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_entrypoint_replaces_or_clears_the_images_own() {
    let docker = engine().await;
    let image = import_busybox(
        &docker,
        "kiln-test/entrypoint",
        "1",
        &["ENTRYPOINT [\"/bin/sh\", \"-c\", \"echo image-entrypoint-ran; exec \\\"$@\\\"\", \"entry\"]"],
    )
    .await;
    let (coord, url) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let short = "dkrentry1";
    let own = job(43, &image, &["echo job 43 ran"]);
    let mut cleared = job(44, &image, &["echo job 44 ran"]);
    cleared.image.as_mut().unwrap().entrypoint = Some(vec![String::new()]);
    let mut replaced = job(45, &image, &["echo job 45 ran"]);
    replaced.image.as_mut().unwrap().entrypoint = Some(vec![
        "/bin/sh".into(),
        "-c".into(),
        "echo job-entrypoint-ran as $0; exec \"$@\"".into(),
        "custom".into(),
    ]);
    coord.lock().unwrap().queue.extend([own, cleared, replaced]);
    let reports = run_jobs(runner(&url, short, ""), 1, dir.path(), 3).await;
    for r in &reports {
        assert!(r.outcome.as_ref().unwrap().succeeded, "{}", trace_of(&coord, r.id));
    }
    let log = trace_of(&coord, 43);
    assert!(log.contains("image-entrypoint-ran") && log.contains("\njob 43 ran\n"), "{log}");
    let log = trace_of(&coord, 44);
    assert!(!log.contains("entrypoint-ran") && log.contains("\njob 44 ran\n"), "{log}");
    let log = trace_of(&coord, 45);
    assert!(!log.contains("image-entrypoint-ran"), "{log}");
    assert!(log.contains("job-entrypoint-ran as custom") && log.contains("\njob 45 ran\n"), "{log}");
    assert_nothing_left(&docker, short).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prepare_failing_after_its_services_started_leaves_nothing() {
    let docker = engine().await;
    let service = service_image(&docker, 8080).await;
    let (coord, url) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let short = "dkrprep01";
    let mut j = job(46, "kiln-test/not-imported:2", &["echo never"]);
    j.services = vec![kiln_api::job::Service {
        name: service,
        alias: Some("svc".into()),
        pull_policy: Some(vec!["never".into()]),
        ..Default::default()
    }];
    coord.lock().unwrap().queue.push_back(j);
    let reports = run_jobs(runner(&url, short, ""), 1, dir.path(), 1).await;
    let log = trace_of(&coord, 46);
    assert!(!reports[0].outcome.as_ref().unwrap().succeeded, "{log}");
    assert!(log.contains("Starting service kiln-test/netcat:8080 ..."), "{log}");
    assert!(log.contains("failed to pull image \"kiln-test/not-imported:2\""), "{log}");
    assert!(!log.contains("$ echo never"), "{log}");
    assert_nothing_left(&docker, short).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_canceled_while_waiting_for_its_services_leaves_nothing() {
    let docker = engine().await;
    let image = busybox_image(&docker).await;
    // A service that exposes a port it never listens on: the wait lasts its timeout.
    let silent =
        import_busybox(&docker, "kiln-test/silent", "9999", &["EXPOSE 9999/tcp", "CMD [\"sleep\", \"300\"]"])
            .await;
    let (coord, url) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let short = "dkrprep02";
    let mut j = job(47, &image, &["echo never"]);
    j.services = vec![kiln_api::job::Service {
        name: silent,
        pull_policy: Some(vec!["never".into()]),
        ..Default::default()
    }];
    {
        let mut c = coord.lock().unwrap();
        c.cancel_on.insert(47, ("Waiting for services to be up and running".into(), "canceled".into()));
        c.queue.push_back(j);
    }
    let started = Instant::now();
    let reports = run_jobs(runner(&url, short, "wait_for_services_timeout = 120"), 1, dir.path(), 1).await;
    let log = trace_of(&coord, 47);
    assert!(!reports[0].outcome.as_ref().unwrap().succeeded, "{log}");
    assert!(log.contains("Waiting for services to be up and running (timeout 120 seconds)..."), "{log}");
    assert!(!log.contains("$ echo never"), "{log}");
    assert!(started.elapsed() < Duration::from_secs(60), "canceled after {:?}: {log}", started.elapsed());
    assert_nothing_left(&docker, short).await;
}
