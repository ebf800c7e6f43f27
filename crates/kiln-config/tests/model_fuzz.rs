//! The model never panics: random YAML trees (jobs, keywords, nested values
//! of every type) go through `parse_config` and `check_document`, in normal
//! and strict mode, and must only ever produce diagnostics.

use kiln_config::diag::Diagnostics;
use kiln_config::model::{ModelOptions, check_document, parse_config, render};
use kiln_config::source::Span;
use kiln_config::yaml::{Key, Map, Node, Value};
use proptest::prelude::*;

/// Words that steer the tree into real keywords, so the parsers' deeper
/// branches are reached, mixed with arbitrary text.
const WORDS: &[&str] = &[
    "script",
    "stage",
    "stages",
    "needs",
    "job",
    "rules",
    "if",
    "when",
    "delayed",
    "start_in",
    "parallel",
    "matrix",
    "trigger",
    "include",
    "project",
    "artifacts",
    "reports",
    "junit",
    "cache",
    "key",
    "files",
    "retry",
    "max",
    "exit_codes",
    "variables",
    "value",
    "options",
    "environment",
    "name",
    "on_stop",
    "action",
    "stop",
    "image",
    "services",
    "workflow",
    "default",
    "only",
    "except",
    "refs",
    "changes",
    "exists",
    "paths",
    "allow_failure",
    "dependencies",
    "secrets",
    "vault",
    "id_tokens",
    "aud",
    "run",
    "step",
    "inherit",
    "pages",
    "release",
    "tag_name",
    "assets",
    "links",
    "timeout",
    "1 hour",
    "build",
    "test",
    "deploy",
    ".hidden",
    "manual",
    "always",
    "never",
    "a/b",
    "/re/",
    "$VAR",
    "",
];

fn word() -> impl Strategy<Value = String> {
    prop_oneof![4 => proptest::sample::select(WORDS).prop_map(str::to_string), 1 => ".{0,12}"]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-5i64..300).prop_map(Value::Int),
        any::<i64>().prop_map(Value::Int),
        any::<f64>().prop_map(Value::Float),
        word().prop_map(Value::Str),
    ]
}

fn node(v: Value) -> Node {
    Node::new(v, Span::default())
}

fn tree() -> impl Strategy<Value = Node> {
    leaf().prop_map(node).prop_recursive(6, 96, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(|v| node(Value::Seq(v))),
            prop::collection::vec(inner.clone(), 0..3).prop_map(|v| node(Value::Reference(v))),
            prop::collection::vec((word(), inner), 0..6).prop_map(|entries| {
                let map: Map =
                    entries.into_iter().map(|(k, v)| (Key { name: k, span: Span::default() }, v)).collect();
                node(Value::Map(map))
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn parse_config_never_panics(root in tree(), strict in any::<bool>()) {
        let opts = ModelOptions { strict };
        let mut diags = Diagnostics::default();
        let config = parse_config(&root, &opts, &mut diags);
        let _ = render(&config);
        let mut fragment = Diagnostics::default();
        check_document(&root, &opts, &mut fragment);
    }
}
