//! The job queue and runners: matching, fair scheduling, exactly-once claims under
//! a race, and wake-ups, on SQLite and PostgreSQL.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::*;
use kiln_pipeline::Status;
use kiln_store::pipelines::PlannedJob;
use kiln_store::projects::Project;
use kiln_store::queue::RunnerMatch;
use kiln_store::runners::{ManagerInfo, NewRunner, RunnerAccessLevel, RunnerType, RunnerUpdate};
use kiln_store::users::User;
use kiln_store::{Backend, Error, Millis, Store};

on_both_backends!(
    claims_are_exactly_once_under_a_race,
    tags_untagged_and_protected_match_like_gitlab,
    scopes_limit_what_a_runner_sees,
    instance_runners_schedule_fairly,
    pending_jobs_wake_subscribers,
    runner_tokens_and_managers,
    claimed_job_runs_with_a_job_token,
    claims_process_a_pipeline_only_until_it_runs,
);

async fn runner(s: &Store, new: NewRunner) -> (kiln_store::runners::Runner, RunnerMatch) {
    let (r, _) = s.create_runner(&new).await.unwrap();
    let info = ManagerInfo { system_id: format!("s_{}", r.id), ..Default::default() };
    let m = s.touch_runner_manager(r.id, &info, Millis::now()).await.unwrap();
    let matcher = s.runner_match(&r, m.id).await.unwrap();
    (r, matcher)
}

fn jobs(prefix: &str, n: usize, tags: &[&str]) -> Vec<PlannedJob> {
    (0..n).map(|i| job(&format!("{prefix}{i}"), 0, tags)).collect()
}

async fn setup(s: &Store) -> (User, Project) {
    let owner = user(s, "owner").await;
    let p = project(s, &owner, "app").await;
    (owner, p)
}

async fn claims_are_exactly_once_under_a_race(backend: Backend) {
    let db = db(backend).await;
    let s = db.store.clone();
    let replica = db.reopen().await.unwrap();
    let (owner, _) = setup(&s).await;
    let mut total = 0;
    for p in 0..6 {
        let project = project(&s, &owner, &format!("p{p}")).await;
        for _ in 0..2 {
            started_pipeline(&s, &project, &owner, jobs("j", 25, &[])).await;
            total += 25;
        }
    }
    assert_eq!(s.pending_count().await.unwrap(), total);
    let (_, matcher) = runner(&s, NewRunner::instance()).await;
    let mut tasks = Vec::new();
    for i in 0..64 {
        let store = if i % 2 == 0 { s.clone() } else { replica.clone() };
        let matcher = matcher.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            while let Some(claimed) = store.claim_job(&matcher, false, Millis::now()).await.unwrap() {
                assert_eq!(claimed.job.status, Status::Running);
                mine.push(claimed.job.id);
            }
            mine
        }));
    }
    let mut seen = HashSet::new();
    for t in tasks {
        for id in t.await.unwrap() {
            assert!(seen.insert(id), "job {id} assigned twice");
        }
    }
    assert_eq!(seen.len() as i64, total, "every job assigned");
    assert_eq!(s.pending_count().await.unwrap(), 0);
    let running = s
        .list_jobs(
            &kiln_store::jobs::JobFilter { statuses: vec![Status::Running], ..Default::default() },
            kiln_store::Page::all(),
        )
        .await
        .unwrap();
    assert_eq!(running.total, total);
    assert!(running.items.iter().all(|j| j.runner_id == Some(matcher.runner)));
}

