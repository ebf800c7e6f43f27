//! `trigger:` (multi-project and parent-child pipelines).

use crate::model::common::Spanned;
use crate::source::Span;
use crate::yaml::Node;

#[derive(Debug, Clone, PartialEq)]
pub struct Trigger {
    pub span: Span,
    pub target: TriggerTarget,
    pub strategy: Option<TriggerStrategy>,
    pub forward: Forward,
    /// `trigger:inputs`: passed to the downstream pipeline's `spec:inputs`.
    pub inputs: Option<Node>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TriggerTarget {
    /// `trigger: group/project` or `trigger: {project, branch}`.
    Project { project: Spanned<String>, branch: Option<Spanned<String>> },
    /// `trigger: {include: ...}`: a child pipeline.
    Child(Vec<TriggerInclude>),
}

/// One file of a child pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TriggerInclude {
    Local(Spanned<String>),
    Template(Spanned<String>),
    Remote(Spanned<String>),
    /// A file produced by a job of this pipeline.
    Artifact {
        artifact: Spanned<String>,
        job: Spanned<String>,
    },
    Project {
        project: Spanned<String>,
        file: Vec<Spanned<String>>,
        ref_: Option<Spanned<String>>,
    },
    /// A CI/CD component.
    Component(Spanned<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TriggerStrategy {
    /// The trigger job waits and takes the downstream pipeline's status.
    Depend,
    /// Like `depend`, and mirrors the downstream status including manual.
    Mirror,
}

/// `trigger:forward`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forward {
    pub yaml_variables: bool,
    pub pipeline_variables: bool,
}

impl Default for Forward {
    fn default() -> Self {
        Forward { yaml_variables: true, pipeline_variables: false }
    }
}
