//! The job payload field by field, as GitLab's `BuildRunnerPresenter` and the
//! `JobRequest::Response` entity produce it.

use kiln_api::artifacts::ArtifactFormat;
use kiln_api::job::{DockerOptions, ExecutorOptions, KubernetesOptions, RefType, ServiceVariable};
use kiln_api::{
    ArtifactsFile, CacheSpec as WireCache, Dependency, GitInfo, Hook, Image, JobArtifact, JobFeatures,
    JobInfo, JobResponse, RunnerInfo, Service, Step,
};
use kiln_config::plan::spec::{ArtifactsSpec, CacheSpec, ImageSpec, JobSpec, ServiceSpec};

use crate::cache_key::{CacheKeyFiles, key_string};
use crate::environment::Environment;
use crate::facts::{
    DependencyFacts, JobFacts, PipelineFacts, ProjectFacts, RunnerFacts, ServerFacts, UserFacts,
};
use crate::variables::{Item, VariableSources, expanded_lookup, runner_variables};
use crate::{predefined, release};

/// Everything one payload is computed from.
#[derive(Clone, Copy)]
pub struct PayloadInput<'a> {
    pub server: &'a ServerFacts,
    pub project: &'a ProjectFacts,
    pub pipeline: &'a PipelineFacts,
    pub user: Option<&'a UserFacts>,
    pub runner: &'a RunnerFacts,
    pub job: &'a JobFacts,
    pub spec: &'a JobSpec,
    pub variables: &'a VariableSources,
    /// The jobs whose artifacts this job downloads, in pipeline order.
    pub dependencies: &'a [DependencyFacts],
    pub cache_keys: &'a dyn CacheKeyFiles,
}

impl std::fmt::Debug for PayloadInput<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PayloadInput")
            .field("job", &self.job.id)
            .field("spec", &self.spec.name)
            .finish_non_exhaustive()
    }
}

/// Every failure reason Rails knows (`Enums::Ci::CommitStatus.failure_reasons`),
/// sent as `features.failure_reasons` so that runners map the others.
pub const FAILURE_REASONS: &[&str] = &[
    "unknown_failure",
    "script_failure",
    "api_failure",
    "stuck_or_timeout_failure",
    "runner_system_failure",
    "missing_dependency_failure",
    "runner_unsupported",
    "stale_schedule",
    "job_execution_timeout",
    "archived_failure",
    "unmet_prerequisites",
    "scheduler_failure",
    "data_integrity_failure",
    "forward_deployment_failure",
    "user_blocked",
    "project_deleted",
    "ci_quota_exceeded",
    "pipeline_loop_detected",
    "no_matching_runner",
    "trace_size_exceeded",
    "builds_disabled",
    "environment_creation_failure",
    "deployment_rejected",
    "failed_outdated_deployment_job",
    "job_execution_server_timeout",
    "stuck_pending_with_matching_runners",
    "stuck_pending_no_matching_runners",
    "no_updates_running",
    "no_updates_canceling",
    "server_timeout_running",
    "server_timeout_canceling",
    "runner_configuration_error",
    "runner_external_dependency_failure",
    "runner_interrupted",
    "protected_environment_failure",
    "insufficient_bridge_permissions",
    "downstream_bridge_project_not_found",
    "invalid_bridge_trigger",
    "upstream_bridge_project_not_found",
    "insufficient_upstream_permissions",
    "bridge_pipeline_is_child_pipeline",
    "downstream_pipeline_creation_failed",
    "secrets_provider_not_found",
    "reached_max_descendant_pipelines_depth",
    "ip_restriction_failure",
    "reached_max_pipeline_hierarchy_size",
    "reached_downstream_pipeline_trigger_rate_limit",
    "duo_workflow_not_allowed",
    "job_router_failure",
    "job_token_expired",
    "id_token_burned_project_path",
    "downstream_project_trigger_resolved_to_empty",
];

