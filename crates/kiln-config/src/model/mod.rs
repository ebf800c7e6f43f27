//! The typed pipeline configuration: the merged tree from compose → a
//! [`Config`] with every keyword in closed types, validated with GitLab's
//! messages.
//!
//! One file per keyword family holds its types (and, next to them, its
//! parser). Spans are kept where a later phase points at something: job
//! names, stages, needs, rules, dependencies.

pub mod artifacts;
pub mod cache;
pub mod common;
pub mod default;
pub mod environment;
pub mod image;
pub mod job;
pub mod misc;
pub mod needs;
pub mod parallel;
pub mod retry;
pub mod rules;
pub mod script;
pub mod secrets;
pub mod trigger;
pub mod variables;
pub mod workflow;

pub use artifacts::{Artifacts, ArtifactsAccess, ArtifactsWhen, Report, ReportKind};
pub use cache::{Cache, CacheKey, CachePolicy, CacheWhen};
pub use common::{AllowFailure, Duration, Spanned, When};
pub use default::Default;
pub use environment::{
    DeploymentTier, Environment, EnvironmentAction, EnvironmentKubernetes, Release, ReleaseLink,
};
pub use image::{DockerOptions, Image, KubernetesOptions, PullPolicy, Service};
pub use job::Job;
pub use misc::{DastConfiguration, Inherit, InheritSetting, JobInput, Pages, Step, StepKind};
pub use needs::{CrossDependencyNeed, CrossSource, JobNeed, Need};
pub use parallel::{MatrixEntry, Parallel};
pub use retry::{Retry, RetryWhen};
pub use rules::{Changes, Exists, IfExpr, Policy, Rule};
pub use script::{Hooks, Script};
pub use secrets::{IdToken, Identity, Secret, SecretProvider};
pub use trigger::{Forward, Trigger, TriggerInclude, TriggerStrategy, TriggerTarget};
pub use variables::{Variable, Variables};
pub use workflow::{AutoCancel, OnJobFailure, OnNewCommit, Workflow};

/// The keywords `default:` passes on to jobs, which `inherit:default` may
/// list (GitLab's `Entry::Default`).
pub const DEFAULT_KEYWORDS: &[&str] = &[
    "after_script",
    "artifacts",
    "before_script",
    "cache",
    "hooks",
    "id_tokens",
    "identity",
    "image",
    "interruptible",
    "retry",
    "services",
    "tags",
    "timeout",
];

/// Top-level keys that are never jobs: GitLab's root entries, the legacy
/// `types`, and the `spec` header.
pub const ROOT_KEYWORDS: &[&str] = &[
    "include",
    "before_script",
    "image",
    "services",
    "after_script",
    "variables",
    "stages",
    "types",
    "cache",
    "spec",
];

/// Root keywords that GitLab reads as a job when they look like one
/// (`default:` with a `script:`).
pub const ROOT_KEYWORDS_OR_JOBS: &[&str] = &["default", "workflow"];

/// Whether a top-level key is one of GitLab's global keywords.
pub fn is_root_keyword(name: &str) -> bool {
    ROOT_KEYWORDS.contains(&name) || ROOT_KEYWORDS_OR_JOBS.contains(&name)
}

/// How strictly to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ModelOptions {
    /// Also enforce the rules of GitLab's JSON schema for `.gitlab-ci.yml`
    /// (`kiln lint --strict`), which is stricter than GitLab's processor.
    pub strict: bool,
}

/// A whole pipeline configuration.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Config {
    /// `.pre`, the stages of `stages:` (or legacy `types:`, or
    /// `build, test, deploy`), `.post`.
    pub stages: Vec<Spanned<String>>,
    /// Global `variables:`.
    pub variables: Variables,
    pub workflow: Option<Workflow>,
    pub default: Default,
    /// Deprecated global keywords GitLab still accepts (compose copied them
    /// into the jobs like `default:`).
    pub image: Option<Image>,
    pub services: Option<Vec<Service>>,
    pub cache: Option<Vec<Cache>>,
    pub before_script: Option<Script>,
    pub after_script: Option<Script>,
    /// Visible jobs in file order (hidden `.name` jobs are left out).
    pub jobs: Vec<Job>,
}

impl Config {
    pub fn job(&self, name: &str) -> Option<&Job> {
        self.jobs.iter().find(|j| j.name.value == name)
    }

    /// Index of `stage` in [`Config::stages`].
    pub fn stage_index(&self, stage: &str) -> Option<usize> {
        self.stages.iter().position(|s| s.value == stage)
    }
}

pub mod checks;
pub(crate) mod cx;
pub mod duration;
pub(crate) mod parse_job;
mod root;

pub use root::{check_document, parse_config};
pub mod render;
pub use render::render;
