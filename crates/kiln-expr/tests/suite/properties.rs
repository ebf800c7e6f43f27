//! Property tests: expansion is the identity on text without references, parsing and evaluating never
//! panic, and `expand_all` terminates on any reference graph with an answer an oracle agrees with.

use std::collections::HashMap;

use kiln_expr::{Expression, Variable, expand, expand_all, expand_existing, expand_runner};
use proptest::prelude::*;

fn some_vars() -> HashMap<&'static str, &'static str> {
    HashMap::from([("A", "a"), ("B", ""), ("RE", "/^a/i"), ("BAD", "/(/")])
}

/// Text that uses the expression language's alphabet, so that random inputs get past the lexer.
fn expression_like() -> impl Strategy<Value = String> {
    let atoms = prop::sample::select(vec![
        "$A",
        "$B",
        "$UNSET",
        "$RE",
        "$BAD",
        "${A}",
        "'x'",
        "\"a\"",
        "''",
        "null",
        "true",
        "false",
        "/ab/",
        "/a/i",
        "/(/",
        "==",
        "!=",
        "=~",
        "!~",
        "&&",
        "||",
        "(",
        ")",
        " ",
        "$[[ inputs.x ]]",
        "=",
        "!",
        "/",
        "\\",
        "ü",
        "\n",
    ]);
    prop::collection::vec(atoms, 0..40).prop_map(|parts| parts.concat())
}

proptest! {
    #[test]
    fn text_without_dollar_or_percent_is_unchanged(text in "[^$%]*") {
        let vars = some_vars();
        prop_assert_eq!(expand(&text, &vars), text.clone());
        prop_assert_eq!(expand_existing(&text, &vars), text.clone());
        prop_assert_eq!(expand_runner(&text, &vars), text);
    }

    #[test]
    fn expand_existing_without_variables_is_the_identity(text in any::<String>()) {
        prop_assert_eq!(expand_existing(&text, &HashMap::<String, String>::new()), text);
    }

    #[test]
    fn every_form_of_a_reference_yields_the_value(name in "[A-Za-z_][A-Za-z0-9_]{0,8}", value in any::<String>()) {
        let vars = HashMap::from([(name.clone(), value.clone())]);
        for form in [format!("${name}"), format!("${{{name}}}"), format!("%{name}%")] {
            prop_assert_eq!(expand(&form, &vars), value.clone());
        }
        prop_assert_eq!(expand_runner(&format!("${{{name}}}"), &vars), value);
    }

    #[test]
    fn parse_never_panics_on_arbitrary_text(text in any::<String>()) {
        let _ = Expression::parse(&text).map(|e| e.evaluate(&some_vars()));
    }

    #[test]
    fn parse_and_evaluate_never_panic_and_agree_with_themselves(text in expression_like()) {
        if let Ok(expr) = Expression::parse(&text) {
            let vars = some_vars();
            prop_assert_eq!(expr.evaluate(&vars), expr.evaluate(&vars));
        }
    }

    #[test]
    fn expand_all_terminates_and_detects_exactly_the_cycles(
        edges in prop::collection::vec(prop::collection::vec((0usize..8, 0usize..3), 0..4), 1..8),
    ) {
        // Variable i is named V{i}; its value references V{j} (which may not exist) in one of three syntaxes.
        let n = edges.len();
        let vars: Vec<Variable> = edges.iter().enumerate().map(|(i, refs)| {
            let value: String = refs.iter().map(|(j, form)| match form {
                // The `-` ends the name: `$V3x` would be a reference to `V3x`.
                0 => format!("x$V{j}-"),
                1 => format!("${{V{j}}}y"),
                _ => format!("%V{j}%"),
            }).collect();
            Variable::new(format!("V{i}"), value)
        }).collect();

        // Oracle: a cycle through two or more variables exists iff some i != j reach each other.
        let mut reach = vec![vec![false; n]; n];
        for (i, refs) in edges.iter().enumerate() {
            for (j, _) in refs.iter().filter(|(j, _)| *j < n) {
                reach[i][*j] = true;
            }
        }
        for k in 0..n { for i in 0..n { for j in 0..n {
            if reach[i][k] && reach[k][j] { reach[i][j] = true; }
        }}}
        let cyclic = (0..n).any(|i| (0..n).any(|j| i != j && reach[i][j] && reach[j][i]));

        match expand_all(vars.clone()) {
            Ok(expanded) => {
                prop_assert!(!cyclic);
                let mut names: Vec<_> = expanded.iter().map(|v| v.name.clone()).collect();
                names.sort();
                let mut given: Vec<_> = vars.iter().map(|v| v.name.clone()).collect();
                given.sort();
                prop_assert_eq!(names, given);
                for v in &expanded {
                    prop_assert!(!v.value.contains(['$', '%']), "{} still has a reference: {}", v.name, v.value);
                }
            }
            Err(err) => {
                prop_assert!(cyclic);
                prop_assert!(err.to_string().starts_with("circular variable reference detected: ["));
                prop_assert_eq!(err.variables, vars);
            }
        }
    }
}
