//! The job payload: the `201` body of `POST /jobs/request` (Rails' `JobRequest::Response`,
//! gitlab-runner's `spec.Job`).

use serde::{Deserialize, Serialize};

use crate::wire_enum::wire_enum;

/// One job as the coordinator hands it to a runner.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobResponse {
    pub id: i64,
    /// The job token (also `CI_JOB_TOKEN`).
    pub token: String,
    pub allow_git_fetch: bool,
    pub job_info: JobInfo,
    pub git_info: GitInfo,
    pub runner_info: RunnerInfo,
    pub variables: Vec<JobVariable>,
    /// Absent for `run:` (CI steps) jobs.
    pub steps: Vec<Step>,
    pub hooks: Vec<Hook>,
    pub image: Option<Image>,
    pub services: Vec<Service>,
    pub artifacts: Option<Vec<JobArtifact>>,
    pub cache: Vec<CacheSpec>,
    pub credentials: Vec<Credentials>,
    pub features: JobFeatures,
    pub dependencies: Vec<Dependency>,
    /// JSON-encoded CI steps for `run:` jobs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// EE secrets, passed through untouched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secrets: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_options: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<JobInput>,
}

/// `job_info`: identity of the job and its project.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobInfo {
    pub id: i64,
    pub name: String,
    pub stage: String,
    pub project_id: i64,
    pub project_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_full_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pipeline_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root_namespace_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_uuid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scoped_user_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_in_queue_seconds: Option<f64>,
    /// A number, `"N+"` or `"+Inf"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_jobs_running_on_instance_runners_count: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_size: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_depth: Option<i64>,
}

wire_enum! {
    /// `git_info.ref_type`.
    #[derive(Default)]
    pub enum RefType {
        #[default]
        Branch = "branch",
        Tag = "tag",
    }
}

/// `git_info`: what to check out and from where.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GitInfo {
    /// HTTPS URL with `gitlab-ci-token:<job token>@` embedded.
    pub repo_url: String,
    #[serde(rename = "ref")]
    pub ref_name: String,
    pub sha: String,
    pub before_sha: String,
    pub ref_type: RefType,
    pub refspecs: Vec<String>,
    /// `0` means a full clone.
    pub depth: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repo_object_format: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protected: Option<bool>,
}

/// `runner_info`: the job timeout.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunnerInfo {
    /// Seconds; `<= 0` means the runner default (7200).
    pub timeout: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runner_session_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
}

/// One entry of `variables`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobVariable {
    pub key: String,
    pub value: String,
    pub public: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub internal: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub file: bool,
    pub masked: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub raw: bool,
}

impl JobVariable {
    /// A public, unmasked variable.
    pub fn public(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self { key: key.into(), value: value.into(), public: true, ..Self::default() }
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

wire_enum! {
    /// `when` of steps, artifacts and caches.
    #[derive(Default)]
    pub enum When {
        #[default]
        OnSuccess = "on_success",
        OnFailure = "on_failure",
        Always = "always",
    }
}

impl When {
    /// Whether something with this `when` runs after a job that succeeded (`true`) or
    /// failed (`false`). Empty and unknown values behave as `on_success`, as in
    /// gitlab-runner.
    pub fn applies(&self, job_succeeded: bool) -> bool {
        match self {
            Self::Always => true,
            Self::OnFailure => !job_succeeded,
            Self::OnSuccess | Self::Unknown(_) => job_succeeded,
        }
    }
}

/// One entry of `steps`: `script` (before_script + script), `release`, `after_script`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Step {
    pub name: String,
    pub script: Vec<String>,
    pub timeout: i64,
    pub when: When,
    pub allow_failure: bool,
}

/// One entry of `hooks` (`pre_get_sources_script`, `post_get_sources_script`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Hook {
    pub name: String,
    pub script: Vec<String>,
}

/// A port of an image or service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Port {
    pub number: i64,
    pub protocol: String,
    pub name: String,
}

