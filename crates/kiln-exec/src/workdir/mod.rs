//! The pipeline's project as a working tree on this machine: its files for
//! the processor ([`tree`]), what git knows about it ([`git`]), and remote
//! includes over HTTP ([`remote`]). `kiln lint` and `kiln exec` share them.

pub mod git;
pub mod remote;
pub mod tree;

use std::path::{Path, PathBuf};

/// The top of the git work tree around `dir`, if it is in one.
pub fn toplevel(dir: &Path) -> Option<PathBuf> {
    std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "--show-toplevel"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| PathBuf::from(s.trim_end()))
}

/// `file`'s path relative to `root`, with `/` separators, as diagnostics
/// and `CI_CONFIG_PATH` name it; the path as given when it is elsewhere.
pub fn relative_path(file: &Path, root: &Path) -> String {
    std::path::absolute(file)
        .ok()
        .and_then(|abs| {
            std::path::absolute(root).ok().and_then(|r| abs.strip_prefix(r).ok().map(Path::to_path_buf))
        })
        .map_or_else(|| file.display().to_string(), |p| p.to_string_lossy().replace('\\', "/"))
}
