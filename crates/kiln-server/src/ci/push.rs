//! Pipelines for a push: one per created or updated branch or tag (none for
//! deletions), with `before_sha`, `[skip ci]` and the `ci.skip` /
//! `ci.variable` push options. The push that creates the default branch
//! protects it first, as GitLab's default branch protection does, so its
//! first pipeline already sees a protected ref.
//!
//! A push is spooled to `<data-dir>/push-spool/` (written and synced) before
//! its pipelines are created, and the spool entry is removed after; a crash
//! in between is finished by [`replay_spool`] at the next start, which skips
//! pipelines that already exist.

use std::path::PathBuf;

use kiln_git::{Oid, PushEvent, PushHandler, PushOptions, RefKind};
use kiln_store::pipelines::{PipelineFilter, PipelineSource, PipelineVariable};
use kiln_store::projects::Project;
use kiln_store::users::User;
use kiln_store::variables::VariableType;
use kiln_store::{Page, ProjectId, UserId};
use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::ci::create::{self, ConfigSource, CreateRequest, Creation, GitRef};

/// One spooled push.
#[derive(Debug, Serialize, Deserialize)]
struct Spooled {
    project: i64,
    user: Option<i64>,
    updates: Vec<SpooledUpdate>,
    options: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct SpooledUpdate {
    name: String,
    tag: bool,
    before: Option<String>,
    after: String,
}

fn spool_dir(app: &App) -> PathBuf {
    app.config.data_dir.join("push-spool")
}

/// The handler `kiln-git` calls after a push changed refs.
pub(crate) fn handler(app: App, project: Project, user: Option<User>) -> PushHandler {
    Box::new(move |event: PushEvent| {
        Box::pin(async move {
            let spooled = Spooled {
                project: project.id.0,
                user: user.as_ref().map(|u| u.id.0),
                updates: event
                    .updates
                    .iter()
                    .filter_map(|u| {
                        Some(SpooledUpdate {
                            name: u.short_name().to_string(),
                            tag: u.kind == RefKind::Tag,
                            before: u.before.as_ref().map(ToString::to_string),
                            after: u.after.as_ref()?.to_string(),
                        })
                    })
                    .collect(),
                options: event.options,
            };
            if spooled.updates.is_empty() {
                return Ok(());
            }
            let file = write_spool(&app, &spooled).await.map_err(|e| format!("spooling the push: {e}"))?;
            run(&app, &project, user.as_ref(), &spooled, false).await;
            let _ = tokio::fs::remove_file(&file).await;
            Ok(())
        })
    })
}

async fn write_spool(app: &App, spooled: &Spooled) -> std::io::Result<PathBuf> {
    let dir = spool_dir(app);
    tokio::fs::create_dir_all(&dir).await?;
    let mut name = [0u8; 12];
    rand::TryRngCore::try_fill_bytes(&mut rand::rngs::OsRng, &mut name).map_err(std::io::Error::other)?;
    let name: String = name.iter().map(|b| format!("{b:02x}")).collect();
    let path = dir.join(format!("{name}.json"));
    let tmp = dir.join(format!("{name}.tmp"));
    let data = serde_json::to_vec(spooled).map_err(std::io::Error::other)?;
    let file_path = tmp.clone();
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut f = std::fs::File::create(&file_path)?;
        f.write_all(&data)?;
        f.sync_all()
    })
    .await
    .map_err(std::io::Error::other)??;
    tokio::fs::rename(&tmp, &path).await?;
    Ok(path)
}

