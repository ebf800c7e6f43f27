//! Data-driven tests of the compose phase: each `test_data/compose/*.yml`
//! is one case holding several files, each introduced by a marker line:
//!
//! - `# -- /path`: a file of the project's repository (the first file is
//!   the main `.gitlab-ci.yml`);
//! - `# -- project:group/name@ref:/path`: a file of another project
//!   (`@ref` may be left out for the default branch);
//! - `# -- remote:https://...`: a file behind a URL;
//! - `# -- context`: YAML setting up the pipeline (`variables`, `tag`,
//!   `changed_paths`, `max_includes`, `inputs`).
//!
//! The snapshot is the expanded view of the merged tree, then every
//! diagnostic as `file:line:col: severity: message`.

mod compose_support;

use std::path::Path;

use compose_support::{Case, run_case};

#[test]
fn compose_cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/compose");
    let mut entries: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    let mut count = 0;
    for path in entries.iter().filter(|p| p.extension().is_some_and(|e| e == "yml")) {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let case = Case::parse(&std::fs::read_to_string(path).unwrap());
        let rendered = run_case(&case);
        insta::with_settings!({ snapshot_path => dir.join("snapshots"), prepend_module_to_snapshot => false, omit_expression => true, description => name.clone() }, {
            insta::assert_snapshot!(name, rendered);
        });
        count += 1;
    }
    assert!(count > 0);
}
