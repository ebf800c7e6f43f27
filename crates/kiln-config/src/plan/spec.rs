//! The planner's output contract: plain, serializable job specifications.
//!
//! These mirror GitLab's per-build `options` and `yaml_variables`: what the
//! coordinator persists for each job and later turns into a runner payload.
//! They carry no spans and no YAML nodes, so the persisted form does not
//! change when the parser's internals do. Changing a field here changes what
//! is stored in databases: add fields with `#[serde(default)]`, never rename.

use serde::{Deserialize, Serialize};

/// Job `when:` after rules; `never` does not appear (such jobs are not planned).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobWhen {
    OnSuccess,
    OnFailure,
    Always,
    Manual,
    Delayed,
}

impl JobWhen {
    pub fn as_str(self) -> &'static str {
        match self {
            JobWhen::OnSuccess => "on_success",
            JobWhen::OnFailure => "on_failure",
            JobWhen::Always => "always",
            JobWhen::Manual => "manual",
            JobWhen::Delayed => "delayed",
        }
    }
}

/// A variable defined in the YAML (or by `parallel:matrix`, or by rules).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariableSpec {
    pub key: String,
    pub value: String,
    /// `expand: false`: the value is used as is, without `$VAR` expansion.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub raw: bool,
}

/// A need on a job of the same pipeline, after `parallel` expansion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeedSpec {
    pub job: String,
    pub artifacts: bool,
    pub optional: bool,
}