async fn tags_untagged_and_protected_match_like_gitlab(backend: Backend) {
    let db = db(backend).await;
    let s = &db.store;
    let (owner, p) = setup(s).await;
    let pl = started_pipeline(
        s,
        &p,
        &owner,
        vec![job("untagged", 0, &[]), job("docker", 0, &["docker"]), job("both", 0, &["docker", "linux"])],
    )
    .await;
    assert!(pl.protected);
    let name = |c: Option<kiln_store::queue::Claimed>| c.map(|c| c.job.name);
    // A runner without tags takes untagged jobs only.
    let (_, plain) = runner(s, NewRunner::instance()).await;
    assert_eq!(name(s.claim_job(&plain, false, Millis::now()).await.unwrap()).as_deref(), Some("untagged"));
    assert_eq!(name(s.claim_job(&plain, false, Millis::now()).await.unwrap()), None);
    // Job tags must be a subset of the runner's.
    let (_, docker) =
        runner(s, NewRunner { tags: vec!["docker".into()], run_untagged: false, ..NewRunner::instance() })
            .await;
    assert_eq!(name(s.claim_job(&docker, false, Millis::now()).await.unwrap()).as_deref(), Some("docker"));
    assert_eq!(name(s.claim_job(&docker, false, Millis::now()).await.unwrap()), None);
    // Protected runners only take jobs of protected refs; this pipeline is protected.
    let (_, protected) = runner(
        s,
        NewRunner {
            tags: vec!["linux".into(), "docker".into(), "gpu".into()],
            access_level: RunnerAccessLevel::RefProtected,
            ..NewRunner::instance()
        },
    )
    .await;
    assert_eq!(name(s.claim_job(&protected, false, Millis::now()).await.unwrap()).as_deref(), Some("both"));
    let mut unprotected = new_pipeline(&p, &owner, vec![job("feature", 0, &[])]);
    unprotected.protected = false;
    unprotected.ref_name = "feature".into();
    let (up, _) = s.create_pipeline(&unprotected).await.unwrap();
    s.handle_event(up.id, &kiln_pipeline::Event::Process, kiln_store::effects::ApplyOptions::now())
        .await
        .unwrap();
    assert_eq!(name(s.claim_job(&protected, false, Millis::now()).await.unwrap()), None);
    assert!(s.has_matching_job(&plain).await.unwrap());
    assert_eq!(name(s.claim_job(&plain, false, Millis::now()).await.unwrap()).as_deref(), Some("feature"));
}

async fn scopes_limit_what_a_runner_sees(backend: Backend) {
    let db = db(backend).await;
    let s = &db.store;
    let owner = user(s, "owner").await;
    // grp/app, grp/sub/lib, other/tool.
    let [app, lib, tool] = scoped_projects(s, &owner).await;
    assert_eq!(lib.full_path, "grp/sub/lib");
    for p in [&app, &lib, &tool] {
        started_pipeline(s, p, &owner, vec![job(&format!("in-{}", p.path), 0, &[])]).await;
    }
    let claim_all = |m: RunnerMatch| async move {
        let mut names = Vec::new();
        while let Some(c) = s.claim_job(&m, false, Millis::now()).await.unwrap() {
            names.push(c.job.name);
        }
        names.sort();
        names
    };
    // A project runner of `tool` sees only `tool`.
    let (_, tool_runner) = runner(
        s,
        NewRunner { runner_type: RunnerType::ProjectType, projects: vec![tool.id], ..NewRunner::instance() },
    )
    .await;
    assert_eq!(claim_all(tool_runner).await, ["in-tool"]);
    // A group runner of `grp` sees its subgroups' projects too, not `other`'s.
    let (_, grp_runner) = runner(
        s,
        NewRunner {
            runner_type: RunnerType::GroupType,
            group: Some(app.namespace_id),
            ..NewRunner::instance()
        },
    )
    .await;
    assert_eq!(claim_all(grp_runner).await, ["in-app", "in-lib"]);
    // Instance runners skip projects that turned them off.
    s.update_project(
        app.id,
        &kiln_store::projects::ProjectUpdate { shared_runners_enabled: Some(false), ..Default::default() },
    )
    .await
    .unwrap();
    started_pipeline(s, &app, &owner, vec![job("again-app", 0, &[])]).await;
    started_pipeline(s, &lib, &owner, vec![job("again-lib", 0, &[])]).await;
    let (_, instance) = runner(s, NewRunner::instance()).await;
    assert_eq!(claim_all(instance).await, ["again-lib"]);
    assert_eq!(s.pending_count().await.unwrap(), 1, "the app job waits for a project or group runner");
}

