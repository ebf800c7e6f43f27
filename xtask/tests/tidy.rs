//! Tidy rules run as tests: they fail the build when the layout drifts.

use xtask::tidy;

#[test]
fn crates_depend_only_in_the_documented_directions() {
    let problems = tidy::check_dependency_directions(&tidy::workspace_root()).unwrap();
    assert!(problems.is_empty(), "{}", render(&problems));
}

#[test]
fn every_source_file_has_a_header_comment() {
    let problems = tidy::check_file_headers(&tidy::workspace_root()).unwrap();
    assert!(problems.is_empty(), "{}", render(&problems));
}

#[test]
fn the_table_parser_reads_rows_and_dashes() {
    let doc = "<!-- deps:begin -->\n| crate | does | may depend on |\n|---|---|---|\n| `a` | x | — |\n| `b` | y | `kiln-a`, `kiln-c` |\n<!-- deps:end -->";
    let table = tidy::allowed_dependencies(doc).unwrap();
    assert!(table["a"].is_empty());
    assert_eq!(table["b"].iter().cloned().collect::<Vec<_>>(), ["kiln-a", "kiln-c"]);
}

fn render(problems: &[tidy::Problem]) -> String {
    problems.iter().map(|p| format!("\n  {p}")).collect()
}
