//! `cache:` as a hash or a list of up to 4 hashes.

use crate::model::common::Spanned;
use crate::source::Span;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cache {
    pub span: Span,
    /// Default `default` (GitLab's key when none is given).
    pub key: Option<CacheKey>,
    pub paths: Vec<Spanned<String>>,
    pub untracked: Option<bool>,
    pub policy: Option<CachePolicy>,
    pub when: Option<CacheWhen>,
    pub unprotect: Option<bool>,
    pub fallback_keys: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheKey {
    Literal(Spanned<String>),
    /// `key: {files: [...], prefix: ...}`: a hash of the files' last commit.
    Files {
        files: Vec<Spanned<String>>,
        prefix: Option<String>,
    },
    /// `key: {files_commits: [...], prefix: ...}`.
    FilesCommits {
        files: Vec<Spanned<String>>,
        prefix: Option<String>,
    },
}

/// `cache:policy`; a value with a variable is resolved when the job runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CachePolicy {
    Pull,
    Push,
    PullPush,
    /// Contains `$VAR`: checked after expansion.
    Variable(String),
}

impl CachePolicy {
    pub fn as_str(&self) -> &str {
        match self {
            CachePolicy::Pull => "pull",
            CachePolicy::Push => "push",
            CachePolicy::PullPush => "pull-push",
            CachePolicy::Variable(s) => s,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheWhen {
    OnSuccess,
    OnFailure,
    Always,
}

impl CacheWhen {
    pub fn as_str(self) -> &'static str {
        match self {
            CacheWhen::OnSuccess => "on_success",
            CacheWhen::OnFailure => "on_failure",
            CacheWhen::Always => "always",
        }
    }
}
