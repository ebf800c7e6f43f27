//! Downstream pipelines of trigger jobs: child pipelines (`trigger:include`,
//! same project, commit and ref, source `parent_pipeline`) and multi-project
//! pipelines (`trigger:project`, source `pipeline`). Creation is idempotent:
//! a replayed request finds the pipeline it created before.

use kiln_config::plan::spec::{ChildIncludeSpec, JobSpec, TriggerSpec};
use kiln_pipeline::{Event, FailureReason, JobId, PipelineId};
use kiln_store::effects::ApplyOptions;
use kiln_store::pipelines::{Pipeline, PipelineFilter, PipelineSource, PipelineVariable};
use kiln_store::projects::RefKind;
use kiln_store::users::TokenScope;
use kiln_store::variables::VariableType;

use crate::access::{self, Action};
use crate::api::pipelines::resolve_project_ref;
use crate::app::App;
use crate::ci::create::{self, ConfigSource, CreateRequest, Creation, GitRef};
use crate::http::auth::Caller;

/// The `include:` of a child pipeline's configuration.
fn child_config(includes: &[ChildIncludeSpec]) -> Result<String, FailureReason> {
    let mut entries = Vec::new();
    for include in includes {
        let entry = match include {
            ChildIncludeSpec::Local { path } => serde_json::json!({ "local": path }),
            ChildIncludeSpec::Template { name } => serde_json::json!({ "template": name }),
            ChildIncludeSpec::Remote { url } => serde_json::json!({ "remote": url }),
            ChildIncludeSpec::Component { path } => serde_json::json!({ "component": path }),
            ChildIncludeSpec::Project { project, files, git_ref } => {
                let mut e = serde_json::json!({ "project": project, "file": files });
                if let Some(r) = git_ref {
                    e["ref"] = serde_json::json!(r);
                }
                e
            }
            // Artifacts of the generating job come with the runner API.
            ChildIncludeSpec::Artifact { .. } => return Err(FailureReason::DownstreamPipelineCreationFailed),
        };
        entries.push(entry);
    }
    // JSON is YAML: the config processor reads it as written.
    serde_json::to_string(&serde_json::json!({ "include": entries }))
        .map_err(|_| FailureReason::InvalidBridgeTrigger)
}

/// The downstream pipeline a bridge created earlier, if any.
async fn existing(
    app: &App,
    bridge: &kiln_store::jobs::JobRecord,
    project: kiln_store::ProjectId,
) -> Option<Pipeline> {
    if let Some(id) = bridge.downstream_pipeline_id {
        return app.store.pipeline(id).await.ok();
    }
    let filter = PipelineFilter { project: Some(project), ..PipelineFilter::default() };
    let all = app.store.list_pipelines(&filter, kiln_store::Page::all()).await.ok()?;
    all.items.into_iter().find(|p| p.parent_job_id == Some(bridge.id))
}

/// Creates the downstream pipeline of `bridge` and reports the result to its pipeline.
pub(crate) async fn trigger(app: &App, pipeline: PipelineId, bridge: JobId) {
    let outcome = create_downstream(app, pipeline, bridge).await;
    let event = match outcome {
        Ok(child) => {
            report_status(app, &child).await;
            Event::DownstreamCreated { bridge }
        }
        Err(reason) => Event::DownstreamCreationFailed { bridge, reason },
    };
    if let Err(e) = app.store.handle_event(pipeline, &event, ApplyOptions::now()).await {
        tracing::debug!(pipeline = pipeline.0, error = %e, "downstream result not applied");
    }
}

fn failed<E>(_: E) -> FailureReason {
    FailureReason::DownstreamPipelineCreationFailed
}

