//! `workflow:` (rules, name, auto_cancel) and `stages:`.

use crate::model::common::Spanned;
use crate::model::rules::Rule;
use crate::source::Span;

/// `workflow:`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Workflow {
    pub span: Span,
    pub rules: Option<Vec<Rule>>,
    pub name: Option<Spanned<String>>,
    pub auto_cancel: Option<AutoCancel>,
}

/// `workflow:auto_cancel` and `workflow:rules:auto_cancel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AutoCancel {
    pub on_new_commit: Option<OnNewCommit>,
    pub on_job_failure: Option<OnJobFailure>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnNewCommit {
    Conservative,
    Interruptible,
    None,
}

impl OnNewCommit {
    pub fn as_str(self) -> &'static str {
        match self {
            OnNewCommit::Conservative => "conservative",
            OnNewCommit::Interruptible => "interruptible",
            OnNewCommit::None => "none",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnJobFailure {
    All,
    None,
}

impl OnJobFailure {
    pub fn as_str(self) -> &'static str {
        match self {
            OnJobFailure::All => "all",
            OnJobFailure::None => "none",
        }
    }
}
