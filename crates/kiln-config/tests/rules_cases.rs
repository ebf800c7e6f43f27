//! gitlab-ci-local's `rules_result` unit cases
//! (`_unit-tests/rules_cases.jsonl`): a job's rules evaluated against given
//! variables must give the expected `when` and `allow_failure`. Each case is
//! turned into a one-job pipeline and planned for real. (The `rule_if`
//! cases of the same files are run by kiln-expr's tests.)

mod common;

use std::path::Path;

use kiln_config::plan::Outcome;

/// Job settings a case's test code passed but the `.jsonl` export dropped,
/// restored from gitlab-ci-local's `tests/rules.test.ts`.
const MISSING_INPUTS: &[(&str, &str, bool)] =
    &[("https://github.com/firecow/gitlab-ci-local/issues/1755", "allow_failure", false)];

/// `rules: [{if: null}]` is an error for gitlab-ci-local, but GitLab's
/// `Entry::Rules::Rule` validates `if` with `allow_nil: true`, so GitLab
/// accepts it; GitLab's JSON schema rejects it, so `--strict` must.
fn null_if(rules: &Value) -> bool {
    rules.as_array().is_some_and(|r| r.len() == 1 && r[0].get("if").is_some_and(Value::is_null))
}
use kiln_config::sources::{MemoryRepository, Sources, Unavailable};
use kiln_config::{ProcessOptions, process};
use serde_json::{Value, json};

#[test]
fn rules_results_match() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/conformance/gitlab-ci-local/_unit-tests/rules_cases.jsonl");
    let text = std::fs::read_to_string(path).unwrap();
    let mut ran = 0;
    let mut failures = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let case: Value = serde_json::from_str(line).unwrap();
        if case["kind"] != "rules_result" {
            continue;
        }
        ran += 1;
        let name = case["test"].as_str().unwrap_or("?");
        let mut job = json!({ "script": ["echo"], "rules": case["rules"] });
        if let Some(when) = case.get("job_when") {
            job["when"] = when.clone();
        }
        for (test, key, value) in MISSING_INPUTS {
            if *test == name {
                job[*key] = json!(value);
            }
        }
        let pipeline = json!({ "job": job }).to_string();
        let mut ctx = common::default_context();
        for (k, v) in case["variables"].as_object().unwrap() {
            ctx.variables.push((k.clone(), v.as_str().unwrap_or_default().to_string()));
        }
        let repo = MemoryRepository::default();
        let sources = Sources { repository: &repo, projects: &Unavailable, remote: &Unavailable };
        let p = process(".gitlab-ci.yml", &pipeline, &ctx, sources, &ProcessOptions::default());

        if case.get("expected_error").is_some() && null_if(&case["rules"]) {
            let strict = ProcessOptions { strict: true, ..ProcessOptions::default() };
            let strict = process(".gitlab-ci.yml", &pipeline, &ctx, sources, &strict);
            if !p.is_valid() || strict.is_valid() {
                failures.push(format!("{name}: `if: null` must be accepted, and rejected by --strict"));
            }
            continue;
        }
        if case.get("expected_error").is_some() {
            if p.is_valid() {
                failures.push(format!("{name}: expected an error for {}", case["rules"]));
            }
            continue;
        }
        let expected = &case["expected"];
        let planned = match &p.outcome {
            Some(Outcome::Created(plan)) => plan.jobs.first().cloned(),
            Some(Outcome::NotCreated { .. }) => None,
            None => {
                failures.push(format!("{name}: rejected:\n{}", common::render_diagnostics(&p)));
                continue;
            }
        };
        let (when, allow_failure) = match &planned {
            Some(job) => (job.when.as_str(), job.allow_failure),
            None => ("never", false),
        };
        if when != expected["when"] || allow_failure != expected["allowFailure"] {
            failures.push(format!(
                "{name}: expected when={} allow_failure={}, got when={when} allow_failure={allow_failure}",
                expected["when"], expected["allowFailure"]
            ));
        }
        if let Some(vars) = expected["variables"].as_object() {
            for (k, v) in vars {
                let got = planned
                    .as_ref()
                    .and_then(|j| j.variables.iter().find(|x| &x.key == k))
                    .map(|x| x.value.as_str());
                if got != v.as_str() {
                    failures.push(format!("{name}: variable {k} expected {v}, got {got:?}"));
                }
            }
        }
    }
    assert!(ran >= 20, "only {ran} rules_result cases");
    assert!(failures.is_empty(), "{} of {ran} cases differ:\n{}", failures.len(), failures.join("\n"));
}
