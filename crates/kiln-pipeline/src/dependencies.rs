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
