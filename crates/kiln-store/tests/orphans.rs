//! Stuck-job detection: of the pending jobs, exactly those no online, unpaused
//! runner could take (tags, untagged jobs, protected refs, project, group and
//! instance scopes), on SQLite and PostgreSQL.

mod common;

use common::*;
use kiln_pipeline::Status;
use kiln_store::jobs::{JobFilter, JobRecord};
use kiln_store::pipelines::PlannedJob;
use kiln_store::projects::{Project, ProjectUpdate};
use kiln_store::runners::{ManagerInfo, NewRunner, Runner, RunnerAccessLevel, RunnerType};
use kiln_store::users::User;
use kiln_store::{Backend, BuildId, Millis, Page, Store};

on_both_backends!(orphans_are_the_jobs_no_online_runner_can_take);

/// Registers a runner; a manager of it contacts the coordinator at `contact`, if any.
async fn runner(s: &Store, new: NewRunner, contact: Option<Millis>) -> Runner {
    let (r, _) = s.create_runner(&new).await.unwrap();
    if let Some(at) = contact {
        let info = ManagerInfo { system_id: format!("s_{}", r.id), ..Default::default() };
        s.touch_runner_manager(r.id, &info, at).await.unwrap();
    }
    r
}

async fn pending(s: &Store) -> Vec<JobRecord> {
    let filter = JobFilter { statuses: vec![Status::Pending], ..Default::default() };
    s.list_jobs(&filter, Page::all()).await.unwrap().items
}

/// The names of `ids`, sorted.
fn names(jobs: &[JobRecord], ids: &[BuildId]) -> Vec<String> {
    let mut names: Vec<String> =
        ids.iter().map(|id| jobs.iter().find(|j| j.id == *id).unwrap().name.clone()).collect();
    names.sort();
    names
}

/// A pipeline on `ref_name` (protected or not) with its first jobs pending.
async fn pipeline(s: &Store, p: &Project, owner: &User, protected: bool, jobs: Vec<PlannedJob>) {
    let mut new = new_pipeline(p, owner, jobs);
    new.protected = protected;
    new.ref_name = if protected { "main".into() } else { "feature".into() };
    let (pl, _) = s.create_pipeline(&new).await.unwrap();
    s.handle_event(pl.id, &kiln_pipeline::Event::Process, kiln_store::effects::ApplyOptions::now())
        .await
        .unwrap();
}