/// The prefixes of the tokens Kiln issues, which runners mask in job logs.
pub const TOKEN_MASK_PREFIXES: &[&str] = &["glpat-", "glcbt-", "glrt-", "glptt-"];

/// The job's timeout in seconds: its own `timeout:`, else the project's,
/// capped by the runner's `maximum_timeout`.
pub fn job_timeout(spec: &JobSpec, project: &ProjectFacts, runner: &RunnerFacts) -> u64 {
    let timeout = spec.timeout.unwrap_or(project.timeout);
    runner.maximum_timeout.map_or(timeout, |max| timeout.min(max))
}

/// The clone URL with the job token in it, as GitLab's `Ci::Build#repo_url`:
/// only `http://` and `https://` URLs get credentials.
pub fn repo_url(http_url_to_repo: &str, token: &str) -> String {
    for scheme in ["https://", "http://"] {
        if let Some(rest) = http_url_to_repo.strip_prefix(scheme) {
            return format!("{scheme}gitlab-ci-token:{token}@{rest}");
        }
    }
    http_url_to_repo.to_string()
}

/// The job's variables in precedence order, before expansion.
pub fn variable_items(input: &PayloadInput<'_>) -> Vec<Item> {
    let environment = environment(input);
    collect(input, environment.as_ref())
}

fn collect(input: &PayloadInput<'_>, environment: Option<&Environment>) -> Vec<Item> {
    let PayloadInput { server, project, pipeline, job, spec, .. } = *input;
    let repo = repo_url(&project.http_url_to_repo(server), &job.token);
    let mut items = predefined::persisted(server, project, pipeline, job, &repo);
    items.extend(predefined::job(spec, pipeline, environment));
    items.extend(predefined::project(server, project));
    items.extend(predefined::pipeline(pipeline));
    items.extend(predefined::runner(input.runner));
    items.extend(spec.variables.iter().map(|v| Item { raw: v.raw, ..Item::public(&v.key, &v.value) }));
    items.extend(predefined::user(input.user));
    for dep in input.dependencies {
        items.extend(dep.dotenv.iter().map(|(k, v)| Item::secret(k, v)));
    }
    items.extend(input.variables.settings_items(pipeline.protected, environment.map(|e| e.name.as_str())));
    items.extend(input.variables.pipeline_items());
    items.extend(job.play_variables.iter().map(|(k, v)| Item::secret(k, v)));
    items.extend(predefined::environment(environment));
    items
}

/// The job's environment with its name expanded against the variables GitLab
/// uses for that (`simple_variables`: everything but environment-scoped ones).
fn environment(input: &PayloadInput<'_>) -> Option<Environment> {
    let spec = input.spec.environment.as_ref()?;
    let plain = collect(input, None);
    let lookup = expanded_lookup(&plain);
    Environment::new(spec, kiln_expr::expand(&spec.name, &lookup))
}

