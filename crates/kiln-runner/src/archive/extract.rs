//! Extracting untrusted zip archives (dependency artifacts, caches) without letting them
//! escape: entries with absolute paths or `..`, symlinks pointing outside, writes through
//! existing symlinks, and archives that inflate beyond the limits are refused.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

/// Why an archive was refused or could not be extracted.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("refusing {entry:?}: the path is absolute")]
    Absolute { entry: String },
    #[error("refusing {entry:?}: the path escapes the destination directory")]
    Escapes { entry: String },
    #[error("refusing symlink {entry:?}: its target {target:?} points outside the destination directory")]
    SymlinkOutside { entry: String, target: String },
    #[error("refusing {entry:?}: it would be written through a symlink")]
    ThroughSymlink { entry: String },
    #[error("refusing the archive: it inflates to more than {limit} bytes (possible zip bomb)")]
    TooLarge { limit: u64 },
    #[error("refusing {entry:?}: compression ratio above {ratio}:1 (possible zip bomb)")]
    Ratio { entry: String, ratio: u64 },
    #[error("refusing the archive: more than {limit} entries")]
    TooManyEntries { limit: usize },
    #[error("invalid zip archive: {0}")]
    Zip(String),
    #[error("failed to extract {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Limits against decompression bombs.
#[derive(Debug, Clone, Copy)]
pub struct ExtractLimits {
    /// Total bytes written, counted while inflating (headers are not trusted).
    pub max_total_bytes: u64,
    /// Largest allowed ratio of inflated to compressed size, for entries above 1 MiB.
    pub max_ratio: u64,
    pub max_entries: usize,
}

impl Default for ExtractLimits {
    fn default() -> Self {
        ExtractLimits { max_total_bytes: 16 * 1024 * 1024 * 1024, max_ratio: 1000, max_entries: 1_000_000 }
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ExtractError + '_ {
    move |source| ExtractError::Io { path: path.to_path_buf(), source }
}

/// The entry's path below the destination, or why it is refused.
fn safe_relative(name: &str) -> Result<PathBuf, ExtractError> {
    let entry = name.to_string();
    if name.starts_with('/') || name.starts_with('\\') || name.get(1..2) == Some(":") {
        return Err(ExtractError::Absolute { entry });
    }
    let mut out = PathBuf::new();
    for c in Path::new(&name.replace('\\', "/")).components() {
        match c {
            Component::Normal(s) => out.push(s),
            Component::CurDir => {}
            Component::ParentDir => return Err(ExtractError::Escapes { entry }),
            Component::RootDir | Component::Prefix(_) => return Err(ExtractError::Absolute { entry }),
        }
    }
    Ok(out)
}

/// Whether a symlink at `rel` with `target` stays inside the destination.
fn link_stays_inside(rel: &Path, target: &str) -> bool {
    if target.starts_with('/') {
        return false;
    }
    let mut depth: i64 = rel.parent().map(|p| p.components().count() as i64).unwrap_or(0);
    for c in Path::new(target).components() {
        match c {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            _ => return false,
        }
        if depth < 0 {
            return false;
        }
    }
    true
}

/// Refuses to write below a symlink that already exists in the destination.
fn check_no_symlink_parents(dest: &Path, rel: &Path, entry: &str) -> Result<(), ExtractError> {
    let mut cur = dest.to_path_buf();
    if let Some(parent) = rel.parent() {
        for c in parent.components() {
            cur.push(c);
            if std::fs::symlink_metadata(&cur).is_ok_and(|m| m.file_type().is_symlink()) {
                return Err(ExtractError::ThroughSymlink { entry: entry.to_string() });
            }
        }
    }
    Ok(())
}

/// Extracts `archive` into `dest`; returns the number of entries written.
pub fn extract_zip(archive: &Path, dest: &Path, limits: ExtractLimits) -> Result<usize, ExtractError> {
    let file = File::open(archive).map_err(io(archive))?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| ExtractError::Zip(e.to_string()))?;
    if zip.len() > limits.max_entries {
        return Err(ExtractError::TooManyEntries { limit: limits.max_entries });
    }
    // Check every name first, so a hostile archive writes nothing at all.
    for i in 0..zip.len() {
        let entry = zip.by_index_raw(i).map_err(|e| ExtractError::Zip(e.to_string()))?;
        let name = entry.name().map_err(|e| ExtractError::Zip(e.to_string()))?.into_owned();
        safe_relative(&name)?;
    }
    std::fs::create_dir_all(dest).map_err(io(dest))?;
    let mut total: u64 = 0;
    let mut written = 0;
    let mut buf = vec![0u8; 64 * 1024];
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| ExtractError::Zip(e.to_string()))?;
        let name = entry.name().map_err(|e| ExtractError::Zip(e.to_string()))?.into_owned();
        let rel = safe_relative(&name)?;
        if rel.as_os_str().is_empty() {
            continue;
        }
        check_no_symlink_parents(dest, &rel, &name)?;
        let path = dest.join(&rel);
        let mode = entry.unix_mode();
        let is_link = mode.is_some_and(|m| m & 0o170000 == 0o120000);
        if entry.is_dir() {
            std::fs::create_dir_all(&path).map_err(io(&path))?;
        } else if is_link {
            let mut target = String::new();
            entry.read_to_string(&mut target).map_err(io(&path))?;
            if !link_stays_inside(&rel, &target) {
                return Err(ExtractError::SymlinkOutside { entry: name, target });
            }
            if let Some(p) = path.parent() {
                std::fs::create_dir_all(p).map_err(io(p))?;
            }
            let _ = std::fs::remove_file(&path);
            std::os::unix::fs::symlink(&target, &path).map_err(io(&path))?;
        } else {
            if let Some(p) = path.parent() {
                std::fs::create_dir_all(p).map_err(io(p))?;
            }
            if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
                std::fs::remove_file(&path).map_err(io(&path))?;
            }
            let compressed = entry.compressed_size().max(1);
            let mut out = File::create(&path).map_err(io(&path))?;
            let mut entry_bytes: u64 = 0;
            loop {
                let n = entry.read(&mut buf).map_err(io(&path))?;
                if n == 0 {
                    break;
                }
                entry_bytes += n as u64;
                total += n as u64;
                if total > limits.max_total_bytes {
                    drop(out);
                    let _ = std::fs::remove_file(&path);
                    return Err(ExtractError::TooLarge { limit: limits.max_total_bytes });
                }
                if entry_bytes > 1024 * 1024 && entry_bytes / compressed > limits.max_ratio {
                    drop(out);
                    let _ = std::fs::remove_file(&path);
                    return Err(ExtractError::Ratio { entry: name, ratio: limits.max_ratio });
                }
                out.write_all(&buf[..n]).map_err(io(&path))?;
            }
            if let Some(m) = mode {
                let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(m & 0o777));
            }
        }
        written += 1;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_targets_are_checked_against_depth() {
        assert!(link_stays_inside(Path::new("a/b"), "c"));
        assert!(link_stays_inside(Path::new("a/b"), "../c"));
        assert!(!link_stays_inside(Path::new("a/b"), "../../c"));
        assert!(!link_stays_inside(Path::new("b"), "/etc/passwd"));
    }

    #[test]
    fn names_are_checked() {
        assert!(matches!(safe_relative("/etc/x"), Err(ExtractError::Absolute { .. })));
        assert!(matches!(safe_relative("a/../../x"), Err(ExtractError::Escapes { .. })));
        assert!(matches!(safe_relative("C:/x"), Err(ExtractError::Absolute { .. })));
        assert_eq!(safe_relative("./a/b").unwrap(), PathBuf::from("a/b"));
    }
}
