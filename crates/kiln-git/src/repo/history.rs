//! What `cache:key:files` and `cache:key:files_commits` are computed from:
//! the blob ids of paths at a commit, and the last commit that touched a
//! path. Kept apart from plain reads because both answer "which version of
//! this file", not "what is in it".

use super::{Repository, SMALL, args, clean_path};
use crate::command::run;
use crate::error::GitError;
use crate::oid::Oid;

impl Repository {
    /// The blob id of each path at `commit`, in order; `None` where the path
    /// is missing, a directory, a submodule or not a valid repository path.
    pub async fn blob_ids(&self, commit: &Oid, paths: &[String]) -> Result<Vec<Option<Oid>>, GitError> {
        // Invalid paths still take a line of the batch (as a path that cannot
        // exist), so answers stay in step with questions.
        let mut input = String::new();
        for path in paths {
            match clean_path(path) {
                Ok(p) => input.push_str(&format!("{commit}:{p}\n")),
                Err(_) => input.push_str(&format!("{commit}:\u{1}invalid\n")),
            }
        }
        let limit = paths.len().saturating_mul(256).saturating_add(SMALL);
        let out = run(
            &self.settings,
            &self.path,
            "cat-file",
            &args(["cat-file", "--batch-check=%(objectname) %(objecttype)"]),
            Some(input.into_bytes()),
            limit,
        )
        .await?
        .ok("cat-file")?;
        let text = String::from_utf8_lossy(&out.stdout);
        let ids: Vec<Option<Oid>> = text
            .lines()
            .map(|line| match line.split_once(' ') {
                Some((id, "blob")) => Oid::parse(id).ok(),
                _ => None,
            })
            .collect();
        if ids.len() != paths.len() {
            return Err(GitError::Parse {
                command: "cat-file".into(),
                detail: text.chars().take(200).collect(),
            });
        }
        Ok(ids)
    }

    /// The most recent commit reachable from `commit` that changed `path`
    /// (taken literally, not as a pattern); `None` when none did.
    pub async fn last_commit_for_path(&self, commit: &Oid, path: &str) -> Result<Option<Oid>, GitError> {
        let Ok(path) = clean_path(path) else { return Ok(None) };
        let out = self
            .git(
                "log",
                args([
                    "--literal-pathspecs",
                    "log",
                    "-1",
                    "--format=%H",
                    "--end-of-options",
                    commit.as_str(),
                    "--",
                    path,
                ]),
                SMALL,
            )
            .await?;
        let text = String::from_utf8_lossy(&out.stdout);
        match text.lines().next().map(str::trim).filter(|l| !l.is_empty()) {
            Some(line) => Oid::parse(line).map(Some),
            None => Ok(None),
        }
    }
}
