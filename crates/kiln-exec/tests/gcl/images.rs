//! The images a gitlab-ci-local case names, per job, from its oracle's
//! `preview.yml` (the expanded configuration, so `default:` is applied): the
//! job's `image:` and its `services:`. Images cannot be pulled here; the ones in
//! [`STAND_INS`] are busybox imported under that name.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Images whose stand-in is busybox: the case scripts that use them need only a
/// POSIX shell and busybox's tools (cases that need more of the real image are
/// exceptions in the harness, by name).
pub(crate) const STAND_INS: &[&str] = &[
    "busybox",
    "alpine",
    "alpine:latest",
    "docker.io/library/alpine",
    "docker.io/alpine",
    "docker.io/alpine:3.21",
];

fn unquote(s: &str) -> String {
    s.trim().trim_matches('"').trim_matches('\'').to_string()
}

/// Job name -> the images it names (its own and its services').
pub(crate) fn job_images(case: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let text = std::fs::read_to_string(case.join("oracle/preview.yml")).unwrap_or_default();
    let mut images: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut job: Option<String> = None;
    // The indentation of the `image:` or `services:` key whose block this is.
    let mut block: Option<usize> = None;
    for line in text.lines() {
        let t = line.trim();
        if t.is_empty() || t == "---" {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        if indent == 0 {
            job = t.strip_suffix(':').map(unquote);
            block = None;
            continue;
        }
        let Some(name) = &job else { continue };
        if let Some(b) = block
            && (indent < b || (indent == b && !t.starts_with("- ")))
        {
            block = None;
        }
        let item = t.strip_prefix("- ").unwrap_or(t);
        if block.is_none() {
            if let Some(rest) = t.strip_prefix("image:").or_else(|| t.strip_prefix("services:")) {
                let value = unquote(rest);
                if value.is_empty() {
                    block = Some(indent);
                } else if t.starts_with("image:") {
                    images.entry(name.clone()).or_default().insert(value);
                }
            }
            continue;
        }
        let Some(b) = block else { continue };
        if let Some(value) = item.strip_prefix("name:")
            && indent <= b + 4
        {
            images.entry(name.clone()).or_default().insert(unquote(value));
        } else if t.starts_with("- ") && !item.contains(':') && indent <= b + 2 {
            images.entry(name.clone()).or_default().insert(unquote(item));
        }
    }
    images
}

/// The images a run of `jobs` (all jobs when empty or `all`) needs.
pub(crate) fn needed(
    images: &BTreeMap<String, BTreeSet<String>>,
    jobs: &[String],
    all: bool,
) -> BTreeSet<String> {
    images
        .iter()
        .filter(|(job, _)| {
            all || jobs.is_empty() || jobs.iter().any(|j| j == *job || job.starts_with(&format!("{j} ")))
        })
        .flat_map(|(_, i)| i.iter().cloned())
        .collect()
}

/// Imports the stand-ins the engine does not have yet.
pub(crate) async fn import_stand_ins() {
    let docker = kiln_executor_docker::testing::engine().await;
    for name in STAND_INS {
        // As busybox's and alpine's own images: a shell when no command is given
        // (a service of such an image runs it and idles).
        kiln_executor_docker::testing::ensure_busybox(&docker, name, &["CMD [\"sh\"]"], &[]).await;
    }
}