async fn instance_runners_schedule_fairly(backend: Backend) {
    let db = db(backend).await;
    let s = &db.store;
    let owner = user(s, "owner").await;
    let busy = project(s, &owner, "busy").await;
    let quiet = project(s, &owner, "quiet").await;
    // `busy` queues first, so by age alone it would get everything.
    started_pipeline(s, &busy, &owner, jobs("b", 4, &[])).await;
    started_pipeline(s, &quiet, &owner, jobs("q", 2, &[])).await;
    let (_, m) = runner(s, NewRunner::instance()).await;
    let mut order = Vec::new();
    while let Some(c) = s.claim_job(&m, false, Millis::now()).await.unwrap() {
        order.push(c.job.project_id);
    }
    // Each claim goes to the project with fewer jobs running on instance runners
    // (ties: the oldest job): busy, quiet, busy, quiet, busy, busy.
    let b = busy.id;
    let q = quiet.id;
    assert_eq!(order, [b, q, b, q, b, b]);
    let running = s.instance_running().await.unwrap();
    assert_eq!(running, vec![(b, 4), (q, 2)]);
    // Finishing a job gives its project's slot back.
    let pl = s.list_pipelines(&Default::default(), kiln_store::Page::all()).await.unwrap();
    let quiet_pipeline = pl.items.iter().find(|p| p.project_id == q).unwrap();
    let ev = kiln_pipeline::Event::JobSucceeded { job: kiln_pipeline::JobId(0) };
    s.handle_event(quiet_pipeline.id, &ev, kiln_store::effects::ApplyOptions::now()).await.unwrap();
    assert_eq!(s.instance_running().await.unwrap(), vec![(b, 4), (q, 1)]);
}

async fn pending_jobs_wake_subscribers(backend: Backend) {
    let db = db(backend).await;
    let s = &db.store;
    let replica = db.reopen().await.unwrap();
    let (owner, p) = setup(s).await;
    let mut here = s.queue_events();
    let mut there = replica.queue_events();
    let before = *here.version.borrow();
    let pl = started_pipeline(s, &p, &owner, jobs("w", 3, &[])).await;
    tokio::time::timeout(Duration::from_secs(5), here.version.changed()).await.unwrap().unwrap();
    assert!(*here.version.borrow() > before);
    let ids = tokio::time::timeout(Duration::from_secs(5), here.jobs.recv()).await.unwrap().unwrap();
    assert_eq!(ids.len(), 3);
    let jobs = s
        .list_jobs(
            &kiln_store::jobs::JobFilter { pipeline: Some(pl.id), ..Default::default() },
            kiln_store::Page::all(),
        )
        .await
        .unwrap();
    assert!(ids.iter().all(|id| jobs.items.iter().any(|j| j.id == *id)));
    match backend {
        // The other replica hears of it through LISTEN/NOTIFY.
        Backend::Postgres => {
            let ids = tokio::time::timeout(Duration::from_secs(5), there.jobs.recv()).await.unwrap().unwrap();
            assert_eq!(ids.len(), 3);
        }
        // SQLite is one process's database: a second handle in the same process is
        // not notified, which is why the server shares one `Store`.
        Backend::Sqlite => assert!(there.jobs.try_recv().is_err()),
    }
}

async fn runner_tokens_and_managers(backend: Backend) {
    let db = db(backend).await;
    let s = &db.store;
    let (r, token) = s
        .create_runner(&NewRunner { tags: vec!["b".into(), "a".into(), "a".into()], ..NewRunner::instance() })
        .await
        .unwrap();
    assert!(token.starts_with("glrt-"));
    assert_eq!(r.tags, ["a", "b"]);
    let now = Millis::now();
    assert_eq!(s.runner_by_token(&token, now).await.unwrap().id, r.id);
    assert!(matches!(s.runner_by_token("glrt-nope", now).await, Err(Error::NotFound(_))));
    let (_, new_token) = s.reset_runner_token(r.id, Some(Millis(now.0 + 1000))).await.unwrap();
    assert!(s.runner_by_token(&token, now).await.is_err(), "old token stops working");
    assert!(s.runner_by_token(&new_token, now).await.is_ok());
    assert!(s.runner_by_token(&new_token, Millis(now.0 + 1000)).await.is_err(), "expired");
    // Managers: created on first contact, contact written at most once a minute.
    let info = ManagerInfo { system_id: "s_abc".into(), version: "17.0".into(), ..Default::default() };
    let m1 = s.touch_runner_manager(r.id, &info, now).await.unwrap();
    let m2 = s.touch_runner_manager(r.id, &info, Millis(now.0 + 5_000)).await.unwrap();
    assert_eq!(m1, m2, "no write within a minute");
    let m3 = s.touch_runner_manager(r.id, &info, Millis(now.0 + 61_000)).await.unwrap();
    assert_eq!(m3.contacted_at, Some(Millis(now.0 + 61_000)));
    let upgraded = ManagerInfo { version: "17.1".into(), ..info.clone() };
    assert_eq!(
        s.touch_runner_manager(r.id, &upgraded, Millis(now.0 + 62_000)).await.unwrap().version,
        "17.1"
    );
    assert_eq!(s.runner_managers(r.id).await.unwrap().len(), 1);
    let updated =
        s.update_runner(r.id, &RunnerUpdate { paused: Some(true), ..Default::default() }).await.unwrap();
    assert!(updated.paused);
    // Registration tokens.
    let reg = s.reset_runner_registration_token().await.unwrap();
    s.check_runner_registration_token(&reg).await.unwrap();
    s.update_instance_settings(|st| st.allow_runner_registration_token = false).await.unwrap();
    assert!(s.check_runner_registration_token(&reg).await.is_err());
    s.delete_runner_manager(r.id, "s_abc").await.unwrap();
    s.delete_runner(r.id).await.unwrap();
    assert!(s.runner(r.id).await.is_err());
}

