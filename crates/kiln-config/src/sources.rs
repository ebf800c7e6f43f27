//! Where files other than the main `.gitlab-ci.yml` come from.
//!
//! The processor is pure, so it asks these traits for files: the project's
//! own tree at the pipeline's commit (local includes, `rules:exists`), other
//! projects (`include:project`), and remote URLs (`include:remote`). Each
//! caller implements them over what it has: a working tree, a bare git
//! repository, an HTTP client.

use std::fmt;

/// Why a file could not be provided. The message is shown to the user as
/// part of a diagnostic, so it says what failed in plain words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceError {
    pub message: String,
}

impl SourceError {
    pub fn new(message: impl Into<String>) -> SourceError {
        SourceError { message: message.into() }
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SourceError {}

/// The files of the pipeline's own project, at the pipeline's commit.
pub trait Repository {
    /// The text of `path` (relative to the repository root, no leading `/`),
    /// `Ok(None)` when there is no such file.
    fn read_file(&self, path: &str) -> Result<Option<String>, SourceError>;

    /// Every file path in the tree, relative to the root, for wildcard
    /// includes and `rules:exists`.
    fn list_files(&self) -> Result<Vec<String>, SourceError>;

    /// Paths that differ between `git_ref` and the pipeline's commit, for
    /// `rules:changes:compare_to`; `Ok(None)` when `git_ref` names no commit.
    fn changed_paths_since(&self, git_ref: &str) -> Result<Option<Vec<String>>, SourceError> {
        Err(SourceError::new(format!("comparing with `{git_ref}` is not available here")))
    }
}

/// Files of other projects on the same server (`include:project`,
/// `rules:exists:project`).
pub trait Projects {
    /// The text of `path` in `project` at `git_ref` (the project's default
    /// branch when `None`); `Ok(None)` when the file does not exist.
    fn read_file(
        &self,
        project: &str,
        git_ref: Option<&str>,
        path: &str,
    ) -> Result<Option<String>, SourceError>;

    /// Every file path of `project` at `git_ref`.
    fn list_files(&self, project: &str, git_ref: Option<&str>) -> Result<Vec<String>, SourceError>;
}

/// Fetches `include:remote` URLs.
pub trait Remote {
    fn fetch(&self, url: &str) -> Result<String, SourceError>;
}

/// Everything the processor may read besides the main file.
#[derive(Clone, Copy)]
pub struct Sources<'a> {
    pub repository: &'a dyn Repository,
    pub projects: &'a dyn Projects,
    pub remote: &'a dyn Remote,
}

impl fmt::Debug for Sources<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sources").finish_non_exhaustive()
    }
}

/// A source with nothing in it, for callers that have no other projects or
/// no network: every request fails with a message saying so.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unavailable;

impl Projects for Unavailable {
    fn read_file(&self, project: &str, _: Option<&str>, path: &str) -> Result<Option<String>, SourceError> {
        Err(SourceError::new(format!(
            "project `{project}` is not available here, so `{path}` cannot be read"
        )))
    }

    fn list_files(&self, project: &str, _: Option<&str>) -> Result<Vec<String>, SourceError> {
        Err(SourceError::new(format!("project `{project}` is not available here")))
    }
}

impl Remote for Unavailable {
    fn fetch(&self, url: &str) -> Result<String, SourceError> {
        Err(SourceError::new(format!("remote includes are not available here, so `{url}` cannot be fetched")))
    }
}

impl Repository for Unavailable {
    fn read_file(&self, path: &str) -> Result<Option<String>, SourceError> {
        Err(SourceError::new(format!("the repository is not available here, so `{path}` cannot be read")))
    }

    fn list_files(&self) -> Result<Vec<String>, SourceError> {
        Err(SourceError::new("the repository is not available here"))
    }
}

/// An in-memory repository: path → text. Used by tests and by callers that
/// already hold the files.
#[derive(Debug, Clone, Default)]
pub struct MemoryRepository {
    pub files: std::collections::BTreeMap<String, String>,
}

impl MemoryRepository {
    pub fn with(mut self, path: &str, text: &str) -> Self {
        self.files.insert(path.trim_start_matches('/').to_string(), text.to_string());
        self
    }
}

impl Repository for MemoryRepository {
    fn read_file(&self, path: &str) -> Result<Option<String>, SourceError> {
        Ok(self.files.get(path.trim_start_matches('/')).cloned())
    }

    fn list_files(&self) -> Result<Vec<String>, SourceError> {
        Ok(self.files.keys().cloned().collect())
    }
}
