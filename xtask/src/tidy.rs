//! Tidy rules: crate dependency directions and `//!` file headers.
//!
//! The allowed dependency directions are read from the table in
//! `ARCHITECTURE.md` (between the `deps:begin` / `deps:end` markers), so the
//! document and the check cannot drift apart.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// One broken rule, with the file it was found in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.message)
    }
}

/// The repository root (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// Runs every tidy rule and returns what is broken.
pub fn check_all(root: &Path) -> anyhow::Result<Vec<Problem>> {
    let mut problems = check_dependency_directions(root)?;
    problems.extend(check_file_headers(root)?);
    Ok(problems)
}

/// The allowed `kiln*` dependencies of each crate, as `ARCHITECTURE.md` lists them.
pub fn allowed_dependencies(architecture_md: &str) -> anyhow::Result<BTreeMap<String, BTreeSet<String>>> {
    let start = architecture_md
        .find("<!-- deps:begin -->")
        .context("ARCHITECTURE.md has no `<!-- deps:begin -->` marker")?;
    let end = architecture_md
        .find("<!-- deps:end -->")
        .context("ARCHITECTURE.md has no `<!-- deps:end -->` marker")?;
    if end < start {
        bail!("ARCHITECTURE.md: `deps:end` comes before `deps:begin`");
    }
    let mut table = BTreeMap::new();
    for line in architecture_md[start..end].lines() {
        let cells: Vec<&str> = line.trim().trim_matches('|').split('|').map(str::trim).collect();
        if cells.len() < 2 || !cells[0].starts_with('`') {
            continue; // header, separator, or prose
        }
        let name = cells[0].trim_matches('`').to_string();
        let deps = cells[cells.len() - 1]
            .split(',')
            .map(|d| d.trim().trim_matches('`').to_string())
            .filter(|d| d.starts_with("kiln") || d == "xtask")
            .collect();
        table.insert(name, deps);
    }
    if table.is_empty() {
        bail!("ARCHITECTURE.md: the dependency table between the markers has no rows");
    }
    Ok(table)
}

/// Every crate under `crates/` must be in the table, and depend only on what it allows.
pub fn check_dependency_directions(root: &Path) -> anyhow::Result<Vec<Problem>> {
    let doc_path = root.join("ARCHITECTURE.md");
    let doc = std::fs::read_to_string(&doc_path)
        .with_context(|| format!("failed to read {}", doc_path.display()))?;
    let allowed = allowed_dependencies(&doc)?;
    let mut problems = Vec::new();
    for manifest in crate_manifests(root)? {
        let text = std::fs::read_to_string(&manifest)
            .with_context(|| format!("failed to read {}", manifest.display()))?;
        let value: toml::Table =
            toml::from_str(&text).with_context(|| format!("failed to parse {}", manifest.display()))?;
        let name = value
            .get("package")
            .and_then(|p| p.get("name"))
            .and_then(|n| n.as_str())
            .with_context(|| format!("{}: no package.name", manifest.display()))?
            .to_string();
        let Some(allowed_here) = allowed.get(&name) else {
            problems.push(Problem {
                file: manifest.clone(),
                message: format!("crate `{name}` is missing from the dependency table in ARCHITECTURE.md"),
            });
            continue;
        };
        for section in ["dependencies", "build-dependencies"] {
            let Some(deps) = value.get(section).and_then(|d| d.as_table()) else { continue };
            for dep in deps.keys().filter(|d| d.starts_with("kiln")) {
                if !allowed_here.contains(dep) {
                    problems.push(Problem {
                        file: manifest.clone(),
                        message: format!(
                            "`{name}` depends on `{dep}` ([{section}]), which ARCHITECTURE.md does not allow"
                        ),
                    });
                }
            }
        }
    }
    Ok(problems)
}

/// Every Rust source file must open with a `//!` comment saying what it is for.
pub fn check_file_headers(root: &Path) -> anyhow::Result<Vec<Problem>> {
    let mut files = Vec::new();
    for dir in ["crates", "xtask"] {
        collect_rust_files(&root.join(dir), &mut files)?;
    }
    let mut problems = Vec::new();
    for file in files {
        let text =
            std::fs::read_to_string(&file).with_context(|| format!("failed to read {}", file.display()))?;
        let first = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
        if !first.starts_with("//!") {
            problems.push(Problem {
                file: file.strip_prefix(root).unwrap_or(&file).to_path_buf(),
                message: "file does not start with a `//!` comment saying what it is for".into(),
            });
        }
    }
    Ok(problems)
}

fn crate_manifests(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut manifests = Vec::new();
    let crates = root.join("crates");
    for entry in std::fs::read_dir(&crates).with_context(|| format!("failed to list {}", crates.display()))? {
        let manifest = entry?.path().join("Cargo.toml");
        if manifest.is_file() {
            manifests.push(manifest);
        }
    }
    manifests.sort();
    Ok(manifests)
}

fn collect_rust_files(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(()) };
    for entry in entries {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            // Build output and generated fuzz corpora are not ours to document.
            if matches!(name, "target" | "corpus" | "artifacts" | "snapshots") {
                continue;
            }
            collect_rust_files(&path, out)?;
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
    Ok(())
}
