//! `needs:` (jobs and rules) and `dependencies:`.

use crate::model::common::Spanned;
use crate::model::parallel::MatrixEntry;
use crate::source::Span;

/// One entry of `needs:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    /// A job of this pipeline: `- build` or `- job: build`.
    Job(JobNeed),
    /// A job of another pipeline: `project` + `job` + `ref`, or
    /// `pipeline` (an id, usually `$PARENT_PIPELINE_ID`) + `job`.
    CrossDependency(CrossDependencyNeed),
    /// Trigger jobs only: `needs: {pipeline: group/project}` mirrors the
    /// status of the upstream project's pipeline.
    Pipeline(Spanned<String>),
}

impl Need {
    pub fn span(&self) -> Span {
        match self {
            Need::Job(n) => n.span,
            Need::CrossDependency(n) => n.span,
            Need::Pipeline(p) => p.span,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobNeed {
    pub span: Span,
    pub job: Spanned<String>,
    /// Download the needed job's artifacts (default true).
    pub artifacts: bool,
    /// Not an error when the needed job is absent.
    pub optional: bool,
    /// `parallel: {matrix: ...}`: only these instances of a matrix job.
    pub matrix: Option<Vec<MatrixEntry>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrossDependencyNeed {
    pub span: Span,
    pub source: CrossSource,
    pub job: Spanned<String>,
    pub artifacts: bool,
    pub optional: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CrossSource {
    Project { project: Spanned<String>, ref_: Spanned<String> },
    Pipeline(Spanned<String>),
}