async fn create_downstream(
    app: &App,
    pipeline: PipelineId,
    bridge: JobId,
) -> Result<Pipeline, FailureReason> {
    let parent = app.store.pipeline(pipeline).await.map_err(failed)?;
    let job = app.store.job_by_number(pipeline, bridge).await.map_err(failed)?;
    let spec: JobSpec = serde_json::from_value(app.store.job_spec(job.id).await.map_err(failed)?)
        .map_err(|_| FailureReason::InvalidBridgeTrigger)?;
    let Some(trigger) = spec.trigger.clone() else { return Err(FailureReason::InvalidBridgeTrigger) };
    let user = match job.user_id.or(parent.user_id) {
        Some(id) => Some(app.store.user(id).await.map_err(failed)?),
        None => None,
    };
    let (forward_yaml, forward_pipeline) = match &trigger {
        TriggerSpec::Child { forward_yaml_variables, forward_pipeline_variables, .. }
        | TriggerSpec::Project { forward_yaml_variables, forward_pipeline_variables, .. } => {
            (*forward_yaml_variables, *forward_pipeline_variables)
        }
    };
    let mut variables: Vec<PipelineVariable> = Vec::new();
    if forward_yaml {
        variables.extend(spec.variables.iter().map(|v| PipelineVariable {
            key: v.key.clone(),
            value: v.value.clone(),
            variable_type: VariableType::EnvVar,
        }));
    }
    if forward_pipeline {
        variables.extend(parent.variables.iter().cloned());
    }
    let parent_project = app.store.project(parent.project_id).await.map_err(failed)?;
    let request = match &trigger {
        TriggerSpec::Child { include, .. } => {
            if let Some(found) = existing(app, &job, parent_project.id).await {
                return Ok(found);
            }
            let text = child_config(include)?;
            CreateRequest {
                project: parent_project,
                git_ref: if parent.tag {
                    GitRef::Tag(parent.ref_name.clone())
                } else {
                    GitRef::Branch(parent.ref_name.clone())
                },
                sha: kiln_git::Oid::parse(&parent.sha).ok(),
                before_sha: None,
                source: PipelineSource::ParentPipeline,
                user,
                variables,
                trigger: None,
                schedule: None,
                parent: Some((parent.id, job.id)),
                config: ConfigSource::Text { path: ".gitlab-ci.yml".into(), text },
                honour_skip_ci: false,
                push_option_skip: false,
                save_on_errors: true,
            }
        }
        TriggerSpec::Project { project, branch, .. } => {
            let Some(user) = user else { return Err(FailureReason::InsufficientBridgePermissions) };
            let caller = Caller::User { user: user.clone(), scopes: vec![TokenScope::Api] };
            let access = access::project(app, &caller, project)
                .await
                .map_err(|_| FailureReason::DownstreamBridgeProjectNotFound)?;
            if access.project.id == parent_project.id {
                return Err(FailureReason::InvalidBridgeTrigger);
            }
            if let Some(found) = existing(app, &job, access.project.id).await {
                return Ok(found);
            }
            let wanted = branch.clone().unwrap_or_else(|| access.project.default_branch.clone());
            let git_ref = resolve_project_ref(app, access.project.id, &wanted).await.map_err(failed)?;
            let kind = if git_ref.is_tag() { RefKind::Tag } else { RefKind::Branch };
            let allowed = access.can(Action::Develop)
                && access.can_update_ref(app, kind, git_ref.name()).await.unwrap_or(false);
            if !allowed {
                return Err(FailureReason::InsufficientBridgePermissions);
            }
            CreateRequest {
                project: access.project,
                git_ref,
                sha: None,
                before_sha: None,
                source: PipelineSource::Pipeline,
                user: Some(user),
                variables,
                trigger: None,
                schedule: None,
                parent: None,
                config: ConfigSource::Project,
                honour_skip_ci: false,
                push_option_skip: false,
                save_on_errors: true,
            }
        }
    };
    let multi_project = request.parent.is_none();
    match create::create_linked(app, request, multi_project.then_some(job.id)).await {
        Ok(Creation::Pipeline(child)) => {
            let _ = app.store.set_job_downstream(job.id, child.id).await;
            Ok(*child)
        }
        Ok(_) | Err(_) => Err(FailureReason::DownstreamPipelineCreationFailed),
    }
}

/// Tells the bridge of `child` (if any) the child's status (`strategy: depend`).
pub(crate) async fn report_status(app: &App, child: &Pipeline) {
    let Some(bridge_id) = child.parent_job_id else { return };
    let Ok(bridge) = app.store.job(bridge_id).await else { return };
    if bridge.status.is_complete() {
        return;
    }
    let event = Event::DownstreamStatus { bridge: bridge.number, status: child.status };
    match app.store.handle_event(bridge.pipeline_id, &event, ApplyOptions::now()).await {
        Ok(_) | Err(kiln_store::Error::Rejected(_)) => {}
        Err(e) => {
            tracing::debug!(pipeline = bridge.pipeline_id.0, error = %e, "downstream status not applied")
        }
    }
}
