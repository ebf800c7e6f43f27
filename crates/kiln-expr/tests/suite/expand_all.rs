//! `expand_all` (GitLab's `Collection#sort_and_expand_all`): order, escapes, raw and file variables,
//! and cycles.

use kiln_expr::{ExpandAllOptions, Variable, expand_all, expand_all_with};

fn v(name: &str, value: &str) -> Variable {
    Variable::new(name, value)
}

fn raw(name: &str, value: &str) -> Variable {
    Variable { raw: true, ..Variable::new(name, value) }
}

fn file(name: &str, value: &str) -> Variable {
    Variable { file: true, ..Variable::new(name, value) }
}

fn render(vars: &[Variable]) -> Vec<String> {
    vars.iter().map(|v| format!("{}={}", v.name, v.value)).collect()
}

/// `all!(test_name, [variables], [expected "NAME=value" in result order])`, default options.
macro_rules! all {
    ($name:ident, [$($var:expr),* $(,)?], [$($want:expr),* $(,)?]) => {
        #[test]
        fn $name() {
            let got = expand_all(vec![$($var),*]).expect("no cycle");
            let want: &[&str] = &[$($want),*];
            assert_eq!(render(&got), want);
        }
    };
}

/// `payload!(...)`: like `all!`, with the options GitLab uses for the runner's job payload.
macro_rules! payload {
    ($name:ident, [$($var:expr),* $(,)?], [$($want:expr),* $(,)?]) => {
        #[test]
        fn $name() {
            let got = expand_all_with(vec![$($var),*], ExpandAllOptions::RUNNER_PAYLOAD).expect("no cycle");
            let want: &[&str] = &[$($want),*];
            assert_eq!(render(&got), want);
        }
    };
}

/// `cycle!(test_name, [variables], "message")`: the error, and the variables handed back untouched.
macro_rules! cycle {
    ($name:ident, [$($var:expr),* $(,)?], $message:expr) => {
        #[test]
        fn $name() {
            let given = vec![$($var),*];
            let err = expand_all(given.clone()).expect_err("a cycle");
            assert_eq!(err.to_string(), $message);
            assert_eq!(err.variables, given);
        }
    };
}

all!(independent_variables_keep_their_order, [v("A", "1"), v("B", "2")], ["A=1", "B=2"]);
all!(a_dependency_is_placed_first, [v("A", "$B"), v("B", "b")], ["B=b", "A=b"]);
all!(chains_resolve_fully, [v("A", "<$B>"), v("B", "${C}!"), v("C", "c")], ["C=c", "B=c!", "A=<c!>"]);
all!(percent_references_count, [v("A", "%B%"), v("B", "b")], ["B=b", "A=b"]);
all!(unknown_references_are_removed, [v("A", "x${U}y$U")], ["A=xy"]);
all!(escapes_are_left_for_the_runner, [v("A", "$$B %%B%%"), v("B", "b")], ["A=$$B %%B%%", "B=b"]);
all!(empty_braces_are_left_alone, [v("A", "${}")], ["A=${}"]);
all!(values_without_references_are_untouched, [v("A", "100% $ sure")], ["A=100% $ sure"]);
all!(raw_values_are_not_expanded, [raw("A", "$B"), v("B", "b")], ["A=$B", "B=b"]);
all!(
    raw_values_are_substituted_verbatim,
    [raw("B", "$C"), v("A", "$B"), v("C", "c")],
    ["B=$C", "A=$C", "C=c"]
);
all!(file_references_expand_to_the_value, [file("F", "secret"), v("A", "$F")], ["F=secret", "A=secret"]);
all!(a_lone_self_reference_finds_nothing, [v("A", "x$A")], ["A=x"]);
all!(
    a_self_reference_sees_the_earlier_definition,
    [v("P", "/usr"), v("P", "$P:/bin")],
    ["P=/usr", "P=/usr:/bin"]
);
all!(
    a_reference_sees_every_definition_of_a_name,
    [v("A", "$B"), v("B", "1"), v("B", "2")],
    ["B=1", "B=2", "A=2"]
);
all!(unicode_survives, [v("A", "ü$B"), v("B", "ß")], ["B=ß", "A=üß"]);
all!(empty_list, [], []);

payload!(payload_keeps_unknown_references, [v("A", "x$U")], ["A=x$U"]);
payload!(payload_keeps_raw_references, [raw("B", "$C"), v("A", "$B")], ["B=$C", "A=$B"]);
payload!(payload_keeps_file_references, [file("F", "secret"), v("A", "$F")], ["F=secret", "A=$F"]);
payload!(payload_expands_plain_references, [v("A", "$B"), v("B", "b")], ["B=b", "A=b"]);

cycle!(two_variables, [v("A", "$B"), v("B", "$A")], r#"circular variable reference detected: ["A", "B"]"#);
cycle!(
    two_cycles,
    [v("A", "$B"), v("B", "$A"), v("C", "${D}"), v("D", "%C%")],
    r#"circular variable reference detected: ["A", "B"], ["C", "D"]"#
);
cycle!(
    three_in_visit_order,
    [v("B", "$C"), v("C", "$A"), v("A", "$B"), v("OK", "fine")],
    r#"circular variable reference detected: ["B", "C", "A"]"#
);
cycle!(
    through_a_redefinition,
    [v("A", "x"), v("B", "$A"), v("A", "$B")],
    r#"circular variable reference detected: ["B", "A"]"#
);

#[test]
fn a_cycle_through_a_raw_variable_is_no_cycle() {
    let got = expand_all(vec![v("A", "$B"), raw("B", "$A")]).expect("raw values reference nothing");
    assert_eq!(render(&got), ["B=$A", "A=$A"]);
}
