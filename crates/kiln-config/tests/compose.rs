//! Data-driven tests of the compose phase: each `test_data/compose/*.yml`
//! is one case holding several files, each introduced by a marker line:
//!
//! - `# -- /path`: a file of the project's repository (the first file is
//!   the main `.gitlab-ci.yml`);
//! - `# -- project:group/name@ref:/path`: a file of another project
//!   (`@ref` may be left out for the default branch);
//! - `# -- remote:https://...`: a file behind a URL;
//! - `# -- context`: YAML setting up the pipeline (`variables`, `tag`,
//!   `changed_paths`, `max_includes`, `max_total_size`, `inputs`,
//!   `components_from_projects`).
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

/// Where a node of the merged tree was written: `file:line:column`.
fn position(files: &kiln_config::source::SourceMap, node: &kiln_config::yaml::Node) -> String {
    format!("{}:{}", files.path(node.span.file), node.span.start)
}

#[test]
fn merged_nodes_keep_the_position_of_the_text_they_came_from() {
    let case = Case::parse(
        "# -- /.gitlab-ci.yml
include: [ci/templates.yml]
default:
  image: ruby
job:
  extends: .base
  variables:
    OWN: \"1\"
  after_script: !reference [.cleanup, script]
# -- /ci/templates.yml
.base:
  script: [make]
  variables:
    BASE: \"1\"
.cleanup:
  script: [rm -rf tmp]
",
    );
    let (composed, files, diags) = compose_support::compose_case(&case);
    assert!(diags.is_empty(), "{diags:?}");
    let root = composed.root.unwrap();
    let job = root.get("job").unwrap();
    let at = |key: &str| position(&files, job.get(key).unwrap());
    assert_eq!(at("script"), "ci/templates.yml:2:11");
    assert_eq!(at("after_script"), "ci/templates.yml:6:11");
    assert_eq!(at("image"), ".gitlab-ci.yml:3:10");
    let variables = job.get("variables").unwrap();
    assert_eq!(position(&files, variables.get("BASE").unwrap()), "ci/templates.yml:4:11");
    assert_eq!(position(&files, variables.get("OWN").unwrap()), ".gitlab-ci.yml:7:10");
    // A key written on both sides takes the position of the side that won.
    let (key, _) = job.as_map().unwrap().get_entry("variables").unwrap();
    assert_eq!(format!("{}:{}", files.path(key.span.file), key.span.start), ".gitlab-ci.yml:6:3");
    // `extends` and `include` are gone from the merged tree; `default` stays.
    assert!(job.get("extends").is_none());
    assert!(root.get("include").is_none());
    assert!(root.get("default").is_some());
    assert_eq!(composed.included.len(), 1);
}