/// Creates the pipelines of one push. `replay`: skip refs that already have
/// this push's pipeline (a previous run was cut short).
async fn run(app: &App, project: &Project, user: Option<&User>, push: &Spooled, replay: bool) {
    let options = PushOptions::parse(&push.options);
    let variables: Vec<PipelineVariable> = options
        .ci_variables
        .iter()
        .map(|(k, v)| PipelineVariable {
            key: k.clone(),
            value: v.clone(),
            variable_type: VariableType::EnvVar,
        })
        .collect();
    for update in &push.updates {
        let (Ok(after), before) = (Oid::parse(&update.after), update.before.as_deref().map(Oid::parse))
        else {
            continue;
        };
        let before = match before {
            Some(Ok(oid)) => oid,
            _ => Oid::zero(),
        };
        if replay && already_created(app, project.id, &update.name, &after, &before).await {
            continue;
        }
        if !update.tag && before.is_zero() && update.name == project.default_branch {
            protect_default_branch(app, project).await;
        }
        let request = CreateRequest {
            project: project.clone(),
            git_ref: if update.tag {
                GitRef::Tag(update.name.clone())
            } else {
                GitRef::Branch(update.name.clone())
            },
            sha: Some(after.clone()),
            before_sha: Some(before),
            source: PipelineSource::Push,
            user: user.cloned(),
            variables: variables.clone(),
            trigger: None,
            schedule: None,
            parent: None,
            config: ConfigSource::Project,
            honour_skip_ci: true,
            push_option_skip: options.ci_skip,
            save_on_errors: true,
        };
        match create::create(app, request).await {
            Ok(Creation::Pipeline(p)) => {
                tracing::info!(project = project.id.0, pipeline = p.id.0, r#ref = %update.name, status = %p.status, "push pipeline");
            }
            Ok(Creation::NotCreated { reason }) => {
                tracing::info!(project = project.id.0, r#ref = %update.name, %reason, "no pipeline for push");
            }
            Ok(Creation::Invalid { .. }) => {}
            Err(e) => {
                tracing::warn!(project = project.id.0, r#ref = %update.name, error = ?e, "creating push pipeline failed");
            }
        }
    }
}

/// GitLab's default `default_branch_protection_defaults`: maintainers push
/// and merge, nobody force-pushes. A branch already covered by a rule (the
/// project's maintainers chose) is left as it is.
async fn protect_default_branch(app: &App, project: &Project) {
    use kiln_store::namespaces::AccessLevel;
    use kiln_store::projects::{NewProtectedRef, RefKind as StoreRefKind};
    let branch = &project.default_branch;
    match app.store.is_protected_ref(project.id, StoreRefKind::Branch, branch).await {
        Ok(true) => return,
        Ok(false) => {}
        Err(e) => {
            tracing::warn!(project = project.id.0, error = %e, "cannot read protected branches");
            return;
        }
    }
    let rule = NewProtectedRef {
        kind: StoreRefKind::Branch,
        name: branch.clone(),
        push_access_level: Some(AccessLevel::Maintainer),
        merge_access_level: Some(AccessLevel::Maintainer),
        allow_force_push: false,
    };
    if let Err(e) = app.store.protect_ref(project.id, &rule).await {
        tracing::warn!(project = project.id.0, %branch, error = %e, "cannot protect the default branch");
    }
}

async fn already_created(app: &App, project: ProjectId, ref_name: &str, sha: &Oid, before: &Oid) -> bool {
    let filter = PipelineFilter {
        project: Some(project),
        ref_name: Some(ref_name.to_string()),
        sha: Some(sha.to_string()),
        source: Some(PipelineSource::Push),
        ..PipelineFilter::default()
    };
    match app.store.list_pipelines(&filter, Page::all()).await {
        Ok(page) => page.items.iter().any(|p| p.before_sha.as_deref() == Some(before.as_str())),
        Err(_) => false,
    }
}

/// Finishes pushes a crash cut short.
pub(crate) async fn replay_spool(app: &App) {
    let dir = spool_dir(app);
    let Ok(mut entries) = tokio::fs::read_dir(&dir).await else { return };
    while let Ok(Some(entry)) = entries.next_entry().await {
        let path = entry.path();
        match path.extension().and_then(|e| e.to_str()) {
            Some("json") => {}
            Some("tmp") => {
                // Never acknowledged: the push itself failed for the client.
                let _ = tokio::fs::remove_file(&path).await;
                continue;
            }
            _ => continue,
        }
        let Ok(data) = tokio::fs::read(&path).await else { continue };
        let Ok(push) = serde_json::from_slice::<Spooled>(&data) else {
            let _ = tokio::fs::remove_file(&path).await;
            continue;
        };
        let Ok(project) = app.store.project(ProjectId(push.project)).await else {
            let _ = tokio::fs::remove_file(&path).await;
            continue;
        };
        let user = match push.user {
            Some(id) => app.store.user(UserId(id)).await.ok(),
            None => None,
        };
        run(app, &project, user.as_ref(), &push, true).await;
        let _ = tokio::fs::remove_file(&path).await;
    }
}
