//! Smaller job keywords: `inherit`, `pages`, `run` (CI steps),
//! `dast_configuration`, job `inputs`.

use crate::model::common::{Duration, Spanned};
use crate::yaml::Node;

/// `inherit:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inherit {
    pub default: InheritSetting,
    pub variables: InheritSetting,
}

impl Default for Inherit {
    fn default() -> Self {
        Inherit { default: InheritSetting::All(true), variables: InheritSetting::All(true) }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InheritSetting {
    All(bool),
    /// Inherit only these keys (default keywords or variable names).
    Only(Vec<Spanned<String>>),
}

impl InheritSetting {
    pub fn inherits(&self, key: &str) -> bool {
        match self {
            InheritSetting::All(b) => *b,
            InheritSetting::Only(keys) => keys.iter().any(|k| k.value == key),
        }
    }
}

/// `pages:` as a boolean or a hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pages {
    Bool(bool),
    Config { publish: Option<String>, path_prefix: Option<String>, expire_in: Option<Duration> },
}

/// `dast_configuration:`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DastConfiguration {
    pub site_profile: Option<String>,
    pub scanner_profile: Option<String>,
}

/// One CI step of `run:`.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub name: Spanned<String>,
    pub kind: StepKind,
    /// `env:` as name/value pairs.
    pub env: Vec<(String, String)>,
    /// `inputs:`: free-form values handed to the step.
    pub inputs: Option<Node>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StepKind {
    Script(String),
    /// `step:` as a string reference or a `git:` / `oci:` hash (kept as a node).
    Step(Node),
    /// `func:` reference.
    Func(String),
}

/// One job input of `inputs:` (job-level inputs).
#[derive(Debug, Clone, PartialEq)]
pub struct JobInput {
    pub name: Spanned<String>,
    pub spec: Node,
}
