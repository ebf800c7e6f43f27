//! Which files an artifact or cache takes: `paths` globs (with `**`; a matching directory
//! takes everything below it), `exclude` globs, and `untracked` files (from git).

use std::path::{Component, Path, PathBuf};

use globset::{GlobSet, GlobSetBuilder};

/// A pattern that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    #[error("invalid pattern {pattern:?}: {message}")]
    Pattern { pattern: String, message: String },
    #[error("failed to list untracked files: {0}")]
    Untracked(String),
}

fn normalize(p: &str) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    for c in Path::new(p.trim()).components() {
        match c {
            Component::CurDir => {}
            Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts.join("/"))
}

fn set(patterns: &[String], warn: &mut Vec<String>) -> Result<GlobSet, SelectError> {
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        let Some(n) = normalize(p) else {
            warn.push(format!("{p}: path is outside the project directory, ignored"));
            continue;
        };
        let n = if n.is_empty() { "**".to_string() } else { n };
        let glob = globset::GlobBuilder::new(&n)
            .literal_separator(true)
            .backslash_escape(true)
            .build()
            .map_err(|e| SelectError::Pattern { pattern: p.clone(), message: e.to_string() })?;
        b.add(glob);
    }
    b.build().map_err(|e| SelectError::Pattern { pattern: patterns.join(","), message: e.to_string() })
}

fn matches_self_or_ancestor(set: &GlobSet, rel: &Path) -> bool {
    rel.ancestors().filter(|a| !a.as_os_str().is_empty()).any(|a| set.is_match(a))
}

/// Relative paths (files, symlinks and directories) under `root` selected by the patterns,
/// sorted; also returns warnings (patterns outside the project, patterns matching nothing).
pub fn select_files(
    root: &Path,
    paths: &[String],
    exclude: &[String],
    untracked: bool,
) -> Result<(Vec<PathBuf>, Vec<String>), SelectError> {
    let mut warnings = Vec::new();
    let include = set(paths, &mut warnings)?;
    let excl = set(exclude, &mut warnings)?;
    let mut untracked_files: Vec<PathBuf> = Vec::new();
    if untracked {
        let out = std::process::Command::new("git")
            .args(["ls-files", "-o", "-z", "--exclude-standard"])
            .current_dir(root)
            .output()
            .map_err(|e| SelectError::Untracked(e.to_string()))?;
        if !out.status.success() {
            return Err(SelectError::Untracked(String::from_utf8_lossy(&out.stderr).trim().to_string()));
        }
        untracked_files = out
            .stdout
            .split(|b| *b == 0)
            .filter(|s| !s.is_empty())
            .map(|s| PathBuf::from(String::from_utf8_lossy(s).into_owned()))
            .collect();
    }
    let mut out = Vec::new();
    if !paths.is_empty() {
        for entry in
            walkdir::WalkDir::new(root).follow_links(false).min_depth(1).into_iter().filter_map(Result::ok)
        {
            let Ok(rel) = entry.path().strip_prefix(root) else { continue };
            if matches_self_or_ancestor(&include, rel) && !matches_self_or_ancestor(&excl, rel) {
                out.push(rel.to_path_buf());
            }
        }
    }
    for f in untracked_files {
        if !matches_self_or_ancestor(&excl, &f) {
            out.push(f);
        }
    }
    out.sort();
    out.dedup();
    if out.is_empty() && !paths.is_empty() {
        warnings.push(format!("{}: no matching files", paths.join(", ")));
    }
    Ok((out, warnings))
}
