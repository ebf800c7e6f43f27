//! `image:` and `services:`.

use crate::model::common::Spanned;
use crate::model::variables::Variables;

/// `image:` as a string or a hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub name: Spanned<String>,
    pub entrypoint: Option<Vec<String>>,
    pub docker: Option<DockerOptions>,
    pub kubernetes: Option<KubernetesOptions>,
    /// Empty when not given (the runner decides).
    pub pull_policy: Vec<PullPolicy>,
}

/// `image:docker` / `services:docker`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DockerOptions {
    pub platform: Option<String>,
    pub user: Option<String>,
}

/// `image:kubernetes` / `services:kubernetes`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KubernetesOptions {
    pub user: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullPolicy {
    Always,
    Never,
    IfNotPresent,
}

impl PullPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            PullPolicy::Always => "always",
            PullPolicy::Never => "never",
            PullPolicy::IfNotPresent => "if-not-present",
        }
    }
}

/// One entry of `services:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub image: Image,
    pub alias: Option<String>,
    pub command: Option<Vec<String>>,
    pub variables: Variables,
}
