//! The variables a job's scripts see, and what the log masks.

use kiln_api::feature_flags::{DEFAULT_TOKEN_PREFIXES, FeatureFlag};
use kiln_api::{JobResponse, JobVariable};

use crate::config::RunnerConfig;
use crate::job::JobDirs;
use crate::trace::Masker;

fn var(key: &str, value: impl Into<String>) -> JobVariable {
    JobVariable::public(key, value)
}

/// The job's final variables, lowest precedence first: feature flag defaults, the
/// runner's `environment`, the runner's own variables, the job's, then the runner
/// version variables; values expanded (not `raw` ones; file variables as their paths).
pub fn runner_variables(
    job: &JobResponse,
    runner: &RunnerConfig,
    dirs: &JobDirs,
    concurrent_id: usize,
    project_concurrent_id: usize,
    shared: bool,
) -> Vec<JobVariable> {
    let mut vars = Vec::new();
    for flag in FeatureFlag::ALL {
        let on = runner.feature_flags.get(flag.name()).copied().unwrap_or(flag.default_value());
        vars.push(var(flag.name(), on.to_string()));
    }
    for entry in &runner.environment {
        if let Some((k, v)) = entry.split_once('=') {
            vars.push(var(k, v));
        }
    }
    vars.push(var("CI_BUILDS_DIR", dirs.builds_dir.clone()));
    vars.push(var("CI_PROJECT_DIR", dirs.project_dir.clone()));
    vars.push(var("CI_CONCURRENT_ID", concurrent_id.to_string()));
    vars.push(var("CI_CONCURRENT_PROJECT_ID", project_concurrent_id.to_string()));
    vars.push(var("CI_SERVER", "yes"));
    vars.push(var("CI_JOB_STATUS", "running"));
    vars.push(var("CI_JOB_TIMEOUT", job.timeout_seconds().to_string()));
    vars.push(var("RUNNER_TEMP_PROJECT_DIR", dirs.tmp_dir.clone()));
    vars.extend(job.variables.iter().cloned());
    vars.push(var(if shared { "CI_SHARED_ENVIRONMENT" } else { "CI_DISPOSABLE_ENVIRONMENT" }, "true"));
    vars.push(var("CI_RUNNER_VERSION", crate::version::VERSION));
    vars.push(var("CI_RUNNER_REVISION", crate::version::REVISION));
    vars.push(var(
        "CI_RUNNER_EXECUTABLE_ARCH",
        format!("{}/{}", crate::version::platform(), crate::version::architecture()),
    ));
    vars.push(var("CI_RUNNER_SHORT_TOKEN", runner.short_token()));
    let tmp = dirs.tmp_dir.clone();
    crate::vars::expand_all(&vars, |k| format!("{tmp}/{k}"))
}

/// Whether a feature flag is on for a job: a job variable of the flag's name wins over
/// `[runners.feature_flags]`, which wins over the default (gitlab-runner's
/// `IsFeatureFlagOn`; a value that is not a boolean counts as off).
pub fn feature_flag(job: &JobResponse, runner: &RunnerConfig, flag: FeatureFlag) -> bool {
    match job.variable(flag.name()) {
        Some(v) => parse_bool(v),
        None => runner.feature_flags.get(flag.name()).copied().unwrap_or(flag.default_value()),
    }
}

/// Go's `strconv.ParseBool`.
fn parse_bool(v: &str) -> bool {
    matches!(v, "1" | "t" | "T" | "true" | "TRUE" | "True")
}

/// The masker for a job: masked variable values and token prefixes.
pub fn build_masker(job: &JobResponse, runner: &RunnerConfig) -> Masker {
    // The job token is in the remote URL, and tools such as git-lfs print URLs in their
    // errors: it is masked even when no variable says so.
    let secrets = job
        .variables
        .iter()
        .filter(|v| v.masked && !v.value.is_empty())
        .map(|v| v.value.clone())
        .chain((!job.token.is_empty()).then(|| job.token.clone()));
    let mask_all = feature_flag(job, runner, FeatureFlag::MaskAllDefaultTokens);
    let mut prefixes: Vec<String> = job.features.token_mask_prefixes.clone();
    prefixes.push("glpat-".into());
    if mask_all {
        prefixes.extend(DEFAULT_TOKEN_PREFIXES.iter().map(|p| p.to_string()));
    }
    Masker::new(secrets, prefixes)
}