async fn orphans_are_the_jobs_no_online_runner_can_take(backend: Backend) {
    let db = db(backend).await;
    let s = &db.store;
    let owner = user(s, "owner").await;
    // grp/app, grp/sub/lib, other/tool; tool does not use instance runners.
    let [app, lib, tool] = scoped_projects(s, &owner).await;
    let no_instance = ProjectUpdate { shared_runners_enabled: Some(false), ..Default::default() };
    s.update_project(tool.id, &no_instance).await.unwrap();

    let mut app_jobs = vec![job("app-docker", 0, &["docker"]), job("app-gpu", 0, &["docker", "gpu"])];
    // Many untagged jobs: the runners are asked about all of them at once.
    app_jobs.extend((0..40).map(|i| job(&format!("app-untagged-{i:02}"), 0, &[])));
    pipeline(s, &app, &owner, true, app_jobs).await;
    pipeline(s, &lib, &owner, false, vec![job("lib-feature", 0, &[]), job("lib-docker", 0, &["docker"])])
        .await;
    pipeline(
        s,
        &tool,
        &owner,
        true,
        vec![job("tool-arm", 0, &["arm"]), job("tool-docker", 0, &["docker"]), job("tool-untagged", 0, &[])],
    )
    .await;
    let jobs = pending(s).await;
    assert_eq!(jobs.len(), 47);
    let ids: Vec<BuildId> = jobs.iter().map(|j| j.id).collect();
    let app_untagged: Vec<String> = (0..40).map(|i| format!("app-untagged-{i:02}")).collect();

    let now = Millis::now();
    let since = Millis(now.0 - 3_600_000);
    let orphans = || async { names(&jobs, &s.jobs_without_online_runner(&ids, since).await.unwrap()) };
    let everything = || NewRunner {
        tags: vec!["arm".into(), "docker".into(), "gpu".into()],
        run_untagged: true,
        ..NewRunner::instance()
    };

    // Runners that could take about anything, but are not online: paused, last
    // seen before `since`, never seen.
    runner(s, NewRunner { paused: true, ..everything() }, Some(now)).await;
    let stale = runner(
        s,
        NewRunner { runner_type: RunnerType::ProjectType, projects: vec![tool.id], ..everything() },
        Some(Millis(since.0 - 1)),
    )
    .await;
    runner(s, everything(), None).await;
    let mut all: Vec<String> = jobs.iter().map(|j| j.name.clone()).collect();
    all.sort();
    assert_eq!(orphans().await, all);
    assert_eq!(s.jobs_without_online_runner(&[], since).await.unwrap(), Vec::<BuildId>::new());

    // A project runner of tool, tagged arm only, takes tool's arm job.
    let tool_arm =
        NewRunner { runner_type: RunnerType::ProjectType, projects: vec![tool.id], ..NewRunner::instance() };
    runner(s, NewRunner { tags: vec!["arm".into()], run_untagged: false, ..tool_arm }, Some(now)).await;
    all.retain(|n| n != "tool-arm");
    assert_eq!(orphans().await, all);

    // A group runner of grp, seen exactly at `since`, takes the untagged jobs of
    // grp's projects and its subgroups', not other's.
    let grp_runner = NewRunner {
        runner_type: RunnerType::GroupType,
        group: Some(app.namespace_id),
        ..NewRunner::instance()
    };
    runner(s, grp_runner, Some(since)).await;
    all.retain(|n| !app_untagged.contains(n) && n != "lib-feature");
    assert_eq!(orphans().await, all);
    assert_eq!(all, ["app-docker", "app-gpu", "lib-docker", "tool-docker", "tool-untagged"]);

    // An instance runner for protected refs with docker and gpu: the app jobs
    // (a protected pipeline), not lib's feature branch, not tool (no instance runners).
    let protected = NewRunner {
        tags: vec!["docker".into(), "gpu".into()],
        run_untagged: false,
        access_level: RunnerAccessLevel::RefProtected,
        ..NewRunner::instance()
    };
    runner(s, protected, Some(now)).await;
    assert_eq!(orphans().await, ["lib-docker", "tool-docker", "tool-untagged"]);

    // An instance runner with docker for any ref takes lib-docker.
    runner(s, NewRunner { tags: vec!["docker".into()], ..NewRunner::instance() }, Some(now)).await;
    assert_eq!(orphans().await, ["tool-docker", "tool-untagged"]);

    // What the online runners actually claim leaves exactly those.
    let online: Vec<Runner> = s
        .list_runners(&Default::default(), Page::all())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|r| !r.paused && r.contacted_at.is_some_and(|at| at >= since))
        .collect();
    for r in &online {
        let managers = s.runner_managers(r.id).await.unwrap();
        let m = s.runner_match(r, managers[0].id).await.unwrap();
        while s.claim_job(&m, false, Millis::now()).await.unwrap().is_some() {}
    }
    let left = pending(s).await;
    let left_ids: Vec<BuildId> = left.iter().map(|j| j.id).collect();
    assert_eq!(names(&jobs, &left_ids), ["tool-docker", "tool-untagged"]);
    assert_eq!(
        names(&jobs, &s.jobs_without_online_runner(&left_ids, since).await.unwrap()),
        names(&jobs, &left_ids)
    );

    // The stale project runner of tool comes back: nothing is left without a runner.
    let info = ManagerInfo { system_id: format!("s_{}", stale.id), ..Default::default() };
    s.touch_runner_manager(stale.id, &info, Millis::now()).await.unwrap();
    assert!(s.jobs_without_online_runner(&left_ids, since).await.unwrap().is_empty());
}
