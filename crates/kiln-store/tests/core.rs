//! Users and tokens, namespaces and projects, pipelines and the compare-and-set
//! application of `kiln_pipeline` effects, on SQLite and PostgreSQL.

mod common;

use common::*;
use kiln_pipeline::{Effect, Event, JobId, JobTransition, Status, Timestamp};
use kiln_store::effects::ApplyOptions;
use kiln_store::jobs::JobFilter;
use kiln_store::namespaces::AccessLevel;
use kiln_store::pipelines::PipelineFilter;
use kiln_store::projects::{NewProtectedRef, ProjectUpdate, RefKind};
use kiln_store::users::TokenScope;
use kiln_store::{Backend, Error, Millis, Page};

on_both_backends!(
    tokens_are_hashed_and_authenticate,
    users_are_unique,
    projects_and_access,
    protected_refs_match_wildcards,
    pipeline_creation_and_state,
    effects_are_compare_and_set,
    concurrent_writers_converge,
    migrations_are_idempotent,
    retry_creates_a_new_job,
    processing_requests_survive_until_done,
);

async fn tokens_are_hashed_and_authenticate(backend: Backend) {
    let db = db(backend).await;
    let s = &db.store;
    let alice = user(s, "alice").await;
    let (record, token) =
        s.create_personal_access_token(alice.id, "ci", &[TokenScope::Api], None).await.unwrap();
    assert!(token.starts_with("glpat-"));
    let now = Millis::now();
    let (who, used) = s.authenticate_personal_access_token(&token, now).await.unwrap();
    assert_eq!(who.id, alice.id);
    assert_eq!(used.id, record.id);
    assert_eq!(used.scopes, vec![TokenScope::Api]);
    assert!(matches!(
        s.authenticate_personal_access_token("glpat-wrong", now).await,
        Err(Error::NotFound(_))
    ));
    // The clear token is nowhere in the database.
    let reopened = db.reopen().await.unwrap();
    drop(reopened);
    let raw = dump(&db).await;
    assert!(!raw.contains(&token), "token stored in clear");
    assert!(raw.contains(&kiln_store::token::digest(&token)));
    // Expired and revoked tokens stop working.
    let (_, short) = s
        .create_personal_access_token(alice.id, "short", &[TokenScope::ReadApi], Some(Millis(now.0 - 1)))
        .await
        .unwrap();
    assert!(s.authenticate_personal_access_token(&short, now).await.is_err());
    s.revoke_personal_access_token(record.id).await.unwrap();
    assert!(s.authenticate_personal_access_token(&token, now).await.is_err());
    assert_eq!(s.list_personal_access_tokens(alice.id).await.unwrap().len(), 2);
}

/// Every text value of the tables that hold secrets, concatenated.
async fn dump(db: &kiln_store::testing::TestDb) -> String {
    let mut out = String::new();
    for token in db.store.list_personal_access_tokens(kiln_store::UserId(1)).await.unwrap() {
        out.push_str(&format!("{token:?}"));
    }
    // Read the raw column through a second connection of the test's own.
    let digests = raw_token_digests(db).await;
    out.push_str(&digests.join(","));
    out
}

async fn raw_token_digests(db: &kiln_store::testing::TestDb) -> Vec<String> {
    use sqlx::Row;
    match db.store.backend() {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
            let rows = sqlx::query("SELECT * FROM personal_access_tokens").fetch_all(&pool).await.unwrap();
            rows.iter()
                .flat_map(|r| ["name", "token_digest", "scopes"].map(|c| r.try_get::<String, _>(c).unwrap()))
                .collect()
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
            let rows = sqlx::query("SELECT * FROM personal_access_tokens").fetch_all(&pool).await.unwrap();
            rows.iter()
                .flat_map(|r| ["name", "token_digest", "scopes"].map(|c| r.try_get::<String, _>(c).unwrap()))
                .collect()
        }
    }
}

