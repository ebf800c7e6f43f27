//! Where projects' bare repositories live: `<data-dir>/repositories/<project id>.git`
//! (by id, so renaming or moving a project never moves its repository).

use std::path::PathBuf;
use std::sync::Arc;

use kiln_git::{GitError, Repository, Settings, SmartHttp};
use kiln_store::ProjectId;

/// The repositories of every project, and the smart HTTP service for them.
#[derive(Debug)]
pub(crate) struct Repos {
    root: PathBuf,
    settings: Arc<Settings>,
    pub(crate) http: SmartHttp,
}

impl Repos {
    pub(crate) fn new(root: PathBuf, settings: Settings) -> Repos {
        Repos { root, settings: Arc::new(settings), http: SmartHttp::new() }
    }

    fn path(&self, project: ProjectId) -> PathBuf {
        self.root.join(format!("{}.git", project.0))
    }

    /// The project's repository (it may not exist yet).
    pub(crate) fn get(&self, project: ProjectId) -> Repository {
        Repository::open(self.path(project), self.settings.clone())
    }

    /// Creates the project's repository, or opens it when a previous attempt
    /// (a crash after the directory was made) left one behind.
    pub(crate) async fn create(
        &self,
        project: ProjectId,
        default_branch: &str,
    ) -> Result<Repository, GitError> {
        let path = self.path(project);
        if path.join("HEAD").exists() {
            return Ok(self.get(project));
        }
        if path.exists() {
            // Half-made by a crash during `git init`: start again.
            tokio::fs::remove_dir_all(&path)
                .await
                .map_err(|source| GitError::Io { path: path.clone(), source })?;
        }
        Repository::create(path, default_branch, self.settings.clone()).await
    }

    /// Deletes the project's repository.
    pub(crate) async fn delete(&self, project: ProjectId) -> Result<(), GitError> {
        let path = self.path(project);
        match tokio::fs::remove_dir_all(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(GitError::Io { path, source }),
        }
    }
}
