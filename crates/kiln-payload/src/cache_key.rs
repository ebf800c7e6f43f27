//! `cache:key:files` and `cache:key:files_commits` keys, as GitLab's
//! `Seed::Build::Cache` computes them when it creates the pipeline:
//!
//! - `files`: the blob ids of the listed files at the pipeline's commit
//!   (a path with `*` is a pattern over the commit's files: `**` crosses
//!   directories, `*` does not);
//! - `files_commits`: the last commit that changed each listed path;
//!
//! then the ids sorted, deduplicated, joined with `-` and hashed with SHA-1,
//! or `default` when there is none. The key is `<prefix>-<digest>`, where
//! the prefix defaults to the cache's index in the job's `cache:` list.
//!
//! The repository is behind [`CacheKeyFiles`], so this stays pure.

use kiln_config::plan::spec::{CacheKeySpec, JobSpec};
use regex::Regex;
use sha1::Digest;

/// What a key needs from the repository at the pipeline's commit.
pub trait CacheKeyFiles {
    /// Every file path at the commit (to match `*` patterns against).
    fn list_files(&self) -> Vec<String>;
    /// The blob id of each path, in order; `None` where there is no file.
    fn blob_ids(&self, paths: &[String]) -> Vec<Option<String>>;
    /// The last commit that changed `path`; `None` when none did.
    fn last_commit(&self, path: &str) -> Option<String>;
}

/// A repository where no file exists: every key digest is `default`.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoFiles;

impl CacheKeyFiles for NoFiles {
    fn list_files(&self) -> Vec<String> {
        Vec::new()
    }

    fn blob_ids(&self, paths: &[String]) -> Vec<Option<String>> {
        vec![None; paths.len()]
    }

    fn last_commit(&self, _: &str) -> Option<String> {
        None
    }
}

/// The key of the `index`-th cache of a job, before the runner expands its
/// variables and before the project's suffixes are added.
pub fn key_string(index: usize, key: &CacheKeySpec, repo: &dyn CacheKeyFiles) -> String {
    let (prefix, digest) = match key {
        CacheKeySpec::Literal { key } => return key.clone(),
        CacheKeySpec::Files { files, prefix } => (prefix, contents_digest(&present(files), repo)),
        CacheKeySpec::FilesCommits { files, prefix } => (prefix, commits_digest(&present(files), repo)),
    };
    let prefix = match prefix.as_deref() {
        Some(p) => p.to_string(),
        None => index.to_string(),
    };
    let digest = digest.unwrap_or_else(|| "default".to_string());
    if prefix.is_empty() { digest } else { format!("{prefix}-{digest}") }
}

/// Turns every `files` / `files_commits` key of `spec` into the literal key
/// it stands for, as GitLab stores it with the job when the pipeline is
/// created (so a job's key never changes after that).
pub fn resolve_cache_keys(spec: &mut JobSpec, repo: &dyn CacheKeyFiles) {
    for (index, cache) in spec.cache.iter_mut().enumerate() {
        if !matches!(cache.key, CacheKeySpec::Literal { .. }) {
            cache.key = CacheKeySpec::Literal { key: key_string(index, &cache.key, repo) };
        }
    }
}

/// Non-empty entries, first occurrence kept.
fn present(files: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for f in files.iter().filter(|f| !f.is_empty()) {
        if !out.contains(f) {
            out.push(f.clone());
        }
    }
    out
}

fn contents_digest(files: &[String], repo: &dyn CacheKeyFiles) -> Option<String> {
    let paths = expand_patterns(files, repo);
    if paths.is_empty() {
        return None;
    }
    digest(repo.blob_ids(&paths).into_iter().flatten())
}

fn commits_digest(files: &[String], repo: &dyn CacheKeyFiles) -> Option<String> {
    digest(files.iter().filter_map(|f| repo.last_commit(f)))
}

