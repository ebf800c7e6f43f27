//! The planner's jobs as the state machine's definitions: the same mapping
//! the coordinator makes when it creates a pipeline.

use kiln_config::plan::PipelinePlan;
use kiln_config::plan::spec::{JobSpec, JobWhen, TriggerSpec};
use kiln_pipeline::{
    BridgeTarget, JobDefinition, JobKind, Need, OnJobFailure, OnNewCommit, PipelineSettings, Retry, RetryOn,
    When,
};

/// The pipeline's `workflow:auto_cancel`.
pub fn settings(plan: &PipelinePlan) -> PipelineSettings {
    PipelineSettings {
        on_new_commit: match plan.auto_cancel.on_new_commit.as_str() {
            "interruptible" => OnNewCommit::Interruptible,
            "none" => OnNewCommit::None,
            _ => OnNewCommit::Conservative,
        },
        on_job_failure: match plan.auto_cancel.on_job_failure.as_str() {
            "all" => OnJobFailure::All,
            _ => OnJobFailure::None,
        },
    }
}

/// One job's definition; `project_timeout` applies when the job sets none.
pub fn definition(spec: &JobSpec, project_timeout: u64) -> JobDefinition {
    let when = match spec.when {
        JobWhen::OnSuccess => When::OnSuccess,
        JobWhen::OnFailure => When::OnFailure,
        JobWhen::Always => When::Always,
        JobWhen::Manual => When::Manual,
        JobWhen::Delayed => When::Delayed,
    };
    let kind = match &spec.trigger {
        None => JobKind::Build,
        Some(TriggerSpec::Child { strategy, .. }) => {
            JobKind::Bridge { target: BridgeTarget::Child, depend: strategy.as_deref() == Some("depend") }
        }
        Some(TriggerSpec::Project { strategy, .. }) => {
            JobKind::Bridge { target: BridgeTarget::Project, depend: strategy.as_deref() == Some("depend") }
        }
    };
    let retry = if spec.retry.is_none() {
        Retry::default()
    } else {
        Retry {
            max: Some(u32::from(spec.retry.max)),
            when: (!spec.retry.when.is_empty())
                .then(|| spec.retry.when.iter().filter_map(|w| RetryOn::from_name(w)).collect()),
            exit_codes: (!spec.retry.exit_codes.is_empty())
                .then(|| spec.retry.exit_codes.iter().filter_map(|c| i32::try_from(*c).ok()).collect()),
        }
    };
    JobDefinition {
        name: spec.name.clone(),
        stage_index: u32::try_from(spec.stage_index).unwrap_or(u32::MAX),
        when,
        start_in: spec.start_in.as_deref().and_then(kiln_config::model::duration::parse_duration),
        allow_failure: spec.allow_failure,
        allow_failure_exit_codes: spec
            .allow_failure_exit_codes
            .iter()
            .filter_map(|c| i32::try_from(*c).ok())
            .collect(),
        needs: spec.needs.as_ref().map(|needs| {
            needs
                .iter()
                .map(|n| Need { job: n.job.clone(), optional: n.optional, artifacts: n.artifacts })
                .collect()
        }),
        dependencies: spec.dependencies.clone(),
        retry,
        resource_group: spec.resource_group.clone(),
        interruptible: spec.interruptible.unwrap_or(false),
        timeout: spec.timeout.unwrap_or(project_timeout),
        kind,
    }
}