/// The `201` body of `POST /jobs/request` for this job.
pub fn job_payload(input: &PayloadInput<'_>) -> JobResponse {
    let PayloadInput { server, project, pipeline, job, spec, runner, .. } = *input;
    let environment = environment(input);
    let items = collect(input, environment.as_ref());
    let depth = git_depth(&items, project);
    let timeout = i64::try_from(job_timeout(spec, project, runner)).unwrap_or(i64::MAX);
    let id = i64::try_from(job.id).unwrap_or(i64::MAX);
    JobResponse {
        id,
        token: job.token.clone(),
        allow_git_fetch: project.allow_git_fetch,
        job_info: JobInfo {
            id,
            name: spec.name.clone(),
            stage: spec.stage.clone(),
            project_id: i64::try_from(project.id).unwrap_or(i64::MAX),
            project_name: if project.title.is_empty() {
                project.name().to_string()
            } else {
                project.title.clone()
            },
            project_full_path: Some(project.path.clone()),
            namespace_id: i64::try_from(project.namespace_id).ok(),
            user_id: input.user.and_then(|u| i64::try_from(u.id).ok()),
            time_in_queue_seconds: job.time_in_queue_seconds,
            project_jobs_running_on_instance_runners_count: Some("+Inf".into()),
            ..JobInfo::default()
        },
        git_info: GitInfo {
            repo_url: repo_url(&project.http_url_to_repo(server), &job.token),
            ref_name: pipeline.ref_name.clone(),
            sha: pipeline.commit.sha.clone(),
            before_sha: pipeline.commit.before_sha.clone().unwrap_or_else(|| predefined::BLANK_SHA.into()),
            ref_type: if pipeline.tag { RefType::Tag } else { RefType::Branch },
            refspecs: refspecs(pipeline, depth),
            depth,
            repo_object_format: Some("sha1".into()),
            protected: Some(pipeline.protected),
        },
        runner_info: RunnerInfo { timeout, runner_session_url: None, uuid: None },
        variables: runner_variables(items),
        steps: steps(spec, timeout),
        hooks: hooks(spec),
        image: spec.image.as_ref().map(image),
        services: spec.services.iter().map(service).collect(),
        artifacts: spec.artifacts.as_ref().map(artifacts),
        cache: spec.cache.iter().enumerate().map(|(i, c)| cache(i, c, input)).collect(),
        credentials: Vec::new(),
        features: JobFeatures {
            trace_sections: true,
            failure_reasons: FAILURE_REASONS.iter().map(|s| s.to_string()).collect(),
            token_mask_prefixes: TOKEN_MASK_PREFIXES.iter().map(|s| s.to_string()).collect(),
        },
        dependencies: input
            .dependencies
            .iter()
            .map(|d| Dependency {
                id: i64::try_from(d.id).unwrap_or(i64::MAX),
                name: d.name.clone(),
                // Newer GitLab hands out the running job's token here.
                token: job.token.clone(),
                artifacts_file: d.artifacts_file.as_ref().map(|(filename, size)| ArtifactsFile {
                    filename: filename.clone(),
                    size: i64::try_from(*size).unwrap_or(i64::MAX),
                }),
            })
            .collect(),
        run: None,
        secrets: None,
        policy_options: None,
        inputs: Vec::new(),
    }
}

/// `GIT_DEPTH` of the job's variables (the last one, unexpanded, read as
/// Ruby's `to_i` reads it), else the project's default.
fn git_depth(items: &[Item], project: &ProjectFacts) -> i64 {
    match items.iter().rev().find(|i| i.key == "GIT_DEPTH") {
        Some(item) => ruby_to_i(&item.value),
        None => project.default_git_depth.map_or(0, i64::from),
    }
}

fn ruby_to_i(s: &str) -> i64 {
    let s = s.trim_start();
    let (sign, digits) = match s.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, s.strip_prefix('+').unwrap_or(s)),
    };
    let end = digits.find(|c: char| !c.is_ascii_digit()).unwrap_or(digits.len());
    digits.get(..end).and_then(|d| d.parse::<i64>().ok()).map_or(0, |n| sign * n)
}

/// The pipeline's persistent ref first; with a shallow clone only the job's
/// branch or tag, otherwise every branch and tag.
fn refspecs(pipeline: &PipelineFacts, depth: i64) -> Vec<String> {
    let persistent = format!("refs/pipelines/{}", pipeline.id);
    let mut specs = vec![format!("+{persistent}:{persistent}")];
    let branch = |r: &str| format!("+refs/heads/{r}:refs/remotes/origin/{r}");
    let tag = |r: &str| format!("+refs/tags/{r}:refs/tags/{r}");
    if depth > 0 {
        specs.push(if pipeline.tag { tag(&pipeline.ref_name) } else { branch(&pipeline.ref_name) });
    } else {
        specs.push(branch("*"));
        specs.push(tag("*"));
    }
    specs
}

