//! Pull policies and image names against the real engine: `never`, `if-not-present`
//! and `always`, locally and from Debian's `docker-registry` on loopback (a missing tag
//! is an `image_pull_failure`), `allowed_pull_policies`, `allowed_images`, and hostile
//! `image:` names refused before they reach the engine.

mod support;

use kiln_executor_docker::testing::{Registry, busybox_image, engine, import_busybox};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_fails_without_the_image_and_if_not_present_uses_the_local_one() {
    let docker = engine().await;
    let image = busybox_image(&docker).await;
    let (coord, url) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let short = "dkrpull01";
    let missing = job(21, "kiln-test/not-imported:1", &["echo never runs"]);
    let mut local = job(22, &image, &["echo local image ran"]);
    local.image.as_mut().unwrap().pull_policy = Some(vec!["if-not-present".into()]);
    coord.lock().unwrap().queue.extend([missing, local]);
    let reports = run_jobs(runner(&url, short, ""), 1, dir.path(), 2).await;
    let log = trace_of(&coord, 21);
    assert!(!reports[0].outcome.as_ref().unwrap().succeeded);
    // The engine's own words for a missing image differ between versions (20.10 says
    // "no such image: X: No such image: X"), so they are asked of the engine.
    let engine_says = match docker.inspect_image("kiln-test/not-imported:1").await {
        Err(e) => kiln_executor_docker::engine::describe(&e),
        Ok(_) => panic!("kiln-test/not-imported:1 must not exist locally"),
    };
    assert!(engine_says.starts_with("Error response from daemon: "), "{engine_says}");
    assert!(engine_says.contains("No such image: kiln-test/not-imported:1"), "{engine_says}");
    assert!(
        log.contains(&format!("ERROR: Job failed (system failure): failed to pull image \"kiln-test/not-imported:1\" with specified policies [never]: {engine_says}")),
        "{log}"
    );
    assert!(log.contains("WARNING: Failed to pull image with policy \"never\""), "{log}");
    assert_eq!(final_reason(&coord, 21).as_deref(), Some("runner_system_failure"));
    let log = trace_of(&coord, 22);
    assert!(reports[1].outcome.as_ref().unwrap().succeeded, "{log}");
    assert!(log.contains("Using locally found image version due to \"if-not-present\" pull policy"), "{log}");
    assert!(log.contains("Using docker image sha256:"), "{log}");
    assert_nothing_left(&docker, short).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn always_pulls_from_a_registry_and_a_missing_tag_is_an_image_pull_failure() {
    let docker = engine().await;
    import_busybox(&docker, "kiln-test/pushed", "1", &["ENV PUSHED=yes"]).await;
    let registry = Registry::start().await;
    let remote = registry.push(&docker, "kiln-test/pushed:1", "kiln/busybox", "v1").await;
    let (coord, url) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let short = "dkrpull02";
    let mut pulled = job(23, &remote, &["echo \"pushed=$PUSHED\""]);
    pulled.image.as_mut().unwrap().pull_policy = None;
    let mut absent = job(24, &format!("{}/kiln/busybox:nope", registry.address), &["echo never"]);
    absent.image.as_mut().unwrap().pull_policy = Some(vec!["always".into(), "if-not-present".into()]);
    coord.lock().unwrap().queue.extend([pulled, absent]);
    // The runner's default policy is `always`.
    let reports = run_jobs(runner(&url, short, ""), 1, dir.path(), 2).await;
    let log = trace_of(&coord, 23);
    assert!(reports[0].outcome.as_ref().unwrap().succeeded, "{log}");
    assert!(log.contains(&format!("Pulling docker image {remote} ...")), "{log}");
    assert!(log.contains("pushed=yes"), "{log}");
    assert!(docker.inspect_image(&remote).await.is_ok());
    let log = trace_of(&coord, 24);
    assert!(!reports[1].outcome.as_ref().unwrap().succeeded);
    assert!(log.contains("Attempt #2: Trying \"if-not-present\" pull policy"), "{log}");
    assert!(log.contains("with specified policies [always if-not-present]"), "{log}");
    assert_eq!(
        log.matches(&format!("Pulling docker image {}/kiln/busybox:nope ...", registry.address)).count(),
        2,
        "{log}"
    );
    assert_eq!(final_reason(&coord, 24).as_deref(), Some("image_pull_failure"), "{log}");
    let _ = docker.remove_image(&remote, None::<bollard::query_parameters::RemoveImageOptions>, None).await;
    assert_nothing_left(&docker, short).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn if_not_present_pulls_a_missing_image_once_then_uses_the_local_copy() {
    let docker = engine().await;
    import_busybox(&docker, "kiln-test/pushed", "2", &["ENV PUSHED=twice"]).await;
    let registry = Registry::start().await;
    let remote = registry.push(&docker, "kiln-test/pushed:2", "kiln/lazy", "v1").await;
    assert!(docker.inspect_image(&remote).await.is_err(), "only a pull brings {remote} back");
    let (coord, url) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let short = "dkrpull03";
    let mut first = job(29, &remote, &["echo \"first pushed=$PUSHED\""]);
    first.image.as_mut().unwrap().pull_policy = Some(vec!["if-not-present".into()]);
    let mut second = job(30, &remote, &["echo \"second pushed=$PUSHED\""]);
    second.image.as_mut().unwrap().pull_policy = Some(vec!["if-not-present".into()]);
    coord.lock().unwrap().queue.extend([first, second]);
    let reports = run_jobs(runner(&url, short, ""), 1, dir.path(), 2).await;
    let log = trace_of(&coord, 29);
    assert!(reports[0].outcome.as_ref().unwrap().succeeded, "{log}");
    assert!(log.contains(&format!("Pulling docker image {remote} ...")), "{log}");
    assert!(log.contains("first pushed=twice"), "{log}");
    let log = trace_of(&coord, 30);
    assert!(reports[1].outcome.as_ref().unwrap().succeeded, "{log}");
    assert!(!log.contains("Pulling docker image"), "{log}");
    assert!(log.contains("Using locally found image version due to \"if-not-present\" pull policy"), "{log}");
    assert!(log.contains("second pushed=twice"), "{log}");
    let _ = docker.remove_image(&remote, None::<bollard::query_parameters::RemoveImageOptions>, None).await;
    assert_nothing_left(&docker, short).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_and_images_outside_the_runners_lists_are_refused() {
    let docker = engine().await;
    let image = busybox_image(&docker).await;
    let (coord, url) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let short = "dkrpull04";
    let mut always = job(26, &image, &["echo never"]);
    always.image.as_mut().unwrap().pull_policy = Some(vec!["always".into()]);
    let other = job(27, "kiln-other/busybox:1", &["echo never"]);
    let fine = job(28, &image, &["echo allowed image ran"]);
    coord.lock().unwrap().queue.extend([always, other, fine]);
    let settings = "pull_policy = [\"never\"]\nallowed_pull_policies = [\"never\", \"if-not-present\"]\nallowed_images = [\"kiln-test/*\"]";
    let reports = run_jobs(runner(&url, short, settings), 1, dir.path(), 3).await;
    let log = trace_of(&coord, 26);
    assert!(!reports[0].outcome.as_ref().unwrap().succeeded);
    assert!(
        log.contains(&format!("failed to pull image \"{image}\": pull_policy ([always]) defined in GitLab pipeline config is not one of the allowed_pull_policies ([never if-not-present])")),
        "{log}"
    );
    let log = trace_of(&coord, 27);
    assert!(
        log.contains("ERROR: The \"kiln-other/busybox:1\" image is not present on list of allowed images:"),
        "{log}"
    );
    assert!(log.contains("- kiln-test/*"), "{log}");
    assert!(log.contains("ERROR: Job failed (system failure): disallowed image"), "{log}");
    assert!(reports[2].outcome.as_ref().unwrap().succeeded, "{}", trace_of(&coord, 28));
    assert_nothing_left(&docker, short).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_image_and_service_names_are_refused_cleanly() {
    let docker = engine().await;
    let image = busybox_image(&docker).await;
    let (coord, url) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let short = "dkrhostil";
    let hostile = [
        "busybox; touch /tmp/kiln-pwned",
        "../../containers/json",
        "$(touch /tmp/kiln-pwned)",
        "kiln-test/busybox:1\n--privileged",
        "UPPER/Case",
    ];
    let mut id = 30;
    for name in hostile {
        coord.lock().unwrap().queue.push_back(job(id, name, &["echo never"]));
        id += 1;
    }
    let mut with_service = job(id, &image, &["echo never"]);
    with_service.services =
        vec![kiln_api::job::Service { name: "../evil service".into(), ..Default::default() }];
    coord.lock().unwrap().queue.push_back(with_service);
    let reports = run_jobs(runner(&url, short, ""), 1, dir.path(), hostile.len() + 1).await;
    for (i, r) in reports.iter().enumerate().take(hostile.len()) {
        let log = trace_of(&coord, r.id);
        assert!(!r.outcome.as_ref().unwrap().succeeded, "{log}");
        assert!(
            log.contains("with specified policies [never]: invalid reference format"),
            "{}: {log}",
            hostile[i]
        );
        assert!(!log.contains("$ echo never"), "{log}");
        assert_eq!(final_reason(&coord, r.id).as_deref(), Some("image_pull_failure"));
    }
    let log = trace_of(&coord, id);
    assert!(log.contains("Job failed (system failure): invalid service name: ../evil service"), "{log}");
    assert!(!std::path::Path::new("/tmp/kiln-pwned").exists());
    assert_nothing_left(&docker, short).await;
}