/// `executor_opts` of an image or service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExecutorOptions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub docker: Option<DockerOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<KubernetesOptions>,
}

/// `executor_opts.docker`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DockerOptions {
    pub platform: String,
    #[serde(deserialize_with = "crate::job::string_or_int", skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// `executor_opts.kubernetes`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct KubernetesOptions {
    #[serde(deserialize_with = "crate::job::string_or_int", skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// A user given as a string or an integer (`user: 1000` or `user: "1000:1000"`).
pub(crate) fn string_or_int<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct V;
    impl serde::de::Visitor<'_> for V {
        type Value = Option<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a user name or id (string or integer)")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(V)
}

/// `image`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Image {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    pub entrypoint: Option<Vec<String>>,
    pub ports: Vec<Port>,
    pub executor_opts: Option<ExecutorOptions>,
    pub pull_policy: Option<Vec<String>>,
}

/// A service variable (`{key, value}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceVariable {
    pub key: String,
    pub value: String,
}

/// One entry of `services`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Service {
    pub name: String,
    pub alias: Option<String>,
    pub entrypoint: Option<Vec<String>>,
    pub command: Option<Vec<String>>,
    pub ports: Vec<Port>,
    pub executor_opts: Option<ExecutorOptions>,
    pub pull_policy: Option<Vec<String>>,
    pub variables: Vec<ServiceVariable>,
}

/// One entry of `artifacts`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobArtifact {
    pub name: String,
    #[serde(skip_serializing_if = "is_false")]
    pub untracked: bool,
    pub paths: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
    pub when: When,
    pub expire_in: String,
    pub artifact_type: String,
    pub artifact_format: crate::artifacts::ArtifactFormat,
}

wire_enum! {
    /// `cache[].policy`; empty means `pull-push`.
    #[derive(Default)]
    pub enum CachePolicy {
        #[default]
        PullPush = "pull-push",
        Pull = "pull",
        Push = "push",
    }
}

impl CachePolicy {
    /// Whether the cache is restored before the job.
    pub fn pulls(&self) -> bool {
        !matches!(self, Self::Push)
    }
    /// Whether the cache is saved after the job.
    pub fn pushes(&self) -> bool {
        !matches!(self, Self::Pull)
    }
}

/// One entry of `cache`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CacheSpec {
    pub key: String,
    pub untracked: bool,
    pub paths: Vec<String>,
    pub policy: CachePolicy,
    pub when: When,
    pub fallback_keys: Vec<String>,
}

/// One entry of `credentials` (`type` is `registry`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Credentials {
    #[serde(rename = "type")]
    pub kind: String,
    pub url: String,
    pub username: String,
    pub password: String,
}

/// `features`: what the coordinator wants from the runner's log and reports.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobFeatures {
    pub trace_sections: bool,
    pub failure_reasons: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub token_mask_prefixes: Vec<String>,
}

/// `dependencies[].artifacts_file`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ArtifactsFile {
    pub filename: String,
    pub size: i64,
}

/// One entry of `dependencies`: a job whose artifacts this job downloads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Dependency {
    pub id: i64,
    pub name: String,
    pub token: String,
    pub artifacts_file: Option<ArtifactsFile>,
}

/// One job input (`inputs[]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobInput {
    pub key: String,
    pub value: JobInputValue,
}

/// The value of a job input.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobInputValue {
    pub content: serde_json::Value,
    #[serde(rename = "type")]
    pub kind: String,
    pub sensitive: bool,
}

impl JobResponse {
    /// The job timeout in seconds, with gitlab-runner's default of 7200 when unset.
    pub fn timeout_seconds(&self) -> u64 {
        u64::try_from(self.runner_info.timeout).ok().filter(|t| *t > 0).unwrap_or(7200)
    }

    /// The value of a job variable (last one wins, as in gitlab-runner).
    pub fn variable(&self, key: &str) -> Option<&str> {
        self.variables.iter().rev().find(|v| v.key == key).map(|v| v.value.as_str())
    }
}
