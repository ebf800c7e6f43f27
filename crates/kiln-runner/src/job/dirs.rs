//! Where a job's files live: builds, project and cache directories.

use kiln_api::JobResponse;

use crate::executor::Environment;

/// A job's directories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobDirs {
    pub builds_dir: String,
    pub project_dir: String,
    pub tmp_dir: String,
    pub cache_dir: String,
}

/// The project path (`namespace/project`) with anything that could escape removed.
fn project_path(job: &JobResponse) -> String {
    let full = job
        .job_info
        .project_full_path
        .clone()
        .or_else(|| job.variable("CI_PROJECT_PATH").map(str::to_string))
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| {
            if job.job_info.project_name.is_empty() {
                format!("project-{}", job.job_info.project_id)
            } else {
                job.job_info.project_name.clone()
            }
        });
    let parts: Vec<&str> = full.split('/').filter(|s| !s.is_empty() && *s != "." && *s != "..").collect();
    if parts.is_empty() { format!("project-{}", job.job_info.project_id) } else { parts.join("/") }
}

/// Computes the directories: `<builds>/<short token>/<project concurrent id>/<path>` for a
/// shared builds directory, `<builds>/<path>` otherwise; `GIT_CLONE_PATH` may choose
/// another place inside the builds directory when `custom_build_dir` allows it.
pub fn job_dirs(
    job: &JobResponse,
    env: &Environment,
    short_token: &str,
    project_concurrent_id: usize,
    custom_build_dir: bool,
) -> Result<JobDirs, String> {
    let builds = env.builds_dir.trim_end_matches('/').to_string();
    let path = project_path(job);
    let default_dir = if env.builds_dir_is_shared {
        format!("{builds}/{short_token}/{project_concurrent_id}/{path}")
    } else {
        format!("{builds}/{path}")
    };
    let project_dir = match job.variable("GIT_CLONE_PATH").filter(|p| !p.is_empty()) {
        None => default_dir,
        Some(_) if !custom_build_dir => {
            return Err("setting GIT_CLONE_PATH is not allowed, enable `custom_build_dir` feature".into());
        }
        Some(p) => {
            let p = crate::vars::expand(p, &job.variables);
            let clean = p.trim_end_matches('/');
            if !clean.starts_with(&format!("{builds}/")) || clean.split('/').any(|s| s == "..") {
                return Err(format!("the GIT_CLONE_PATH=\"{p}\" has to be within \"{builds}\""));
            }
            clean.to_string()
        }
    };
    Ok(JobDirs {
        builds_dir: builds,
        tmp_dir: format!("{project_dir}.tmp"),
        project_dir,
        cache_dir: format!("{}/{path}", env.cache_dir.trim_end_matches('/')),
    })
}
