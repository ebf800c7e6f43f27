//! Criterion benchmarks: parsing and evaluating a typical `rules:if`, and expanding variables.

use std::collections::HashMap;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use kiln_expr::{Expression, Variable, expand, expand_all};

const RULE: &str = r#"$CI_PIPELINE_SOURCE == "merge_request_event" || ($CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH && $CI_COMMIT_TAG !~ /^v\d+\.\d+/)"#;

fn variables() -> HashMap<String, String> {
    [
        ("CI_PIPELINE_SOURCE", "push"),
        ("CI_COMMIT_BRANCH", "main"),
        ("CI_DEFAULT_BRANCH", "main"),
        ("CI_PROJECT_DIR", "/builds/group/project"),
        ("CI_COMMIT_SHORT_SHA", "02618988"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn expressions(c: &mut Criterion) {
    let vars = variables();
    c.bench_function("parse_and_evaluate_rule", |b| {
        b.iter(|| Expression::parse(black_box(RULE)).map(|e| e.evaluate(&vars)))
    });
    let parsed = Expression::parse(RULE).expect("the benchmark rule parses");
    c.bench_function("evaluate_parsed_rule", |b| b.iter(|| parsed.evaluate(black_box(&vars))));
}

fn expansion(c: &mut Criterion) {
    let vars = variables();
    let text = "$CI_PROJECT_DIR/build/${CI_COMMIT_SHORT_SHA}/%CI_COMMIT_BRANCH%/$UNDEFINED/artifact.tar.gz";
    c.bench_function("expand_string", |b| b.iter(|| expand(black_box(text), &vars)));
    let list: Vec<Variable> = (0..50)
        .map(|i| {
            Variable::new(format!("V{i}"), if i == 0 { "root".to_string() } else { format!("$V{}-x", i - 1) })
        })
        .rev()
        .collect();
    c.bench_function("expand_all_chain_of_50", |b| b.iter(|| expand_all(black_box(list.clone()))));
}

criterion_group!(benches, expressions, expansion);
criterion_main!(benches);