async fn users_are_unique(backend: Backend) {
    let db = db(backend).await;
    let s = &db.store;
    user(s, "bob").await;
    let again = s
        .create_user(&kiln_store::users::NewUser {
            username: "bob".into(),
            name: "Bob".into(),
            email: "other@example.com".into(),
            password_digest: None,
            admin: false,
        })
        .await;
    assert!(matches!(again, Err(Error::Conflict(_))), "{again:?}");
    assert_eq!(s.user_by_username("BOB").await.unwrap().username, "bob");
    assert!(matches!(s.user(kiln_store::UserId(999)).await, Err(Error::NotFound(_))));
    assert_eq!(s.user_namespace(s.user_by_username("bob").await.unwrap().id).await.unwrap().full_path, "bob");
}

async fn projects_and_access(backend: Backend) {
    let db = db(backend).await;
    let s = &db.store;
    let owner = user(s, "owner").await;
    let dev = user(s, "dev").await;
    let stranger = user(s, "stranger").await;
    let p = project(s, &owner, "app").await;
    assert_eq!(p.full_path, "grp/app");
    assert_eq!(s.project_by_path("GRP/App").await.unwrap().id, p.id);
    s.set_project_member(p.id, dev.id, AccessLevel::Developer).await.unwrap();
    assert_eq!(s.project_access(p.id, owner.id).await.unwrap(), Some(AccessLevel::Owner));
    assert_eq!(s.project_access(p.id, dev.id).await.unwrap(), Some(AccessLevel::Developer));
    assert_eq!(s.project_access(p.id, stranger.id).await.unwrap(), None);
    let listed = s
        .list_projects(
            &kiln_store::projects::ProjectFilter { member: Some(dev.id), ..Default::default() },
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(listed.total, 1);
    let none = s
        .list_projects(
            &kiln_store::projects::ProjectFilter { member: Some(stranger.id), ..Default::default() },
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(none.total, 0);
    let updated = s
        .update_project(
            p.id,
            &ProjectUpdate {
                ci_config_path: Some("ci/main.yml".into()),
                build_timeout: Some(600),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.ci_config_path, "ci/main.yml");
    assert_eq!(updated.build_timeout, 600);
    assert_eq!(updated.default_branch, "main");
    assert!(s.instance_runners_enabled(p.id).await.unwrap());
    s.set_group_shared_runners(p.namespace_id, false).await.unwrap();
    assert!(!s.instance_runners_enabled(p.id).await.unwrap());
    let dup = s
        .create_project(&kiln_store::projects::NewProject {
            namespace: p.namespace_id,
            name: "App".into(),
            path: "app".into(),
            description: String::new(),
            visibility: kiln_store::namespaces::Visibility::Private,
            default_branch: "main".into(),
            creator: None,
        })
        .await;
    assert!(matches!(dup, Err(Error::Conflict(_))));
}

async fn protected_refs_match_wildcards(backend: Backend) {
    let db = db(backend).await;
    let s = &db.store;
    let owner = user(s, "owner").await;
    let p = project(s, &owner, "app").await;
    let rule = |name: &str| NewProtectedRef {
        kind: RefKind::Branch,
        name: name.into(),
        push_access_level: Some(AccessLevel::Maintainer),
        merge_access_level: Some(AccessLevel::Maintainer),
        allow_force_push: false,
    };
    s.protect_ref(p.id, &rule("main")).await.unwrap();
    s.protect_ref(p.id, &rule("release/*")).await.unwrap();
    s.protect_ref(p.id, &rule("main")).await.unwrap();
    assert_eq!(s.protected_refs(p.id, RefKind::Branch).await.unwrap().len(), 2);
    assert!(s.is_protected_ref(p.id, RefKind::Branch, "main").await.unwrap());
    assert!(s.is_protected_ref(p.id, RefKind::Branch, "release/1.2").await.unwrap());
    assert!(!s.is_protected_ref(p.id, RefKind::Branch, "feature").await.unwrap());
    assert!(!s.is_protected_ref(p.id, RefKind::Tag, "main").await.unwrap());
    s.unprotect_ref(p.id, RefKind::Branch, "main").await.unwrap();
    assert!(!s.is_protected_ref(p.id, RefKind::Branch, "main").await.unwrap());
}

async fn pipeline_creation_and_state(backend: Backend) {
    let db = db(backend).await;
    let s = &db.store;
    let owner = user(s, "owner").await;
    let p = project(s, &owner, "app").await;
    let jobs = vec![job("build", 0, &[]), job("test", 1, &["docker"]), manual("deploy", 2)];
    let (first, state) = s.create_pipeline(&new_pipeline(&p, &owner, jobs.clone())).await.unwrap();
    let (second, _) = s.create_pipeline(&new_pipeline(&p, &owner, jobs)).await.unwrap();
    assert_eq!((first.iid, second.iid), (1, 2));
    assert_eq!(state.jobs.len(), 3);
    assert!(state.jobs.iter().all(|j| j.status == Status::Created));
    assert_eq!(state.definitions[1].name, "test");
    // Processing makes the first stage pending and the pipeline pending.
    let handled = s.handle_event(first.id, &Event::Process, ApplyOptions::now()).await.unwrap();
    assert_eq!(handled.applied.enqueued.len(), 1);
    let state = s.pipeline_state(first.id).await.unwrap();
    assert_eq!(state.jobs[0].status, Status::Pending);
    assert_eq!(state.status, Status::Pending);
    assert_eq!(s.pipeline(first.id).await.unwrap().status, Status::Pending);
    assert_eq!(s.pending_count().await.unwrap(), 1);
    // Processing again changes nothing.
    let again = s.handle_event(first.id, &Event::Process, ApplyOptions::now()).await.unwrap();
    assert!(again.outcome.effects.is_empty());
    let listed = s
        .list_pipelines(&PipelineFilter { project: Some(p.id), ..Default::default() }, Page::new(1, 1))
        .await
        .unwrap();
    assert_eq!(listed.total, 2);
    assert_eq!(listed.items[0].id, second.id, "newest first");
    let jobs = s
        .list_jobs(&JobFilter { pipeline: Some(first.id), ..Default::default() }, Page::default())
        .await
        .unwrap();
    assert_eq!(jobs.items.iter().map(|j| j.name.as_str()).collect::<Vec<_>>(), ["deploy", "test", "build"]);
    assert_eq!(jobs.items[1].tags, ["docker"]);
    let pending = s
        .list_jobs(
            &JobFilter { pipeline: Some(first.id), statuses: vec![Status::Pending], ..Default::default() },
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(pending.total, 1);
    let spec = s.job_spec(jobs.items[2].id).await.unwrap();
    assert_eq!(spec["name"], "build");
    // A plan with two jobs of one name is refused before anything is written.
    let bad = s.create_pipeline(&new_pipeline(&p, &owner, vec![job("x", 0, &[]), job("x", 1, &[])])).await;
    assert!(matches!(bad, Err(Error::Invalid(_))));
    // Deleting removes the pipeline and its jobs.
    s.delete_pipeline(second.id).await.unwrap();
    assert!(matches!(s.pipeline(second.id).await, Err(Error::NotFound(_))));
}

fn transition(job: u32, from: Status, to: Status) -> Effect {
    Effect::SetJobStatus(JobTransition {
        job: JobId(job),
        from,
        to,
        at: Timestamp(1_700_000_000),
        failure_reason: None,
        exit_code: None,
        force_allow_failure: false,
        scheduled_at: None,
        graceful_cancel: None,
    })
}

async fn effects_are_compare_and_set(backend: Backend) {
    let db = db(backend).await;
    let s = &db.store;
    let owner = user(s, "owner").await;
    let p = project(s, &owner, "app").await;
    let (pl, _) =
        s.create_pipeline(&new_pipeline(&p, &owner, vec![job("a", 0, &[]), job("b", 0, &[])])).await.unwrap();
    let o = ApplyOptions::now();
    // All or nothing: the second effect expects a wrong status, so the first is undone.
    let effects =
        [transition(0, Status::Created, Status::Pending), transition(1, Status::Running, Status::Success)];
    assert!(matches!(s.apply_effects(pl.id, &effects, o).await, Err(Error::Conflict(_))));
    let state = s.pipeline_state(pl.id).await.unwrap();
    assert_eq!(state.jobs[0].status, Status::Created);
    assert_eq!(s.pending_count().await.unwrap(), 0);
    // The same effect twice: the second application loses.
    let once = [transition(0, Status::Created, Status::Pending)];
    s.apply_effects(pl.id, &once, o).await.unwrap();
    assert!(matches!(s.apply_effects(pl.id, &once, o).await, Err(Error::Conflict(_))));
    assert_eq!(s.pending_count().await.unwrap(), 1);
    // Leaving pending leaves the queue.
    s.apply_effects(pl.id, &[transition(0, Status::Pending, Status::Canceled)], o).await.unwrap();
    assert_eq!(s.pending_count().await.unwrap(), 0);
    // Pipeline status is a compare-and-set too.
    let set = [Effect::SetPipelineStatus { from: Status::Created, to: Status::Running }];
    s.apply_effects(pl.id, &set, o).await.unwrap();
    assert!(matches!(s.apply_effects(pl.id, &set, o).await, Err(Error::Conflict(_))));
    let row = s.pipeline(pl.id).await.unwrap();
    assert_eq!(row.status, Status::Running);
    assert!(row.started_at.is_some());
}

/// Several writers process and finish the same pipeline at once (two replicas):
/// every job ends exactly once and the pipeline ends `success`.
async fn concurrent_writers_converge(backend: Backend) {
    let db = db(backend).await;
    let s = db.store.clone();
    let other = db.reopen().await.unwrap();
    let owner = user(&s, "owner").await;
    let p = project(&s, &owner, "app").await;
    let jobs: Vec<_> = (0..12).map(|i| job(&format!("j{i}"), i % 3, &[])).collect();
    let (pl, _) = s.create_pipeline(&new_pipeline(&p, &owner, jobs)).await.unwrap();
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let store = if worker % 2 == 0 { s.clone() } else { other.clone() };
        tasks.push(tokio::spawn(async move {
            let mut conflicts = 0;
            for _ in 0..200 {
                let state = store.pipeline_state(pl.id).await.unwrap();
                if state.status.is_complete() {
                    break;
                }
                // Pick a job to move on: pending → running, running → success.
                let Some(job) =
                    state.jobs.iter().find(|j| matches!(j.status, Status::Pending | Status::Running))
                else {
                    let _ = store.handle_event(pl.id, &Event::Process, ApplyOptions::now()).await.unwrap();
                    continue;
                };
                let event = if job.status == Status::Pending {
                    Event::JobRunning { job: job.id, graceful_cancel: false }
                } else {
                    Event::JobSucceeded { job: job.id }
                };
                let outcome = kiln_pipeline::handle(&state, &event, Millis::now().to_timestamp()).unwrap();
                match store.apply_effects(pl.id, &outcome.effects, ApplyOptions::now()).await {
                    Ok(_) => {}
                    Err(Error::Conflict(_)) => conflicts += 1,
                    Err(e) => panic!("{e}"),
                }
            }
            conflicts
        }));
    }
    let mut conflicts = 0;
    for t in tasks {
        conflicts += t.await.unwrap();
    }
    let state = s.pipeline_state(pl.id).await.unwrap();
    assert_eq!(state.status, Status::Success, "{state:#?}");
    assert_eq!(state.jobs.len(), 12, "no job duplicated");
    assert!(state.jobs.iter().all(|j| j.status == Status::Success));
    assert_eq!(s.pending_count().await.unwrap(), 0);
    // Racing writers really raced.
    assert!(conflicts > 0, "expected lost compare-and-sets between 8 writers");
}

async fn migrations_are_idempotent(backend: Backend) {
    let db = db(backend).await;
    let owner = user(&db.store, "owner").await;
    db.store.close().await;
    for _ in 0..3 {
        let again = db.reopen().await.unwrap();
        assert_eq!(again.user(owner.id).await.unwrap().username, "owner");
        again.close().await;
    }
}

async fn retry_creates_a_new_job(backend: Backend) {
    let db = db(backend).await;
    let s = &db.store;
    let owner = user(s, "owner").await;
    let other = user(s, "other").await;
    let p = project(s, &owner, "app").await;
    let pl = started_pipeline(s, &p, &owner, vec![job("build", 0, &[])]).await;
    let o = ApplyOptions::now();
    s.handle_event(pl.id, &Event::JobRunning { job: JobId(0), graceful_cancel: false }, o).await.unwrap();
    let failed = Event::JobFailed {
        job: JobId(0),
        reason: kiln_pipeline::FailureReason::ScriptFailure,
        exit_code: Some(2),
    };
    s.handle_event(pl.id, &failed, o).await.unwrap();
    assert_eq!(s.pipeline(pl.id).await.unwrap().status, Status::Failed);
    let given = vec![kiln_pipeline::JobVariable { key: "DEBUG".into(), value: "1".into() }];
    let retry = Event::RetryJob { job: JobId(0), variables: given.clone(), runnable: true };
    s.handle_event(pl.id, &retry, ApplyOptions { actor: Some(other.id), ..o }).await.unwrap();
    let state = s.pipeline_state(pl.id).await.unwrap();
    assert_eq!(state.jobs.len(), 2);
    assert!(state.jobs[0].retried);
    assert_eq!(state.jobs[0].failure_reason, Some(kiln_pipeline::FailureReason::ScriptFailure));
    assert_eq!(state.jobs[0].exit_code, Some(2));
    assert_eq!(state.jobs[1].status, Status::Pending);
    let new = s.job_by_number(pl.id, JobId(1)).await.unwrap();
    assert_eq!(new.user_id, Some(other.id), "a retry runs as the person who retried");
    assert_eq!(new.name, "build");
    assert_eq!(s.job_variables(new.id).await.unwrap(), given, "the retry's variables");
    let (spec, variables) = s.job_spec_and_variables(new.id).await.unwrap();
    assert_eq!((spec["name"].as_str(), variables), (Some("build"), given.clone()));
    let first = s.job_by_number(pl.id, JobId(0)).await.unwrap();
    assert!(s.job_variables(first.id).await.unwrap().is_empty());
    // Retrying a retried job is refused by the state machine.
    assert!(matches!(s.handle_event(pl.id, &retry, o).await, Err(Error::Rejected(_))));
}

async fn processing_requests_survive_until_done(backend: Backend) {
    let db = db(backend).await;
    let s = &db.store;
    let owner = user(s, "owner").await;
    let p = project(s, &owner, "app").await;
    let (pl, _) = s.create_pipeline(&new_pipeline(&p, &owner, vec![job("a", 0, &[])])).await.unwrap();
    let queued = s.pipelines_to_process(10).await.unwrap();
    assert_eq!(queued.len(), 1);
    let (id, version) = queued[0];
    assert_eq!(id, pl.id);
    // A new request while processing keeps the pipeline queued.
    s.request_processing(pl.id).await.unwrap();
    assert!(!s.processing_done(id, version).await.unwrap());
    let (_, version) = s.pipelines_to_process(10).await.unwrap()[0];
    assert!(s.processing_done(id, version).await.unwrap());
    assert!(s.pipelines_to_process(10).await.unwrap().is_empty());
}
