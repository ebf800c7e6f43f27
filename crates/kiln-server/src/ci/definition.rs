//! From the planner's [`JobSpec`]s to what the store persists: the state
//! machine's definition (see [`kiln_pipeline::from_plan`]) beside the full
//! specification.

use kiln_config::plan::spec::JobSpec;
use kiln_pipeline::from_plan::definition;
use kiln_store::pipelines::PlannedJob;

pub(crate) use kiln_pipeline::from_plan::settings;

/// One planned job; `project_timeout` is the project's `build_timeout`, used
/// when the job sets none.
pub(crate) fn planned_job(spec: &JobSpec, project_timeout: u64) -> Result<PlannedJob, serde_json::Error> {
    Ok(PlannedJob {
        definition: definition(spec, project_timeout),
        stage: spec.stage.clone(),
        tags: spec.tags.clone(),
        spec: serde_json::to_value(spec)?,
    })
}
