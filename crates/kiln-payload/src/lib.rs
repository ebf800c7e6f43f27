//! From a planned job to the runner's job payload: the one place that turns a
//! [`kiln_config::plan::spec::JobSpec`] into the `201` body of
//! `POST /api/v4/jobs/request` ([`kiln_api::JobResponse`]).
//!
//! The coordinator and `kiln exec` both call [`job_payload`] with plain facts
//! ([`facts`]): the server, the project, the pipeline, the user, the runner,
//! the job, the CI/CD variables defined outside the YAML
//! ([`VariableSources`]) and the dependencies whose artifacts the job
//! downloads. The crate reproduces what GitLab's `Ci::BuildRunnerPresenter`
//! and `API::Entities::Ci::JobRequest::*` send:
//!
//! - the predefined variables ([`predefined`]) and GitLab's order of
//!   precedence ([`variables`]), with the `public`, `masked`, `file` and `raw`
//!   flags, expanded as GitLab expands them before sending
//!   (`kiln_expr::ExpandAllOptions::RUNNER_PAYLOAD`);
//! - `git_info` (token in the clone URL, refspecs with `refs/pipelines/<id>`,
//!   depth), `runner_info.timeout` (capped by the runner's maximum), `steps`
//!   (`script`, `release`, `after_script`), `hooks`, `image`, `services`,
//!   `artifacts` (archive and reports with GitLab's types and formats),
//!   `cache` (with the protected suffix), `dependencies` and `features`.
//!
//! Pure: no I/O, no clock. Facts that need the repository
//! (`cache:key:files`) come in through [`CacheKeyFiles`]; [`resolve_cache_keys`]
//! fixes them when a pipeline is created, as GitLab does.

mod cache_key;
pub mod environment;
pub mod facts;
mod payload;
pub mod predefined;
mod release;
pub mod variables;

pub use cache_key::{CacheKeyFiles, NoFiles, key_string, resolve_cache_keys};
pub use facts::{
    CommitFacts, DependencyFacts, JobFacts, PipelineFacts, ProjectFacts, RunnerFacts, ServerFacts, UserFacts,
};
pub use payload::{
    FAILURE_REASONS, PayloadInput, TOKEN_MASK_PREFIXES, job_payload, job_timeout, repo_url, report_format,
    variable_items,
};
pub use variables::{CiVariable, Item, VariableSources, scope_matches};
