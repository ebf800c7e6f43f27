//! GitLab's own table for `Statement` (`spec/lib/gitlab/ci/pipeline/expression/statement_spec.rb`),
//! ported row by row. GitLab's `#evaluate` rows expect a Ruby value; our `evaluate` answers with that
//! value's `present?`, which is what `#truthful?` (the verdict rules use) returns.

use std::collections::HashMap;

use kiln_expr::Expression;

/// The Ruby values the spec expects from `#evaluate`.
#[derive(Clone, Copy, Debug)]
enum Ruby {
    True,
    False,
    Nil,
    Str(&'static str),
}

impl Ruby {
    fn present(self) -> bool {
        match self {
            Ruby::True => true,
            Ruby::False | Ruby::Nil => false,
            Ruby::Str(s) => !s.trim().is_empty(),
        }
    }
}

use Ruby::{False, Nil, Str, True};

const EVALUATE: &[(&str, Ruby)] = &[
    (r#"$PRESENT_VARIABLE == "my variable""#, True),
    (r#""my variable" == $PRESENT_VARIABLE"#, True),
    ("$PRESENT_VARIABLE == null", False),
    ("$EMPTY_VARIABLE == null", False),
    (r#""" == $EMPTY_VARIABLE"#, True),
    ("$EMPTY_VARIABLE", Str("")),
    ("$UNDEFINED_VARIABLE == null", True),
    ("null == $UNDEFINED_VARIABLE", True),
    ("$PRESENT_VARIABLE", Str("my variable")),
    ("$UNDEFINED_VARIABLE", Nil),
    ("$PRESENT_VARIABLE =~ /var.*e$/", True),
    (r"$PRESENT_VARIABLE =~ /va\r.*e$/", False),
    (r"$PRESENT_VARIABLE =~ /va\/r.*e$/", False),
    ("$PRESENT_VARIABLE =~ /^var.*/", False),
    ("$EMPTY_VARIABLE =~ /var.*/", False),
    ("$UNDEFINED_VARIABLE =~ /var.*/", False),
    ("$PRESENT_VARIABLE =~ /VAR.*/i", True),
    (r"$PATH_VARIABLE =~ /path\/variable/", True),
    (r"$FULL_PATH_VARIABLE =~ /^\/a\/full\/path\/variable\/value$/", True),
    // Ruby's single quotes turn the spec's `\\` into one backslash.
    (r"$FULL_PATH_VARIABLE =~ /\/path\/variable\/value$/", True),
    (r#"$PRESENT_VARIABLE != "my variable""#, False),
    (r#""my variable" != $PRESENT_VARIABLE"#, False),
    ("$PRESENT_VARIABLE != null", True),
    ("$EMPTY_VARIABLE != null", True),
    (r#""" != $EMPTY_VARIABLE"#, False),
    ("$UNDEFINED_VARIABLE != null", False),
    ("null != $UNDEFINED_VARIABLE", False),
    ("$PRESENT_VARIABLE !~ /var.*e$/", False),
    ("$PRESENT_VARIABLE !~ /^var.*/", True),
    (r"$PRESENT_VARIABLE !~ /^v\ar.*/", True),
    (r"$PRESENT_VARIABLE !~ /^v\/ar.*/", True),
    ("$EMPTY_VARIABLE !~ /var.*/", True),
    ("$UNDEFINED_VARIABLE !~ /var.*/", True),
    ("$PRESENT_VARIABLE !~ /VAR.*/i", False),
    (r#"$PRESENT_VARIABLE && "string""#, Str("string")),
    ("$PRESENT_VARIABLE && $PRESENT_VARIABLE", Str("my variable")),
    ("$PRESENT_VARIABLE && $EMPTY_VARIABLE", Str("")),
    ("$PRESENT_VARIABLE && null", Nil),
    (r#""string" && $PRESENT_VARIABLE"#, Str("my variable")),
    ("$EMPTY_VARIABLE && $PRESENT_VARIABLE", Str("my variable")),
    ("null && $PRESENT_VARIABLE", Nil),
    (r#"$EMPTY_VARIABLE && "string""#, Str("string")),
    ("$EMPTY_VARIABLE && $EMPTY_VARIABLE", Str("")),
    (r#""string" && $EMPTY_VARIABLE"#, Str("")),
    (r#""string" && null"#, Nil),
    (r#"null && "string""#, Nil),
    (r#""string" && "string""#, Str("string")),
    ("null && null", Nil),
    ("$PRESENT_VARIABLE =~ /my var/ && $EMPTY_VARIABLE =~ /nope/", False),
    (r#"$EMPTY_VARIABLE == "" && $PRESENT_VARIABLE"#, Str("my variable")),
    (r#"$EMPTY_VARIABLE == "" && $PRESENT_VARIABLE != "nope""#, True),
    ("$PRESENT_VARIABLE && $EMPTY_VARIABLE", Str("")),
    ("$PRESENT_VARIABLE && $UNDEFINED_VARIABLE", Nil),
    ("$UNDEFINED_VARIABLE && $EMPTY_VARIABLE", Nil),
    ("$UNDEFINED_VARIABLE && $PRESENT_VARIABLE", Nil),
    (
        r"$FULL_PATH_VARIABLE =~ /^\/a\/full\/path\/variable\/value$/ && $PATH_VARIABLE =~ /path\/variable/",
        True,
    ),
    (
        r"$FULL_PATH_VARIABLE =~ /^\/a\/bad\/path\/variable\/value$/ && $PATH_VARIABLE =~ /path\/variable/",
        False,
    ),
    (
        r"$FULL_PATH_VARIABLE =~ /^\/a\/full\/path\/variable\/value$/ && $PATH_VARIABLE =~ /bad\/path\/variable/",
        False,
    ),
    (
        r"$FULL_PATH_VARIABLE =~ /^\/a\/bad\/path\/variable\/value$/ && $PATH_VARIABLE =~ /bad\/path\/variable/",
        False,
    ),
    (
        r"$FULL_PATH_VARIABLE =~ /^\/a\/full\/path\/variable\/value$/ || $PATH_VARIABLE =~ /path\/variable/",
        True,
    ),
    (
        r"$FULL_PATH_VARIABLE =~ /^\/a\/bad\/path\/variable\/value$/ || $PATH_VARIABLE =~ /path\/variable/",
        True,
    ),
    (
        r"$FULL_PATH_VARIABLE =~ /^\/a\/full\/path\/variable\/value$/ || $PATH_VARIABLE =~ /bad\/path\/variable/",
        True,
    ),
    (
        r"$FULL_PATH_VARIABLE =~ /^\/a\/bad\/path\/variable\/value$/ || $PATH_VARIABLE =~ /bad\/path\/variable/",
        False,
    ),
    ("$PRESENT_VARIABLE =~ /my var/ || $EMPTY_VARIABLE =~ /nope/", True),
    (r#"$EMPTY_VARIABLE == "" || $PRESENT_VARIABLE"#, True),
    (r#"$PRESENT_VARIABLE != "nope" || $EMPTY_VARIABLE == """#, True),
    (r#"$PRESENT_VARIABLE && null || $EMPTY_VARIABLE == """#, True),
    ("$PRESENT_VARIABLE || $UNDEFINED_VARIABLE", Str("my variable")),
    ("$UNDEFINED_VARIABLE || $PRESENT_VARIABLE", Str("my variable")),
    ("$UNDEFINED_VARIABLE == null || $PRESENT_VARIABLE", True),
    ("$PRESENT_VARIABLE || $UNDEFINED_VARIABLE == null", Str("my variable")),
    ("($PRESENT_VARIABLE)", Str("my variable")),
    ("(($PRESENT_VARIABLE))", Str("my variable")),
    (r#"(($PRESENT_VARIABLE && null) || $EMPTY_VARIABLE == "")"#, True),
    (r#"($PRESENT_VARIABLE) && (null || $EMPTY_VARIABLE == "")"#, True),
    (r#"("string" || "test") == "string""#, True),
    (r#"(null || ("test" == "string"))"#, False),
    (r#"("string" == ("test" && "string"))"#, True),
    (r#"("string" == ("test" || "string"))"#, False),
    (r#"("string" == "test" || "string")"#, Str("string")),
    (r#"("string" == ("string" || (("1" == "1") && ("2" == "3"))))"#, True),
];

fn spec_variables() -> HashMap<&'static str, &'static str> {
    HashMap::from([
        ("PRESENT_VARIABLE", "my variable"),
        ("PATH_VARIABLE", "a/path/variable/value"),
        ("FULL_PATH_VARIABLE", "/a/full/path/variable/value"),
        ("EMPTY_VARIABLE", ""),
    ])
}

/// GitLab's `truthful?`: a rule that does not parse or evaluate is simply false.
fn truthful(src: &str, vars: &HashMap<&str, &str>) -> bool {
    Expression::parse(src).ok().and_then(|e| e.evaluate(vars).ok()).unwrap_or(false)
}

#[test]
fn statement_evaluate_table() {
    let vars = spec_variables();
    let failures: Vec<String> = EVALUATE
        .iter()
        .filter_map(|(src, ruby)| match Expression::parse(src).map(|e| e.evaluate(&vars)) {
            Ok(Ok(got)) if got == ruby.present() => None,
            other => Some(format!("{src}: expected {ruby:?} (present? {}), got {other:?}", ruby.present())),
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} rows differ:\n{}",
        failures.len(),
        EVALUATE.len(),
        failures.join("\n")
    );
}

#[test]
fn statement_truthful_table() {
    let vars = spec_variables();
    let rows: &[(&str, bool)] = &[
        (r#"$PRESENT_VARIABLE == "my variable""#, true),
        ("$PRESENT_VARIABLE == 'no match'", false),
        ("$UNDEFINED_VARIABLE == null", true),
        ("$PRESENT_VARIABLE", true),
        ("$UNDEFINED_VARIABLE", false),
        ("$EMPTY_VARIABLE", false),
        ("$INVALID = 1", false),
        ("$PRESENT_VARIABLE =~ /var.*/", true),
        ("$UNDEFINED_VARIABLE =~ /var.*/", false),
        ("$PRESENT_VARIABLE !~ /var.*/", false),
        ("$UNDEFINED_VARIABLE !~ /var.*/", true),
    ];
    for (src, want) in rows {
        assert_eq!(truthful(src, &vars), *want, "{src}");
    }
    assert!(Expression::parse("$INVALID = 1").is_err(), "GitLab's false here comes from a syntax error");
}

#[test]
fn statement_variables_with_patterns() {
    let vars = HashMap::from([("teststring", "abcde"), ("pattern1", "/^ab.*/"), ("pattern2", "/^at.*/")]);
    let rows: &[(&str, bool)] = &[
        (r#"$teststring =~ "abcde""#, true),
        ("$teststring =~ $teststring", true),
        ("$teststring =~ $pattern1", true),
        ("$teststring =~ $pattern2", false),
    ];
    for (src, want) in rows {
        assert_eq!(Expression::parse(src).unwrap().evaluate(&vars), Ok(*want), "{src}");
    }
}

#[test]
fn statement_with_input_references() {
    use kiln_expr::InputValue::String as S;
    let inputs = HashMap::from([("cloud_provider", S("aws")), ("environment", S("production"))]);
    let rows: &[(&str, bool)] = &[
        (r#"$[[ inputs.cloud_provider ]] == "aws""#, true),
        (r#"$[[ inputs.cloud_provider ]] == "gcp""#, false),
        (r#"$[[ inputs.cloud_provider ]] == "aws" && $[[ inputs.environment ]] == "production""#, true),
    ];
    for (src, want) in rows {
        let expr = Expression::parse(src).unwrap();
        assert_eq!(expr.evaluate_with_inputs(&spec_variables(), &inputs), Ok(*want), "{src}");
    }
    let nested =
        Expression::parse(r#"($[[ inputs.a ]] == "x" && $[[ inputs.b ]] == "y") || $[[ inputs.c ]] == "z""#);
    assert_eq!(nested.unwrap().input_names(), ["a", "b", "c"]);
}