/// A need on a job of another pipeline (`needs:project` / `needs:pipeline`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrossNeedSpec {
    /// `group/project`, or `None` for `needs:pipeline`.
    #[serde(default)]
    pub project: Option<String>,
    #[serde(default, rename = "ref")]
    pub git_ref: Option<String>,
    /// The pipeline id (usually `$PARENT_PIPELINE_ID`) for `needs:pipeline`.
    #[serde(default)]
    pub pipeline: Option<String>,
    pub job: String,
    pub artifacts: bool,
    pub optional: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ImageSpec {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// `always`, `never`, `if-not-present`; empty lets the runner decide.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pull_policy: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker_platform: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker_user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_user: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ServiceSpec {
    #[serde(flatten)]
    pub image: ImageSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variables: Vec<VariableSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ArtifactsSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
    #[serde(default)]
    pub untracked: bool,
    /// `on_success`, `on_failure`, `always`.
    pub when: String,
    /// As written (`1 week`, `never`); the runner passes it on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_in: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expose_as: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reports: Vec<ReportSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportSpec {
    /// `junit`, `dotenv`, `coverage_report`, ...
    pub kind: String,
    pub paths: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage_format: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CacheKeySpec {
    /// A key to expand with the job's variables when the job runs.
    Literal { key: String },
    /// `files`: a hash of the files' blob ids at the pipeline's commit,
    /// computed by the coordinator (`kiln_payload::key_string`).
    Files { files: Vec<String>, prefix: Option<String> },
    /// `files_commits`: a hash of the last commits that changed the files.
    FilesCommits { files: Vec<String>, prefix: Option<String> },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheSpec {
    pub key: CacheKeySpec,
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(default)]
    pub untracked: bool,
    /// `pull`, `push`, `pull-push`, or text with variables.
    pub policy: String,
    pub when: String,
    #[serde(default)]
    pub unprotect: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fallback_keys: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RetrySpec {
    /// 0 to 2 retries.
    pub max: u8,
    /// Failure reasons; empty means `always`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub when: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exit_codes: Vec<i64>,
}

impl RetrySpec {
    /// No retries configured.
    pub fn is_none(&self) -> bool {
        self.max == 0 && self.when.is_empty() && self.exit_codes.is_empty()
    }
}

/// The `parallel` instance this job is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParallelSpec {
    /// 1-based (`CI_NODE_INDEX`).
    pub index: u32,
    /// `CI_NODE_TOTAL`.
    pub total: u32,
    /// The matrix values of this instance, empty for `parallel: N`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matrix: Vec<VariableSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentSpec {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_stop: Option<String>,
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_stop_in: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_tier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_namespace: Option<String>,
}

/// A trigger job's downstream pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TriggerSpec {
    /// Multi-project pipeline.
    Project {
        project: String,
        #[serde(default)]
        branch: Option<String>,
        strategy: Option<String>,
        forward_yaml_variables: bool,
        forward_pipeline_variables: bool,
    },
    /// Parent-child pipeline from these files.
    Child {
        include: Vec<ChildIncludeSpec>,
        strategy: Option<String>,
        forward_yaml_variables: bool,
        forward_pipeline_variables: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChildIncludeSpec {
    Local {
        path: String,
    },
    Template {
        name: String,
    },
    Remote {
        url: String,
    },
    Artifact {
        artifact: String,
        job: String,
    },
    Project {
        project: String,
        files: Vec<String>,
        #[serde(default, rename = "ref")]
        git_ref: Option<String>,
    },
    Component {
        path: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseSpec {
    pub tag_name: String,
    #[serde(default)]
    pub tag_message: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    pub description: String,
    #[serde(default, rename = "ref")]
    pub git_ref: Option<String>,
    #[serde(default)]
    pub milestones: Vec<String>,
    #[serde(default)]
    pub released_at: Option<String>,
}

/// One job of a planned pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSpec {
    /// The job's name after `parallel` expansion (`test 1/3`, `build: [linux]`).
    pub name: String,
    pub stage: String,
    /// Index in [`PipelinePlan::stages`](super::PipelinePlan::stages).
    pub stage_index: usize,
    pub when: JobWhen,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_in: Option<String>,
    pub allow_failure: bool,
    /// `allow_failure:exit_codes`: the job may fail with these codes only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_failure_exit_codes: Vec<i64>,
    /// `None`: the job waits for earlier stages; `Some`: only for these.
    #[serde(default)]
    pub needs: Option<Vec<NeedSpec>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cross_needs: Vec<CrossNeedSpec>,
    /// `dependencies:` (after expansion); `None` means every earlier job.
    #[serde(default)]
    pub dependencies: Option<Vec<String>>,
    /// The job's YAML variables: inherited globals, then the job's own, the
    /// matrix values and the matched rule's, later ones winning.
    #[serde(default)]
    pub variables: Vec<VariableSpec>,
    #[serde(default)]
    pub before_script: Vec<String>,
    #[serde(default)]
    pub script: Vec<String>,
    #[serde(default)]
    pub after_script: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pre_get_sources_script: Vec<String>,
    #[serde(default)]
    pub image: Option<ImageSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<ServiceSpec>,
    #[serde(default)]
    pub artifacts: Option<ArtifactsSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cache: Vec<CacheSpec>,
    #[serde(default, skip_serializing_if = "RetrySpec::is_none")]
    pub retry: RetrySpec,
    /// Seconds; `None` uses the project's timeout.
    #[serde(default)]
    pub timeout: Option<u64>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub parallel: Option<ParallelSpec>,
    #[serde(default)]
    pub trigger: Option<TriggerSpec>,
    #[serde(default)]
    pub environment: Option<EnvironmentSpec>,
    #[serde(default)]
    pub resource_group: Option<String>,
    #[serde(default)]
    pub interruptible: Option<bool>,
    #[serde(default)]
    pub coverage: Option<String>,
    #[serde(default)]
    pub release: Option<ReleaseSpec>,
    /// `id_tokens` names and audiences.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub id_tokens: Vec<(String, Vec<String>)>,
    /// `manual_confirmation` text for manual jobs.
    #[serde(default)]
    pub manual_confirmation: Option<String>,
    /// `pages` job (publishes `public/` or `pages:publish`).
    #[serde(default)]
    pub pages: bool,
}