async fn claimed_job_runs_with_a_job_token(backend: Backend) {
    let db = db(backend).await;
    let s = &db.store;
    let (owner, p) = setup(s).await;
    let pl = started_pipeline(s, &p, &owner, vec![job("build", 0, &[]), job("test", 1, &[])]).await;
    let (r, m) = runner(s, NewRunner::instance()).await;
    let build = s.job_by_number(pl.id, kiln_pipeline::JobId(0)).await.unwrap().id;
    // The online runner could take it: it is not among the jobs without one.
    assert!(s.jobs_without_online_runner(&[build], Millis(0)).await.unwrap().is_empty());
    assert_eq!(s.first_stage_index(pl.id).await.unwrap(), Some(0));
    let later = started_pipeline(s, &p, &owner, vec![job("deploy", 3, &[]), job("notify", 2, &[])]).await;
    assert_eq!(s.first_stage_index(later.id).await.unwrap(), Some(2));
    let claimed = s.claim_job(&m, true, Millis::now()).await.unwrap().unwrap();
    assert!(claimed.token.starts_with("glcbt-"));
    assert_eq!(s.job_by_token(&claimed.token).await.unwrap().id, claimed.job.id);
    assert_eq!(claimed.job.runner_id, Some(r.id));
    assert_eq!(claimed.job.runner_manager_id, Some(m.manager));
    // The claim asked for processing, which moves the pipeline to running.
    let (id, _) = s.pipelines_to_process(10).await.unwrap()[0];
    assert_eq!(id, pl.id);
    s.handle_event(pl.id, &kiln_pipeline::Event::Process, kiln_store::effects::ApplyOptions::now())
        .await
        .unwrap();
    assert_eq!(s.pipeline(pl.id).await.unwrap().status, Status::Running);
    let state = s.pipeline_state(pl.id).await.unwrap();
    assert!(state.jobs[0].graceful_cancel);
    assert_eq!(state.jobs[0].status, Status::Running);
}

async fn claims_process_a_pipeline_only_until_it_runs(backend: Backend) {
    let db = db(backend).await;
    let s = &db.store;
    let (owner, p) = setup(s).await;
    let pl = started_pipeline(s, &p, &owner, jobs("j", 3, &[])).await;
    let (_, m) = runner(s, NewRunner::instance()).await;
    s.claim_job(&m, false, Millis::now()).await.unwrap().unwrap();
    let requests = s.pipelines_to_process(10).await.unwrap();
    assert_eq!(requests.len(), 1);
    let (id, requested_at) = requests[0];
    assert_eq!(id, pl.id);
    s.handle_event(pl.id, &kiln_pipeline::Event::Process, kiln_store::effects::ApplyOptions::now())
        .await
        .unwrap();
    s.processing_done(id, requested_at).await.unwrap();
    assert_eq!(s.pipeline(pl.id).await.unwrap().status, Status::Running);
    // A running pipeline stays running whatever job starts: no processing.
    s.claim_job(&m, false, Millis::now()).await.unwrap().unwrap();
    s.claim_job(&m, false, Millis::now()).await.unwrap().unwrap();
    assert!(s.pipelines_to_process(10).await.unwrap().is_empty());
    let state = s.pipeline_state(pl.id).await.unwrap();
    assert!(state.jobs.iter().all(|j| j.status == Status::Running));
    assert_eq!(s.pipeline(pl.id).await.unwrap().status, Status::Running);
}