fn steps(spec: &JobSpec, timeout: i64) -> Vec<Step> {
    let mut steps = vec![Step {
        name: "script".into(),
        script: spec.before_script.iter().chain(&spec.script).cloned().collect(),
        timeout,
        when: kiln_api::job::When::OnSuccess,
        allow_failure: false,
    }];
    if let Some(r) = &spec.release {
        steps.push(Step {
            name: "release".into(),
            script: release::script(r),
            timeout,
            when: kiln_api::job::When::OnSuccess,
            allow_failure: false,
        });
    }
    if !spec.after_script.is_empty() {
        steps.push(Step {
            name: "after_script".into(),
            script: spec.after_script.clone(),
            timeout,
            when: kiln_api::job::When::Always,
            allow_failure: true,
        });
    }
    steps
}

fn hooks(spec: &JobSpec) -> Vec<Hook> {
    if spec.pre_get_sources_script.is_empty() {
        return Vec::new();
    }
    vec![Hook { name: "pre_get_sources_script".into(), script: spec.pre_get_sources_script.clone() }]
}

fn executor_opts(i: &ImageSpec) -> Option<ExecutorOptions> {
    let docker = (i.docker_platform.is_some() || i.docker_user.is_some()).then(|| DockerOptions {
        platform: i.docker_platform.clone().unwrap_or_default(),
        user: i.docker_user.clone(),
    });
    let kubernetes = i.kubernetes_user.clone().map(|user| KubernetesOptions { user: Some(user) });
    (docker.is_some() || kubernetes.is_some()).then_some(ExecutorOptions { docker, kubernetes })
}

fn image(i: &ImageSpec) -> Image {
    Image {
        name: i.name.clone(),
        alias: None,
        entrypoint: i.entrypoint.clone(),
        ports: Vec::new(),
        executor_opts: executor_opts(i),
        pull_policy: (!i.pull_policy.is_empty()).then(|| i.pull_policy.clone()),
    }
}

fn service(s: &ServiceSpec) -> Service {
    Service {
        name: s.image.name.clone(),
        alias: s.alias.clone(),
        entrypoint: s.image.entrypoint.clone(),
        command: s.command.clone(),
        ports: Vec::new(),
        executor_opts: executor_opts(&s.image),
        pull_policy: (!s.image.pull_policy.is_empty()).then(|| s.image.pull_policy.clone()),
        variables: s
            .variables
            .iter()
            .map(|v| ServiceVariable { key: v.key.clone(), value: v.value.clone() })
            .collect(),
    }
}

/// The archive (when the job has paths or `untracked`) and one entry per report.
fn artifacts(a: &ArtifactsSpec) -> Vec<JobArtifact> {
    let mut list = Vec::new();
    if a.untracked || !a.paths.is_empty() {
        list.push(JobArtifact {
            name: a.name.clone().unwrap_or_default(),
            untracked: a.untracked,
            paths: a.paths.clone(),
            exclude: a.exclude.clone(),
            when: kiln_api::job::When::parse(&a.when),
            expire_in: a.expire_in.clone().unwrap_or_default(),
            artifact_type: "archive".into(),
            artifact_format: ArtifactFormat::Zip,
        });
    }
    for report in &a.reports {
        let (artifact_type, paths) = match (report.kind.as_str(), &report.coverage_format) {
            ("coverage_report", Some(format)) => (format.clone(), report.paths.clone()),
            (kind, _) => (kind.to_string(), report.paths.clone()),
        };
        let (format, file_name) = report_format(&artifact_type);
        list.push(JobArtifact {
            name: file_name.to_string(),
            untracked: false,
            paths,
            exclude: Vec::new(),
            when: kiln_api::job::When::Always,
            expire_in: a.expire_in.clone().unwrap_or_default(),
            artifact_type,
            artifact_format: ArtifactFormat::parse(format),
        });
    }
    list
}

