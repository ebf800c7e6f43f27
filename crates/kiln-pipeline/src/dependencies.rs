//! Whose artifacts a job downloads (`dependencies:` and `needs:artifacts`,
//! `Ci::BuildDependencies`), and the `missing_dependency_failure` check made when a
//! runner asks for the job.

use crate::failure_reason::FailureReason;
use crate::state::{JobId, PipelineState};

/// The current jobs whose artifacts `job` downloads: with `needs`, the needed jobs with
/// `artifacts: true`; otherwise every job of an earlier stage. `dependencies:` then
/// narrows the list by name, and `dependencies: []` empties it.
pub fn dependencies_of(state: &PipelineState, job: JobId) -> Vec<JobId> {
    let Some(def) = state.job(job).and_then(|j| state.definition_of(j)) else { return Vec::new() };
    if def.dependencies.as_ref().is_some_and(|d| d.is_empty()) {
        return Vec::new();
    }
    let candidates = state.current_jobs().filter(|j| j.id != job).filter(|j| {
        let Some(other) = state.definition_of(j) else { return false };
        match &def.needs {
            Some(needs) => needs.iter().any(|n| n.artifacts && n.job == other.name),
            None => other.stage_index < def.stage_index,
        }
    });
    candidates
        .filter(|j| def.dependencies.as_ref().is_none_or(|names| names.iter().any(|n| n == state.name_of(j))))
        .map(|j| j.id)
        .collect()
}

/// The failure for a job whose dependencies' artifacts are gone (expired or erased),
/// as reported by `artifacts_gone`; `None` when the job may run.
pub fn missing_dependency(
    state: &PipelineState,
    job: JobId,
    artifacts_gone: impl Fn(JobId) -> bool,
) -> Option<FailureReason> {
    dependencies_of(state, job)
        .into_iter()
        .any(artifacts_gone)
        .then_some(FailureReason::MissingDependencyFailure)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::{JobDefinition, Need, PipelineSettings};
    use crate::state::{PipelineId, Timestamp};

    fn state(defs: Vec<JobDefinition>) -> PipelineState {
        PipelineState::new(PipelineId(1), PipelineSettings::default(), defs, Timestamp(0)).unwrap()
    }

    #[test]
    fn earlier_stages_by_default_narrowed_by_dependencies() {
        let mut test = JobDefinition::new("test", 1);
        let mut only_a = JobDefinition::new("only_a", 1);
        only_a.dependencies = Some(vec!["a".into()]);
        let mut none = JobDefinition::new("none", 1);
        none.dependencies = Some(vec![]);
        test.dependencies = None;
        let s = state(vec![JobDefinition::new("a", 0), JobDefinition::new("b", 0), test, only_a, none]);
        assert_eq!(dependencies_of(&s, JobId(2)), vec![JobId(0), JobId(1)]);
        assert_eq!(dependencies_of(&s, JobId(3)), vec![JobId(0)]);
        assert!(dependencies_of(&s, JobId(4)).is_empty());
    }

    #[test]
    fn needs_without_artifacts_are_not_dependencies() {
        let mut d = JobDefinition::new("d", 1);
        d.needs = Some(vec![
            Need { job: "a".into(), optional: false, artifacts: true },
            Need { job: "b".into(), optional: false, artifacts: false },
        ]);
        let s = state(vec![JobDefinition::new("a", 0), JobDefinition::new("b", 0), d]);
        assert_eq!(dependencies_of(&s, JobId(2)), vec![JobId(0)]);
        assert_eq!(
            missing_dependency(&s, JobId(2), |j| j == JobId(0)),
            Some(FailureReason::MissingDependencyFailure)
        );
        assert_eq!(missing_dependency(&s, JobId(2), |j| j == JobId(1)), None);
    }
}
