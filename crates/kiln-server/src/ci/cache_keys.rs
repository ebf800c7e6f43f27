//! `cache:key:files` keys are fixed when the pipeline is created, as GitLab
//! does: the pipeline's commit answers for the files (blob ids, last
//! commits), and the planned jobs keep the literal key from then on, so a
//! claim never waits for git.

use kiln_config::plan::PipelinePlan;
use kiln_payload::CacheKeyFiles;

use super::sources::CommitFiles;

/// Replaces every `files` / `files_commits` cache key of the plan's jobs by
/// its value at the commit. Runs on a blocking thread.
pub(crate) fn resolve(plan: &mut PipelinePlan, files: &CommitFiles) {
    for spec in &mut plan.jobs {
        kiln_payload::resolve_cache_keys(spec, files);
    }
}

impl CacheKeyFiles for CommitFiles {
    fn list_files(&self) -> Vec<String> {
        kiln_config::sources::Repository::list_files(self).unwrap_or_else(|e| {
            tracing::warn!(commit = %self.sha, error = %e, "cannot list files for cache keys");
            Vec::new()
        })
    }

    fn blob_ids(&self, paths: &[String]) -> Vec<Option<String>> {
        match self.handle.block_on(self.repo.blob_ids(&self.sha, paths)) {
            Ok(ids) => ids.into_iter().map(|id| id.map(|o| o.to_string())).collect(),
            Err(e) => {
                tracing::warn!(commit = %self.sha, error = %e, "cannot read blob ids for cache keys");
                vec![None; paths.len()]
            }
        }
    }

    fn last_commit(&self, path: &str) -> Option<String> {
        match self.handle.block_on(self.repo.last_commit_for_path(&self.sha, path)) {
            Ok(id) => id.map(|o| o.to_string()),
            Err(e) => {
                tracing::warn!(commit = %self.sha, error = %e, "cannot find the last commit of a cache key file");
                None
            }
        }
    }
}
