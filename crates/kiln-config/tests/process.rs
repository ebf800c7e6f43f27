//! Whole-pipeline data-driven tests: every `test_data/ok/*.yml` must
//! process without errors and every `test_data/err/*.yml` with at least
//! one; each case's diagnostics and plan are compared with a snapshot.
//!
//! A case is one multi-file fixture (`# -- /path` starts another file of the
//! repository) with an optional `# kiln: ...` header setting the pipeline's
//! ref, source, variables and changed paths (see `common::context_from_header`).

mod common;

use std::path::Path;

use kiln_config::sources::{Sources, Unavailable};
use kiln_config::{ProcessOptions, process};

fn run_case(path: &Path) -> (bool, String) {
    let text = std::fs::read_to_string(path).unwrap();
    let files = common::split_files(&text);
    let repo = common::repository(&files);
    let ctx = common::context_from_header(&text);
    let sources = Sources { repository: &repo, projects: &Unavailable, remote: &Unavailable };
    let processed =
        process(".gitlab-ci.yml", &files[".gitlab-ci.yml"], &ctx, sources, &ProcessOptions::default());
    let mut out = common::render_diagnostics(&processed);
    if !out.is_empty() {
        out.push_str("---\n");
    }
    out.push_str(&common::render_outcome(&processed.outcome));
    (processed.is_valid(), out)
}

fn run_dir(kind: &str, expect_valid: bool) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data").join(kind);
    let mut cases: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    cases.retain(|p| p.extension().is_some_and(|e| e == "yml"));
    cases.sort();
    assert!(!cases.is_empty(), "no cases in {}", dir.display());
    let mut wrong = Vec::new();
    for case in &cases {
        let name = case.file_stem().unwrap().to_string_lossy().to_string();
        let (valid, rendered) = run_case(case);
        if valid != expect_valid {
            wrong.push(format!(
                "{name}: expected {}, got:\n{rendered}",
                if expect_valid { "no errors" } else { "errors" }
            ));
        }
        insta::with_settings!({ snapshot_path => dir.join("snapshots"), prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(name, rendered);
        });
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn ok_cases_have_no_errors() {
    run_dir("ok", true);
}

#[test]
fn err_cases_have_errors() {
    run_dir("err", false);
}
