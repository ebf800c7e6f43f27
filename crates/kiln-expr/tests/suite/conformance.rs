//! gitlab-ci-local's `rules:if` cases (`shared/conformance/gitlab-ci-local/_unit-tests/*.jsonl`), run
//! against GitLab's semantics. Lines of kind `rules_result` are whole rule lists (when, allow_failure,
//! variables): the config processor runs those, so they are counted and skipped here by kind.

use std::collections::HashMap;
use std::path::PathBuf;

use kiln_expr::Expression;
use serde_json::Value;

const FILES: [&str; 2] = ["rules_cases.jsonl", "rules_regex_cases.jsonl"];

/// Where gitlab-ci-local is not GitLab: the expression, what GitLab answers, and why.
struct Exception {
    expression: &'static str,
    gitlab: bool,
    reason: &'static str,
}

const EXCEPTIONS: &[Exception] = &[
    Exception {
        expression: r#""23" =~ "1234""#,
        gitlab: true,
        reason: "gitlab-ci-local refuses a non-regex right operand; GitLab's `Lexeme::Matches#evaluate` \
                 (lib/gitlab/ci/pipeline/expression/lexeme/matches.rb) passes it to \
                 `Lexeme::Pattern.build_and_evaluate` (lexeme/pattern.rb), which returns the string itself \
                 when it is not `/.../`, and then `\"1234\".scan(\"23\")` finds the left text inside it; \
                 GitLab's statement_spec.rb has `'$teststring =~ \"abcde\"' | true`",
    },
    Exception {
        expression: r#""23" =~ '1234'"#,
        gitlab: true,
        reason: "same as the double-quoted case: single quotes make the same `Lexeme::String` \
                 (lib/gitlab/ci/pipeline/expression/lexeme/string.rb)",
    },
];

#[derive(Default, Debug, PartialEq, Eq)]
struct Counts {
    passed: usize,
    passed_as_exception: usize,
    skipped_rules_result: usize,
}

fn conformance_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/gitlab-ci-local/_unit-tests")
}

/// Runs one `rule_if` case; `Err` says how it failed.
fn run(case: &Value) -> Result<bool, String> {
    let src = case["if"].as_str().ok_or("`if` is not a string")?;
    let vars: HashMap<String, String> = case["variables"]
        .as_object()
        .ok_or("`variables` is not an object")?
        .iter()
        .map(|(k, v)| {
            v.as_str().map(|v| (k.clone(), v.to_string())).ok_or(format!("variable {k} is not a string"))
        })
        .collect::<Result<_, _>>()?;
    let got = Expression::parse(src)
        .map_err(|e| e.to_string())
        .and_then(|e| e.evaluate(&vars).map_err(|e| e.to_string()));

    if let Some(exception) = EXCEPTIONS.iter().find(|e| e.expression == src) {
        let case_agrees_with_gitlab = case["expected"].as_bool() == Some(exception.gitlab);
        return match got {
            Ok(value) if value == exception.gitlab && !case_agrees_with_gitlab => Ok(true),
            Ok(_) if case_agrees_with_gitlab => {
                Err(format!("exception no longer needed ({})", exception.reason))
            }
            other => {
                Err(format!("expected GitLab's {} ({}), got {other:?}", exception.gitlab, exception.reason))
            }
        };
    }
    if let Some(expected) = case["expected"].as_bool() {
        return match got {
            Ok(value) if value == expected => Ok(false),
            other => Err(format!("expected {expected}, got {other:?}")),
        };
    }
    let wanted = case["expected_error"].as_str().or(case["expected_error_substr"].as_str());
    let Some(wanted) = wanted else { return Err("the case has no expectation".into()) };
    // Where the case names GitLab's message, ours must carry it too; otherwise any error will do.
    let names_syntax = wanted.contains("invalid expression syntax");
    match got {
        Err(message) if !names_syntax || message.contains("invalid expression syntax") => Ok(false),
        other => Err(format!("expected an error like {wanted:?}, got {other:?}")),
    }
}

#[test]
fn gitlab_ci_local_rule_if_cases() {
    let mut counts = Counts::default();
    let mut failures = Vec::new();
    for file in FILES {
        let path = conformance_dir().join(file);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for (index, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let case: Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{file}:{}: {e}", index + 1));
            match case["kind"].as_str() {
                Some("rule_if") => match run(&case) {
                    Ok(false) => counts.passed += 1,
                    Ok(true) => counts.passed_as_exception += 1,
                    Err(why) => failures.push(format!("{file}:{} {:?}: {why}", index + 1, case["if"])),
                },
                Some("rules_result") => counts.skipped_rules_result += 1,
                other => failures.push(format!("{file}:{}: unknown kind {other:?}", index + 1)),
            }
        }
    }
    assert!(failures.is_empty(), "{} cases failed:\n{}", failures.len(), failures.join("\n"));
    // 29 + 21 `rule_if` cases, of which 2 are named exceptions; 20 `rules_result` lines are not ours.
    assert_eq!(counts, Counts { passed: 48, passed_as_exception: 2, skipped_rules_result: 20 });
}
