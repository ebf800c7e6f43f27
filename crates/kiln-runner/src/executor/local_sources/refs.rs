//! The few ref-store operations a local fetch needs: read a ref of the source
//! repository (loose or packed), list its tags, write a ref of the job's repository.
//!
//! Anything unusual (a symbolic ref, a name git would refuse) answers `None`, and the
//! caller lets `git fetch` do the work and give git's own message.

use std::path::{Path, PathBuf};

/// The git directory of the repository at `path`: the path itself when bare, else its
/// `.git` directory.
pub(super) fn git_dir(path: &Path) -> Option<PathBuf> {
    if path.join("HEAD").is_file() && path.join("objects").is_dir() {
        return Some(path.to_path_buf());
    }
    let dot = path.join(".git");
    (dot.join("HEAD").is_file() && dot.join("objects").is_dir()).then_some(dot)
}

/// Whether `name` is a full ref name that is safe as a path under a git directory
/// (the part of `git check-ref-format` that matters here).
pub(super) fn plausible(name: &str) -> bool {
    name.starts_with("refs/")
        && !name.ends_with('/')
        && !name.ends_with(".lock")
        && !name.contains("..")
        && !name.contains("//")
        && name.split('/').all(|c| !c.is_empty() && !c.starts_with('.'))
        && name.bytes().all(|b| b > b' ' && b != 0x7f && !b"~^:?*[\\".contains(&b))
}

fn is_oid(s: &str) -> bool {
    matches!(s.len(), 40 | 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The source repository's refs, as far as a fetch of explicit names needs them.
pub(super) struct SourceRefs {
    dir: PathBuf,
    packed: Vec<(String, String)>,
}

impl SourceRefs {
    pub(super) fn open(dir: &Path) -> SourceRefs {
        let packed = std::fs::read_to_string(dir.join("packed-refs"))
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with('^'))
            .filter_map(|l| l.split_once(' '))
            .filter(|(oid, _)| is_oid(oid))
            .map(|(oid, name)| (name.to_string(), oid.to_string()))
            .collect();
        SourceRefs { dir: dir.to_path_buf(), packed }
    }

    /// The object a ref names: the loose file, else the packed entry.
    pub(super) fn resolve(&self, name: &str) -> Option<String> {
        if !plausible(name) {
            return None;
        }
        match std::fs::read_to_string(self.dir.join(name)) {
            Ok(text) => Some(text.trim_end().to_string()).filter(|oid| is_oid(oid)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.packed.iter().find(|(n, _)| n == name).map(|(_, oid)| oid.clone())
            }
            Err(_) => None,
        }
    }

    /// Every tag name, loose and packed.
    pub(super) fn tags(&self) -> Vec<String> {
        self.names_under("refs/tags/")
    }

    /// Every ref name starting with `prefix` (which ends in `/`), loose and packed.
    pub(super) fn names_under(&self, prefix: &str) -> Vec<String> {
        let mut names: Vec<String> =
            self.packed.iter().filter(|(n, _)| n.starts_with(prefix)).map(|(n, _)| n.clone()).collect();
        names.extend(loose_names_under(&self.dir, prefix));
        names.sort();
        names.dedup();
        names
    }
}

/// The loose refs of the git directory `git` whose names start with `prefix`.
pub(super) fn loose_names_under(git: &Path, prefix: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut stack = vec![git.join(prefix)];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(path);
            } else if let Ok(rel) = path.strip_prefix(git) {
                names.push(rel.to_string_lossy().into_owned());
            }
        }
    }
    names
}

/// Whether the git directory's `packed-refs` holds a ref starting with `prefix`
/// (pruning those would mean rewriting the file: left to `git fetch`).
pub(super) fn packs_any_under(git: &Path, prefix: &str) -> bool {
    std::fs::read_to_string(git.join("packed-refs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once(' '))
        .any(|(_, name)| name.starts_with(prefix))
}

/// Points `name` at `oid` in the git directory `git`, as a loose ref written whole
/// (a temporary file renamed over it), which takes precedence over a packed entry.
pub(super) fn write(git: &Path, name: &str, oid: &str) -> std::io::Result<()> {
    let path = git.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = path.with_extension("kiln-tmp");
    std::fs::write(&tmp, format!("{oid}\n"))?;
    std::fs::rename(&tmp, &path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ref_names_that_could_leave_the_git_directory_are_refused() {
        for bad in [
            "refs/../../etc/passwd",
            "refs/heads/.hidden",
            "HEAD",
            "refs/heads/a b",
            "refs//x",
            "refs/x.lock",
        ] {
            assert!(!plausible(bad), "{bad}");
        }
        for good in
            ["refs/heads/main", "refs/pipelines/12", "refs/tags/v1.0", "refs/remotes/origin/feature/x"]
        {
            assert!(plausible(good), "{good}");
        }
    }

    #[test]
    fn loose_refs_win_over_packed_ones_and_tags_are_listed_once() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = ("a".repeat(40), "b".repeat(40));
        std::fs::write(
            dir.path().join("packed-refs"),
            format!(
                "# pack-refs with: peeled fully-peeled sorted\n{a} refs/heads/main\n{a} refs/tags/v1\n^{b}\n"
            ),
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("refs/tags/rel")).unwrap();
        std::fs::write(dir.path().join("refs/tags/v1"), format!("{b}\n")).unwrap();
        std::fs::write(dir.path().join("refs/tags/rel/2"), format!("{b}\n")).unwrap();
        let refs = SourceRefs::open(dir.path());
        assert_eq!(refs.resolve("refs/heads/main").as_deref(), Some(a.as_str()));
        assert_eq!(refs.resolve("refs/tags/v1").as_deref(), Some(b.as_str()));
        assert_eq!(refs.resolve("refs/heads/gone"), None);
        assert_eq!(refs.tags(), ["refs/tags/rel/2", "refs/tags/v1"]);
    }
}
