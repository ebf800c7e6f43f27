//! Fixtures shared by the store tests, and the macro that runs each test on both
//! backends.

#![allow(dead_code, unreachable_pub)]

use kiln_pipeline::{JobDefinition, PipelineSettings, Status, When};
use kiln_store::namespaces::{NewGroup, Visibility};
use kiln_store::pipelines::{NewPipeline, Pipeline, PipelineSource, PlannedJob};
use kiln_store::projects::{NewProject, Project};
use kiln_store::testing::TestDb;
use kiln_store::users::{NewUser, User};
use kiln_store::{Backend, Store};

/// Runs each listed `async fn name(backend: Backend)` as `sqlite::name` and
/// `postgres::name`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(kiln_store::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(kiln_store::Backend::Postgres).await
                }
            )*
        }
    };
}

pub async fn db(backend: Backend) -> TestDb {
    TestDb::new(backend).await.unwrap()
}

pub async fn user(store: &Store, name: &str) -> User {
    store
        .create_user(&NewUser {
            username: name.into(),
            name: name.to_uppercase(),
            email: format!("{name}@example.com"),
            password_digest: None,
            admin: false,
        })
        .await
        .unwrap()
}

pub async fn project(store: &Store, owner: &User, path: &str) -> Project {
    let group = match store.namespace_by_path("grp").await {
        Ok(g) => g,
        Err(_) => store
            .create_group(
                &NewGroup {
                    name: "Group".into(),
                    path: "grp".into(),
                    parent: None,
                    visibility: Visibility::Private,
                    description: String::new(),
                },
                owner.id,
            )
            .await
            .unwrap(),
    };
    store
        .create_project(&NewProject {
            namespace: group.id,
            name: path.into(),
            path: path.into(),
            description: String::new(),
            visibility: Visibility::Private,
            default_branch: "main".into(),
            creator: Some(owner.id),
        })
        .await
        .unwrap()
}

pub fn job(name: &str, stage: u32, tags: &[&str]) -> PlannedJob {
    PlannedJob {
        definition: JobDefinition::new(name, stage),
        stage: format!("stage{stage}"),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        spec: serde_json::json!({ "name": name, "script": ["echo hi"] }),
    }
}

pub fn manual(name: &str, stage: u32) -> PlannedJob {
    let mut j = job(name, stage, &[]);
    j.definition.when = When::Manual;
    j
}

/// Three projects in three scopes: `grp/app`, `grp/sub/lib` (a subgroup) and
/// `other/tool` (another top-level group).
pub async fn scoped_projects(s: &Store, owner: &User) -> [Project; 3] {
    let app = project(s, owner, "app").await;
    let grp = s.namespace_by_path("grp").await.unwrap();
    let group = |name: &str, parent| NewGroup {
        name: name.into(),
        path: name.into(),
        parent,
        visibility: Visibility::Private,
        description: String::new(),
    };
    let sub = s.create_group(&group("sub", Some(grp.id)), owner.id).await.unwrap();
    let other = s.create_group(&group("other", None), owner.id).await.unwrap();
    let in_ns = |ns, path: &str| NewProject {
        namespace: ns,
        name: path.into(),
        path: path.into(),
        description: String::new(),
        visibility: Visibility::Private,
        default_branch: "main".into(),
        creator: None,
    };
    let lib = s.create_project(&in_ns(sub.id, "lib")).await.unwrap();
    let tool = s.create_project(&in_ns(other.id, "tool")).await.unwrap();
    [app, lib, tool]
}

pub fn new_pipeline(project: &Project, user: &User, jobs: Vec<PlannedJob>) -> NewPipeline {
    NewPipeline {
        project: project.id,
        sha: "a".repeat(40),
        before_sha: None,
        ref_name: "main".into(),
        tag: false,
        protected: true,
        source: PipelineSource::Push,
        user: Some(user.id),
        schedule: None,
        trigger: None,
        parent_pipeline: None,
        parent_job: None,
        settings: PipelineSettings::default(),
        variables: Vec::new(),
        status: Status::Created,
        failure_reason: None,
        yaml_errors: None,
        jobs,
    }
}

/// Creates a pipeline and processes it once, so its first jobs are pending.
pub async fn started_pipeline(
    store: &Store,
    project: &Project,
    user: &User,
    jobs: Vec<PlannedJob>,
) -> Pipeline {
    let (pipeline, _) = store.create_pipeline(&new_pipeline(project, user, jobs)).await.unwrap();
    store
        .handle_event(pipeline.id, &kiln_pipeline::Event::Process, kiln_store::effects::ApplyOptions::now())
        .await
        .unwrap();
    store.pipeline(pipeline.id).await.unwrap()
}
