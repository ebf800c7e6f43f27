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

/// A job's stage and `needs:` (`None`: every job of the earlier stages).
#[derive(Debug, Default)]
pub(crate) struct Needs {
    stages: Vec<String>,
    jobs: BTreeMap<String, (String, Option<Vec<String>>)>,
}

/// The stages and each job's stage and needs, from the oracle's `preview.yml`.
pub(crate) fn job_needs(case: &Path) -> Needs {
    let text = std::fs::read_to_string(case.join("oracle/preview.yml")).unwrap_or_default();
    let mut needs = Needs::default();
    let mut job: Option<String> = None;
    let mut list: Option<&str> = None;
    for line in text.lines() {
        let t = line.trim();
        let indent = line.len() - line.trim_start().len();
        if t.is_empty() || t == "---" {
            continue;
        }
        if indent == 0 {
            job = t.strip_suffix(':').map(unquote);
            list = (t == "stages:").then_some("stages");
            if let Some(j) = &job
                && j != "stages"
            {
                needs.jobs.insert(j.clone(), ("test".into(), None));
            }
            continue;
        }
        if list == Some("stages") {
            if let Some(stage) = t.strip_prefix("- ") {
                needs.stages.push(unquote(stage));
            }
            continue;
        }
        let Some(entry) = job.as_ref().and_then(|j| needs.jobs.get_mut(j)) else { continue };
        if indent == 2 {
            list = None;
            if let Some(stage) = t.strip_prefix("stage:") {
                entry.0 = unquote(stage);
            } else if t == "needs: []" {
                entry.1 = Some(Vec::new());
            } else if t == "needs:" {
                entry.1 = Some(Vec::new());
                list = Some("needs");
            }
        } else if list == Some("needs") && indent == 4 {
            let item = t.strip_prefix("- ").unwrap_or(t);
            let name = item.strip_prefix("job:").unwrap_or(item);
            if let Some(n) = entry.1.as_mut() {
                n.push(unquote(name));
            }
        }
    }
    needs
}

impl Needs {
    /// `jobs` with what they need, transitively (GitLab's `--needs` selection).
    fn closure(&self, jobs: &[String]) -> BTreeSet<String> {
        let position = |stage: &str| self.stages.iter().position(|s| s == stage).unwrap_or(usize::MAX);
        let mut out = BTreeSet::new();
        let mut todo: Vec<String> = jobs.to_vec();
        while let Some(j) = todo.pop() {
            if !out.insert(j.clone()) {
                continue;
            }
            match self.jobs.get(&j) {
                Some((_, Some(needs))) => todo.extend(needs.iter().cloned()),
                Some((stage, None)) => {
                    let mine = position(stage);
                    todo.extend(
                        self.jobs
                            .iter()
                            .filter(|(_, (s, _))| position(s) < mine)
                            .map(|(name, _)| name.clone()),
                    );
                }
                None => {}
            }
        }
        out
    }
}

/// The images a run of `jobs` (all jobs when empty) needs; with `with_needs`,
/// those of the jobs they need too.
pub(crate) fn needed(
    images: &BTreeMap<String, BTreeSet<String>>,
    needs: &Needs,
    jobs: &[String],
    with_needs: bool,
) -> BTreeSet<String> {
    let named =
        |job: &str, jobs: &[String]| jobs.iter().any(|j| j == job || job.starts_with(&format!("{j} ")));
    let selected: Vec<String> = if with_needs {
        let bases: Vec<String> = needs.jobs.keys().filter(|k| named(k, jobs)).cloned().collect();
        needs.closure(&bases).into_iter().collect()
    } else {
        jobs.to_vec()
    };
    images
        .iter()
        .filter(|(job, _)| jobs.is_empty() || named(job, &selected))
        .flat_map(|(_, i)| i.iter().cloned())
        .collect()
}

/// Imports the stand-ins the engine does not have yet; returns their names, for
/// [`remove_stand_ins`].
pub(crate) async fn import_stand_ins() -> Vec<String> {
    let docker = kiln_executor_docker::testing::engine().await;
    let mut imported = Vec::new();
    for name in STAND_INS {
        if kiln_executor_docker::testing::has_image(&docker, name).await {
            continue;
        }
        // As busybox's and alpine's own images: a shell when no command is given
        // (a service of such an image runs it and idles).
        kiln_executor_docker::testing::ensure_busybox(&docker, name, &["CMD [\"sh\"]"], &[]).await;
        imported.push((*name).to_string());
    }
    imported
}

/// Removes the stand-ins this run imported, so that no busybox stays on the machine
/// under a real image's name (a later `kiln exec` would take it for that image).
pub(crate) async fn remove_stand_ins(names: &[String]) {
    // Without an engine nothing was imported (and asking for one would panic).
    if names.is_empty() {
        return;
    }
    let docker = kiln_executor_docker::testing::engine().await;
    for name in names {
        kiln_executor_docker::testing::remove_image(&docker, name).await;
    }
}
