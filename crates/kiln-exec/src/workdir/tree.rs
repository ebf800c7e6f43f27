//! The working tree as a [`Repository`]: what `kiln lint` and `kiln exec`
//! read local includes from and check `rules:exists` against.
//!
//! Inside a git work tree the file list is git's (tracked and untracked but
//! not ignored), which is what a pushed commit would contain; elsewhere it is
//! every file under the directory.

use std::path::{Path, PathBuf};
use std::process::Command;

use kiln_config::sources::{Projects, Repository, SourceError};

pub struct WorkingTree {
    root: PathBuf,
}

impl WorkingTree {
    pub fn new(root: impl Into<PathBuf>) -> WorkingTree {
        WorkingTree { root: root.into() }
    }

    fn resolve(&self, path: &str) -> Option<PathBuf> {
        let relative = Path::new(path.trim_start_matches('/'));
        // Includes never leave the repository.
        if relative
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_) | std::path::Component::CurDir))
        {
            return None;
        }
        Some(self.root.join(relative))
    }
}

impl Repository for WorkingTree {
    fn read_file(&self, path: &str) -> Result<Option<String>, SourceError> {
        let Some(full) = self.resolve(path) else { return Ok(None) };
        match std::fs::read(&full) {
            Ok(bytes) => String::from_utf8(bytes).map(Some).map_err(|e| {
                SourceError::new(format!(
                    "`{path}` is not valid UTF-8 (at byte {})",
                    e.utf8_error().valid_up_to()
                ))
            }),
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound
                    || e.kind() == std::io::ErrorKind::IsADirectory =>
            {
                Ok(None)
            }
            Err(e) => Err(SourceError::new(format!("failed to read `{path}`: {e}"))),
        }
    }

    fn list_files(&self) -> Result<Vec<String>, SourceError> {
        if let Some(files) = git_files(&self.root) {
            return Ok(files);
        }
        let mut files = Vec::new();
        for entry in walkdir::WalkDir::new(&self.root).into_iter().filter_entry(|e| e.file_name() != ".git") {
            let entry =
                entry.map_err(|e| SourceError::new(format!("failed to list the working tree: {e}")))?;
            if entry.file_type().is_file()
                && let Ok(rel) = entry.path().strip_prefix(&self.root)
            {
                files.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
        files.sort();
        Ok(files)
    }
}

fn git_files(root: &Path) -> Option<Vec<String>> {
    let output = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["ls-files", "-z", "--cached", "--others", "--exclude-standard"])
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let mut files: Vec<String> = output
        .stdout
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    files.sort();
    files.dedup();
    Some(files)
}

/// Other projects for `include:project` and components: the linted project
/// itself is its working tree, other projects are local checkouts the user
/// names with `--project-dir group/project=DIR`. Refs are ignored: a working
/// tree has one state.
pub struct LocalProjects {
    pub projects: Vec<(String, WorkingTree)>,
}

impl LocalProjects {
    fn find(&self, project: &str) -> Result<&WorkingTree, SourceError> {
        self.projects.iter().find(|(name, _)| name.eq_ignore_ascii_case(project)).map(|(_, tree)| tree).ok_or_else(|| {
            SourceError::new(format!(
                "project `{project}` is not available to lint (map it to a checkout with `--project-dir {project}=DIR`)"
            ))
        })
    }
}

impl Projects for LocalProjects {
    fn read_file(
        &self,
        project: &str,
        _git_ref: Option<&str>,
        path: &str,
    ) -> Result<Option<String>, SourceError> {
        self.find(project)?.read_file(path)
    }

    fn list_files(&self, project: &str, _git_ref: Option<&str>) -> Result<Vec<String>, SourceError> {
        self.find(project)?.list_files()
    }
}
