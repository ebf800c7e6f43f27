//! The images a gitlab-ci-local case names, per job, from its oracle's
//! `preview.yml` (read by [`super::preview`]; the expanded configuration, so
//! `default:` is applied): the job's `image:` and its `services:`. Images
//! cannot be pulled here; the ones in [`STAND_INS`] are busybox imported under
//! that name.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::preview::{self, Preview};

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

/// Job name -> the images it names (its own and its services').
pub(crate) fn job_images(case: &Path) -> BTreeMap<String, BTreeSet<String>> {
    preview::read(case).images()
}

/// The stages and each job's stage and needs, for [`needed`].
pub(crate) fn job_needs(case: &Path) -> Preview {
    preview::read(case)
}

/// The images a run of `jobs` (all jobs when empty) needs; with `with_needs`,
/// those of the jobs they need too.
pub(crate) fn needed(
    images: &BTreeMap<String, BTreeSet<String>>,
    needs: &Preview,
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
