//! From the config processor's plan to the state machine's input: a planned
//! job's [`JobDefinition`] and the pipeline's [`PipelineSettings`]. The
//! coordinator (when it creates a pipeline) and `kiln exec` (when it runs one
//! locally) both start a pipeline from here, so they cannot disagree on what a
//! keyword means to processing.

use kiln_config::plan::PipelinePlan;
use kiln_config::plan::spec::{JobSpec, JobWhen, TriggerSpec};

use crate::definition::{
    BridgeTarget, JobDefinition, JobKind, Need, OnJobFailure, OnNewCommit, PipelineSettings, Retry, When,
};
use crate::failure_reason::RetryOn;

/// The pipeline's `workflow:auto_cancel` as processing needs it.
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

/// One planned job's definition; `project_timeout` (the project's
/// `build_timeout`) applies when the job sets no `timeout`.
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

#[cfg(test)]
mod tests {
    use kiln_config::plan::spec::{NeedSpec, RetrySpec};

    use super::*;

    fn spec(name: &str) -> JobSpec {
        serde_json::from_value(serde_json::json!({
            "name": name, "stage": "test", "stage_index": 2, "when": "on_success", "allow_failure": false,
        }))
        .unwrap()
    }

    #[test]
    fn specs_become_definitions() {
        let mut s = spec("deploy");
        s.when = JobWhen::Delayed;
        s.start_in = Some("30 minutes".into());
        s.needs = Some(vec![NeedSpec { job: "build".into(), artifacts: true, optional: false }]);
        s.retry = RetrySpec { max: 2, when: vec!["script_failure".into()], exit_codes: vec![] };
        s.trigger = Some(TriggerSpec::Project {
            project: "g/p".into(),
            branch: None,
            strategy: Some("depend".into()),
            forward_yaml_variables: true,
            forward_pipeline_variables: false,
        });
        let d = definition(&s, 3600);
        assert_eq!((d.when, d.start_in, d.stage_index, d.timeout), (When::Delayed, Some(1800), 2, 3600));
        assert_eq!(d.needs.unwrap()[0].job, "build");
        assert_eq!(d.retry.max, Some(2));
        assert_eq!(d.retry.when.unwrap().len(), 1);
        assert_eq!(d.kind, JobKind::Bridge { target: BridgeTarget::Project, depend: true });
        assert_eq!(definition(&spec("x"), 600).retry, Retry::default());
    }
}
