//! `environment:` and `release:`.

use crate::model::common::Spanned;
use crate::source::Span;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    pub span: Span,
    pub name: Spanned<String>,
    pub url: Option<String>,
    pub on_stop: Option<Spanned<String>>,
    /// Default `start`.
    pub action: Option<EnvironmentAction>,
    pub auto_stop_in: Option<String>,
    pub kubernetes: Option<EnvironmentKubernetes>,
    pub deployment_tier: Option<DeploymentTier>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvironmentAction {
    Start,
    Prepare,
    Stop,
    Verify,
    Access,
}

impl EnvironmentAction {
    pub fn as_str(self) -> &'static str {
        match self {
            EnvironmentAction::Start => "start",
            EnvironmentAction::Prepare => "prepare",
            EnvironmentAction::Stop => "stop",
            EnvironmentAction::Verify => "verify",
            EnvironmentAction::Access => "access",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EnvironmentKubernetes {
    pub namespace: Option<String>,
    pub agent: Option<String>,
    pub flux_resource_path: Option<String>,
    pub dashboard: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeploymentTier {
    Production,
    Staging,
    Testing,
    Development,
    Other,
}

impl DeploymentTier {
    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentTier::Production => "production",
            DeploymentTier::Staging => "staging",
            DeploymentTier::Testing => "testing",
            DeploymentTier::Development => "development",
            DeploymentTier::Other => "other",
        }
    }
}

/// `release:`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Release {
    pub tag_name: String,
    pub tag_message: Option<String>,
    pub name: Option<String>,
    pub description: String,
    pub ref_: Option<String>,
    pub milestones: Vec<String>,
    pub released_at: Option<String>,
    pub links: Vec<ReleaseLink>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReleaseLink {
    pub name: String,
    pub url: String,
    pub filepath: Option<String>,
    pub direct_asset_path: Option<String>,
    pub link_type: Option<String>,
}