/// Paths with `*` become the commit's files that match them; others stay.
fn expand_patterns(files: &[String], repo: &dyn CacheKeyFiles) -> Vec<String> {
    let mut listing: Option<Vec<String>> = None;
    let mut out: Vec<String> = Vec::new();
    for file in files {
        let matched: Vec<String> = if file.contains('*') {
            let all = listing.get_or_insert_with(|| repo.list_files());
            match wildcard(file) {
                Some(re) => all.iter().filter(|p| re.is_match(p)).cloned().collect(),
                None => Vec::new(),
            }
        } else {
            vec![file.clone()]
        };
        for m in matched {
            if !out.contains(&m) {
                out.push(m);
            }
        }
    }
    out
}

/// GitLab's `search_files_by_wildcard_path`: the path taken literally except
/// `**` (anything) and `*` (anything but `/`), matching the whole path.
fn wildcard(pattern: &str) -> Option<Regex> {
    let escaped = regex::escape(pattern).replace(r"\*\*", ".*?").replace(r"\*", "[^/]*?");
    Regex::new(&format!("^{escaped}$")).ok()
}

fn digest(ids: impl Iterator<Item = String>) -> Option<String> {
    let mut ids: Vec<String> = ids.collect();
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return None;
    }
    Some(hex::encode(sha1::Sha1::digest(ids.join("-").as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Repo;

    impl CacheKeyFiles for Repo {
        fn list_files(&self) -> Vec<String> {
            ["package.json", "web/package.json", "web/ui/package.json", "Gemfile.lock"]
                .map(String::from)
                .into()
        }
        fn blob_ids(&self, paths: &[String]) -> Vec<Option<String>> {
            paths.iter().map(|p| self.list_files().contains(p).then(|| format!("blob:{p}"))).collect()
        }
        fn last_commit(&self, path: &str) -> Option<String> {
            self.list_files().iter().any(|p| p == path).then(|| "c1".to_string())
        }
    }

    fn sha1_hex(text: &str) -> String {
        hex::encode(sha1::Sha1::digest(text.as_bytes()))
    }

    fn files(list: &[&str], prefix: Option<&str>) -> CacheKeySpec {
        CacheKeySpec::Files {
            files: list.iter().map(|s| s.to_string()).collect(),
            prefix: prefix.map(String::from),
        }
    }

    #[test]
    fn contents_are_hashed_sorted_and_prefixed_by_index() {
        let key = key_string(0, &files(&["package.json", "Gemfile.lock"], None), &Repo);
        assert_eq!(key, format!("0-{}", sha1_hex("blob:Gemfile.lock-blob:package.json")));
        let key = key_string(2, &files(&["Gemfile.lock"], Some("deps")), &Repo);
        assert_eq!(key, format!("deps-{}", sha1_hex("blob:Gemfile.lock")));
        assert_eq!(key_string(1, &files(&["nope"], None), &Repo), "1-default");
        assert_eq!(key_string(1, &files(&["nope"], Some("")), &Repo), "default");
    }

    #[test]
    fn double_star_crosses_directories_and_single_star_does_not() {
        let all = key_string(0, &files(&["**/package.json"], None), &Repo);
        assert_eq!(all, format!("0-{}", sha1_hex("blob:web/package.json-blob:web/ui/package.json")));
        let one = key_string(0, &files(&["*/package.json"], None), &Repo);
        assert_eq!(one, format!("0-{}", sha1_hex("blob:web/package.json")));
        assert_eq!(key_string(0, &files(&["(*"], None), &Repo), "0-default", "no regex syntax leaks");
    }

    #[test]
    fn commits_are_deduplicated() {
        let key = CacheKeySpec::FilesCommits {
            files: vec!["package.json".into(), "Gemfile.lock".into()],
            prefix: None,
        };
        assert_eq!(key_string(0, &key, &Repo), format!("0-{}", sha1_hex("c1")));
    }
}
