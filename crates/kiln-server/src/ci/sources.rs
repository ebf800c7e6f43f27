//! `kiln-config`'s sources over what the server has: the project's bare
//! repository at the pipeline's commit, other projects on this server (as
//! the pipeline's user may read them), and `include:remote` over HTTP.
//!
//! The config processor is synchronous and runs on a blocking thread; these
//! implementations block on the async git and store calls through the
//! runtime handle they were given.

use std::sync::OnceLock;
use std::time::Duration;

use kiln_config::sources::{Projects, Remote, Repository, SourceError};
use kiln_git::Oid;
use kiln_store::users::User;
use tokio::runtime::Handle;

use crate::access::{self, Action};
use crate::app::App;
use crate::http::auth::Caller;

/// Largest `include:remote` file.
const MAX_REMOTE: usize = 1024 * 1024;

/// The pipeline's own project at its commit.
pub(crate) struct CommitFiles {
    pub(crate) handle: Handle,
    pub(crate) repo: kiln_git::Repository,
    pub(crate) sha: Oid,
    listing: OnceLock<Result<Vec<String>, SourceError>>,
}

impl CommitFiles {
    pub(crate) fn new(handle: Handle, repo: kiln_git::Repository, sha: Oid) -> CommitFiles {
        CommitFiles { handle, repo, sha, listing: OnceLock::new() }
    }
}

fn git_error(e: kiln_git::GitError) -> SourceError {
    SourceError::new(e.to_string())
}

fn text(path: &str, bytes: Vec<u8>) -> Result<String, SourceError> {
    String::from_utf8(bytes).map_err(|_| SourceError::new(format!("`{path}` is not valid UTF-8")))
}

impl Repository for CommitFiles {
    fn read_file(&self, path: &str) -> Result<Option<String>, SourceError> {
        match self.handle.block_on(self.repo.read_file(&self.sha, path)) {
            Ok(Some(bytes)) => text(path, bytes).map(Some),
            Ok(None) => Ok(None),
            Err(kiln_git::GitError::InvalidPath { .. }) => Ok(None),
            Err(e) => Err(git_error(e)),
        }
    }

    fn list_files(&self) -> Result<Vec<String>, SourceError> {
        self.listing
            .get_or_init(|| self.handle.block_on(self.repo.list_files(&self.sha)).map_err(git_error))
            .clone()
    }
}

/// Other projects of this server, read as the pipeline's user may.
pub(crate) struct ServerProjects {
    pub(crate) handle: Handle,
    pub(crate) app: App,
    pub(crate) user: Option<User>,
}

impl ServerProjects {
    fn not_found(project: &str) -> SourceError {
        SourceError::new(format!(
            "Project `{project}` not found or access denied! Make sure any includes in the pipeline \
             configuration are correctly defined."
        ))
    }

    /// The project's repository and the commit of `git_ref` (default branch when `None`).
    async fn resolve(
        &self,
        project: &str,
        git_ref: Option<&str>,
    ) -> Result<(kiln_git::Repository, Oid), SourceError> {
        let caller = match &self.user {
            Some(user) => {
                Caller::User { user: user.clone(), scopes: vec![kiln_store::users::TokenScope::Api] }
            }
            None => Caller::Anonymous,
        };
        let access = access::project(&self.app, &caller, project)
            .await
            .map_err(|_| ServerProjects::not_found(project))?;
        if !access.can(Action::ReadCode) {
            return Err(ServerProjects::not_found(project));
        }
        let repo = self.app.repos.get(access.project.id);
        let wanted = git_ref.unwrap_or(&access.project.default_branch);
        let sha = if let Ok(oid) = Oid::parse(wanted) {
            Some(oid)
        } else {
            let as_branch = repo.resolve_branch(wanted).await.ok().flatten();
            match as_branch {
                Some(sha) => Some(sha),
                None => repo.resolve_tag(wanted).await.ok().flatten(),
            }
        };
        let sha = sha.ok_or_else(|| {
            SourceError::new(format!("Project `{project}` reference `{wanted}` does not exist!"))
        })?;
        Ok((repo, sha))
    }
}

impl Projects for ServerProjects {
    fn read_file(
        &self,
        project: &str,
        git_ref: Option<&str>,
        path: &str,
    ) -> Result<Option<String>, SourceError> {
        self.handle.block_on(async {
            let (repo, sha) = self.resolve(project, git_ref).await?;
            match repo.read_file(&sha, path).await {
                Ok(Some(bytes)) => text(path, bytes).map(Some),
                Ok(None) | Err(kiln_git::GitError::InvalidPath { .. }) => Ok(None),
                Err(e) => Err(git_error(e)),
            }
        })
    }

    fn list_files(&self, project: &str, git_ref: Option<&str>) -> Result<Vec<String>, SourceError> {
        self.handle.block_on(async {
            let (repo, sha) = self.resolve(project, git_ref).await?;
            repo.list_files(&sha).await.map_err(git_error)
        })
    }
}

/// `include:remote` over HTTP(S), with a timeout and a size limit.
pub(crate) struct HttpRemote {
    pub(crate) handle: Handle,
    pub(crate) client: reqwest::Client,
}

impl Remote for HttpRemote {
    fn fetch(&self, url: &str) -> Result<String, SourceError> {
        let failed = |why: &str| {
            SourceError::new(format!("Remote file `{url}` could not be fetched because of {why}!"))
        };
        let parsed = url::Url::parse(url)
            .map_err(|_| SourceError::new(format!("Remote file `{url}` is not valid")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(SourceError::new(format!("Remote file `{url}` is not valid")));
        }
        self.handle.block_on(async {
            let response =
                self.client.get(url).timeout(Duration::from_secs(10)).send().await.map_err(|e| {
                    if e.is_timeout() { failed("a timeout") } else { failed("a network error") }
                })?;
            if !response.status().is_success() {
                return Err(failed(&format!("HTTP {}", response.status().as_u16())));
            }
            if response.content_length().is_some_and(|l| l > MAX_REMOTE as u64) {
                return Err(failed("its size"));
            }
            let body = response.bytes().await.map_err(|_| failed("a network error"))?;
            if body.len() > MAX_REMOTE {
                return Err(failed("its size"));
            }
            String::from_utf8(body.to_vec()).map_err(|_| failed("invalid UTF-8"))
        })
    }
}
