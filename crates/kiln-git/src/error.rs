//! What can go wrong when driving git.

use std::io;
use std::path::PathBuf;

/// An operation on a repository failed. Messages say what and where.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("cannot run {program}: {source}")]
    Spawn { program: String, source: io::Error },
    #[error("git {command} failed ({status}): {stderr}")]
    Failed { command: String, status: String, stderr: String },
    #[error("git {command} did not finish within {seconds}s")]
    Timeout { command: String, seconds: u64 },
    #[error("git {command} produced more than {limit} bytes")]
    OutputTooLarge { command: String, limit: usize },
    #[error("unexpected output from git {command}: {detail}")]
    Parse { command: String, detail: String },
    #[error("invalid ref name `{name}`: {reason}")]
    InvalidRefName { name: String, reason: &'static str },
    #[error("invalid object id `{0}`")]
    InvalidOid(String),
    #[error("invalid path `{path}`: {reason}")]
    InvalidPath { path: String, reason: &'static str },
    #[error("file `{path}` is larger than {limit} bytes")]
    FileTooLarge { path: String, limit: usize },
    #[error("i/o error at {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}
