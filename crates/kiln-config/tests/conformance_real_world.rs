//! Production pipelines of 16 public projects
//! (../shared/conformance/real-world): GitLab runs every one of them, so we
//! must accept each and produce its job list (snapshotted for review). Files
//! they include from outside the corpus are stubbed (see
//! `support/real_world.rs`).

mod common;
#[path = "support/real_world.rs"]
mod real_world;

use std::path::{Path, PathBuf};

use kiln_config::plan::Outcome;
use kiln_config::process;
use real_world::{Case, REPOS};

#[test]
fn every_real_world_pipeline_is_accepted() {
    let mut report = String::new();
    let mut failures = Vec::new();
    for repo in REPOS {
        let case = Case::load(repo);
        let p = process(".gitlab-ci.yml", &case.text, &case.context(), case.sources(), &Case::options());
        if !p.is_valid() {
            failures.push(format!("{}:\n{}", case.folder, common::render_diagnostics(&p)));
            continue;
        }
        report.push_str(&format!(
            "## {} ({} on {}, {})\n",
            case.folder, case.project, case.host, case.default_branch
        ));
        match &p.outcome {
            Some(Outcome::Created(plan)) => {
                for job in &plan.jobs {
                    report.push_str(&format!("{:<10} {:<10} {}\n", job.stage, job.when.as_str(), job.name));
                }
            }
            Some(Outcome::NotCreated { reason }) => report.push_str(&format!("not created: {reason}\n")),
            None => report.push_str("no plan\n"),
        }
    }
    assert!(failures.is_empty(), "{} of {} rejected:\n{}", failures.len(), REPOS.len(), failures.join("\n"));
    insta::with_settings!({ snapshot_path => snapshots(), prepend_module_to_snapshot => false, omit_expression => true }, {
        insta::assert_snapshot!("real_world_job_lists", report);
    });
}

fn snapshots() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/snapshots")
}