/// A report's format and default file name (`Enums::Ci::JobArtifact`).
pub fn report_format(artifact_type: &str) -> (&'static str, &'static str) {
    match artifact_type {
        "junit" => ("gzip", "junit.xml"),
        "metrics" => ("gzip", "metrics.txt"),
        "dotenv" => ("gzip", ".env"),
        "cobertura" => ("gzip", "cobertura-coverage.xml"),
        "jacoco" => ("gzip", "jacoco-coverage.xml"),
        "cluster_applications" => ("gzip", "gl-cluster-applications.json"),
        "lsif" => ("zip", "lsif.json"),
        "cyclonedx" => ("gzip", "gl-sbom.cdx.json"),
        "annotations" => ("gzip", "gl-annotations.json"),
        "repository_xray" => ("gzip", "gl-repository-xray.json"),
        "sast" => ("raw", "gl-sast-report.json"),
        "secret_detection" => ("raw", "gl-secret-detection-report.json"),
        "dependency_scanning" => ("raw", "gl-dependency-scanning-report.json"),
        "container_scanning" => ("raw", "gl-container-scanning-report.json"),
        "cluster_image_scanning" => ("raw", "gl-cluster-image-scanning-report.json"),
        "dast" => ("raw", "gl-dast-report.json"),
        "license_scanning" => ("raw", "gl-license-scanning-report.json"),
        "accessibility" => ("raw", "gl-accessibility.json"),
        "codequality" => ("raw", "gl-code-quality-report.json"),
        "performance" => ("raw", "performance.json"),
        "browser_performance" => ("raw", "browser-performance.json"),
        "load_performance" => ("raw", "load-performance.json"),
        "terraform" => ("raw", "tfplan.json"),
        "requirements" => ("raw", "requirements.json"),
        "requirements_v2" => ("raw", "requirements_v2.json"),
        "coverage_fuzzing" => ("raw", "gl-coverage-fuzzing.json"),
        "api_fuzzing" => ("raw", "gl-api-fuzzing-report.json"),
        _ => ("raw", ""),
    }
}

/// One cache entry: the key (computed from files for `key:files`), the
/// project's cache index, and the `-protected` / `-non_protected` suffix of
/// separated caches, on the key and on every fallback key. Keys keep their
/// `$VARIABLE` references: the runner expands them.
fn cache(index: usize, c: &CacheSpec, input: &PayloadInput<'_>) -> WireCache {
    let key = key_string(index, &c.key, input.cache_keys);
    let mut suffixes: Vec<String> = Vec::new();
    if let Some(index) = input.project.cache_index {
        suffixes.push(index.to_string());
    }
    if input.project.separated_caches {
        let protected = !c.unprotect && input.pipeline.protected;
        suffixes.push(if protected { "protected" } else { "non_protected" }.to_string());
    }
    let with_suffix = |k: &str| suffixes.iter().fold(k.to_string(), |acc, s| format!("{acc}-{s}"));
    WireCache {
        key: with_suffix(&key),
        untracked: c.untracked,
        paths: c.paths.clone(),
        policy: kiln_api::job::CachePolicy::parse(&c.policy),
        when: kiln_api::job::When::parse(&c.when),
        fallback_keys: c.fallback_keys.iter().map(|k| with_suffix(k)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ruby_integers() {
        assert_eq!(ruby_to_i("10"), 10);
        assert_eq!(ruby_to_i(" 5abc"), 5);
        assert_eq!(ruby_to_i("abc"), 0);
        assert_eq!(ruby_to_i("-3"), -3);
        assert_eq!(ruby_to_i(""), 0);
    }

    #[test]
    fn repo_urls_get_the_token_only_over_http() {
        assert_eq!(
            repo_url("https://gitlab.example.com/a/b.git", "glcbt-x"),
            "https://gitlab-ci-token:glcbt-x@gitlab.example.com/a/b.git"
        );
        assert_eq!(repo_url("http://127.0.0.1:1/a.git", "t"), "http://gitlab-ci-token:t@127.0.0.1:1/a.git");
        assert_eq!(repo_url("file:///srv/repo.git", "t"), "file:///srv/repo.git");
    }
}
