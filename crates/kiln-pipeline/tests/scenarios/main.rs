//! Scenario tests: each file in `test_data/scenarios/` describes pipelines and a
//! script of events; the status timeline after each event is an `insta` snapshot,
//! reviewed against GitLab's behaviour.

mod dsl;

#[test]
fn scenarios() {
    insta::glob!("../../test_data/scenarios", "*.txt", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let timeline = dsl::run(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        insta::assert_snapshot!(timeline);
    });
}
