//! gitlab-ci-local cases the oracle did not run (include-inputs,
//! basic-inputs, include-nested, inherit), checked against what the case's
//! own test expects (`expected.txt`): the jobs and scripts of a preview, or
//! an error. Messages are GitLab's, which sometimes differ from
//! gitlab-ci-local's; where the outcome itself differs, GitLab wins and the
//! subcase says why.

use std::path::{Path, PathBuf};

use kiln_config::compose::{ComposeOptions, compose, expanded_view};
use kiln_config::context::PipelineContext;
use kiln_config::diag::Diagnostics;
use kiln_config::source::SourceMap;
use kiln_config::sources::{MemoryRepository, Sources, Unavailable};
use kiln_config::yaml::{Node, Value};

fn case_dir(rel: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/conformance/gitlab-ci-local")).join(rel)
}

/// Every file under `dir` (one level of dot-files and subfolders is all
/// these cases use), as a repository.
fn repository(dir: &Path) -> MemoryRepository {
    let mut repo = MemoryRepository::default();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else if let Ok(text) = std::fs::read_to_string(&path) {
                let rel = path.strip_prefix(dir).unwrap().to_string_lossy().to_string();
                repo = repo.with(&rel, &text);
            }
        }
    }
    repo
}

/// Composes `main` in the case folder `rel`: the view's jobs (name and
/// flattened script) and the rendered diagnostics.
/// Jobs by name with their flattened scripts.
type Jobs = Vec<(String, Vec<String>)>;

/// A preview subcase: folder, main file, expected jobs and scripts.
type Preview<'a> = (&'a str, &'a str, &'a [(&'a str, &'a [&'a str])]);

fn run(rel: &str, main: &str) -> (Jobs, Vec<String>, Option<Node>) {
    let dir = case_dir(rel);
    let repo = repository(&dir);
    let text = std::fs::read_to_string(dir.join(main)).unwrap();
    let sources = Sources { repository: &repo, projects: &Unavailable, remote: &Unavailable };
    let mut files = SourceMap::default();
    let mut diags = Diagnostics::default();
    let composed = compose(
        main,
        &text,
        &PipelineContext::default(),
        sources,
        &ComposeOptions::default(),
        &mut files,
        &mut diags,
    );
    let messages = diags.iter().map(|d| d.message.clone()).collect();
    let view = composed.root.as_ref().map(expanded_view);
    let jobs = view
        .as_ref()
        .and_then(Node::as_map)
        .map(|m| {
            m.iter()
                .filter(|(k, _)| !["stages", "variables", "workflow"].contains(&k.name.as_str()))
                .map(|(k, job)| {
                    let script = match job.get("script").map(|s| &s.value) {
                        Some(Value::Seq(items)) => items.iter().filter_map(Node::scalar_to_string).collect(),
                        Some(_) => job.get("script").and_then(Node::scalar_to_string).into_iter().collect(),
                        None => Vec::new(),
                    };
                    (k.name.clone(), script)
                })
                .collect()
        })
        .unwrap_or_default();
    (jobs, messages, view)
}

fn jobs(expected: &[(&str, &[&str])]) -> Jobs {
    expected.iter().map(|(n, s)| (n.to_string(), s.iter().map(|l| l.to_string()).collect())).collect()
}

const INPUTS: &str = "include-inputs/case/input-templates";

#[test]
fn include_inputs_previews() {
    let ok: &[Preview<'_>] = &[
        (
            "basic-example",
            ".gitlab-ci.yml",
            &[
                ("scan-website", &["echo hello website", "echo hello website", "echo hello website"]),
                ("scan-db", &["echo hello db", "echo hello db", "echo hello db"]),
            ],
        ),
        (
            "default",
            ".gitlab-ci.yml",
            &[(
                "scan-website",
                &["echo string", "echo 1", "echo true", "echo overwrite default value", "alice", "bob"],
            )],
        ),
        ("interpolation-key-hyphen", ".gitlab-ci.yml", &[("scan-website", &["echo baz"])]),
        ("interpolation-repeat", ".gitlab-ci.yml", &[("job foo foo", &["echo foofoo"])]),
        ("types/array", ".gitlab-ci.yml", &[("test_job", &["ls"])]),
        ("types/boolean", ".gitlab-ci-1.yml", &[("scan-website", &["echo true"])]),
        ("types/boolean", ".gitlab-ci-2.yml", &[("scan-website", &["echo false"])]),
        ("regex-validation-pass", ".gitlab-ci.yml", &[("deploy", &["echo v1.2.3"])]),
        // gitlab-ci-local keeps `\+`; GitLab interpolates with Ruby's
        // `String#gsub`, whose replacement text reads `\+` as "the last
        // group" (empty here), so the `\+` disappears.
        (
            "interpolation-value-escapes",
            ".gitlab-ci.yml",
            &[(
                "scan-website",
                &[
                    r"echo ^v?(?P<major>[0-9]+)\.(?P<minor>[0-9]+)\.(?P<patch>[0-9]+)(?P<suffix>(?P<prerelease>-[0-9A-Za-z-\.]+)?(?P<build>[0-9A-Za-z-\.]+)?)$",
                ],
            )],
        ),
    ];
    for (dir, main, expected) in ok {
        let (actual, messages, _) = run(&format!("{INPUTS}/{dir}"), main);
        assert!(messages.is_empty(), "{dir}/{main}: {messages:?}");
        assert_eq!(actual, jobs(expected), "{dir}/{main}");
    }
}

#[test]
fn include_inputs_rules_and_types_from_inputs() {
    // The boolean input becomes a boolean, not a string, in `default:`.
    let (_, _, view) = run(&format!("{INPUTS}/types/boolean"), ".gitlab-ci-1.yml");
    let job = view.as_ref().and_then(|v| v.get("scan-website")).unwrap();
    assert_eq!(job.get("interruptible").and_then(Node::as_bool), Some(true));
    // The array input replaces `rules:` as a list of hashes.
    let (_, _, view) = run(&format!("{INPUTS}/types/array"), ".gitlab-ci.yml");
    let rules = view.as_ref().and_then(|v| v.get("test_job")).and_then(|j| j.get("rules")).unwrap();
    assert_eq!(rules.as_seq().map(<[Node]>::len), Some(2));
    assert_eq!(
        rules.as_seq().unwrap()[0].get("if").and_then(Node::as_str),
        Some(r#"$CI_PIPELINE_SOURCE == "merge_request_event""#)
    );
}

#[test]
fn include_inputs_errors() {
    let errors: &[(&str, &str)] = &[
        ("required-inputs", "`required_inputs` input: required value has not been provided"),
        ("unknown-interpolation-key-1", "unknown interpolation key: `foo`"),
        ("unknown-interpolation-key-2", "unknown interpolation key: `foo`"),
        ("type-validation/array", "`array_input` input: provided value is not an array"),
        ("type-validation/string", "`string_input` input: provided value is not a string"),
        ("type-validation/number", "`number_input` input: provided value is not a number"),
        ("type-validation/boolean", "`boolean_input` input: provided value is not a boolean"),
        (
            "type-validation/unsupported",
            "header:spec:inputs:unsupported_type_input input type unknown value: foo",
        ),
        ("too-many-functions-in-interpolation-block", "too many functions in interpolation block"),
        (
            "options-validation",
            "`options_input` input: `fizz` cannot be used because it is not in the list of allowed options",
        ),
        ("regex-validation", "`version` input: provided value does not match required RegEx pattern"),
        ("regex-validation-invalid-pattern", "`version` input: invalid regular expression"),
        // gitlab-ci-local checks array inputs against `options`; GitLab
        // allows `options` only on string and number inputs, so both of
        // these fail, whatever the values.
        (
            "options-array1-validation",
            "`options_input` input: Options can only be used with string and number inputs",
        ),
        (
            "options-array2-validation",
            "`options_input` input: Options can only be used with string and number inputs",
        ),
    ];
    for (dir, message) in errors {
        let (_, messages, _) = run(&format!("{INPUTS}/{dir}"), ".gitlab-ci.yml");
        assert!(messages.iter().any(|m| m.contains(message)), "{dir}: expected `{message}` in {messages:?}");
    }
}

#[test]
fn basic_inputs_in_the_main_file() {
    let (actual, messages, _) = run("basic-inputs/case/input-templates/default-no-inputs", ".gitlab-ci.yml");
    assert!(messages.is_empty(), "{messages:?}");
    assert_eq!(actual, jobs(&[("scan-website", &["echo string", "echo 1", "echo true", "alice", "bob"])]));
}

#[test]
fn include_nested_limits() {
    for (main, error) in [
        (".150-nested-include-gitlab-ci.yml", false),
        (".151-nested-include-gitlab-ci.yml", true),
        (".150-complex-nested-include-gitlab-ci.yml", false),
        (".151-complex-nested-include-gitlab-ci.yml", true),
    ] {
        let (jobs, messages, _) = run("include-nested/case", main);
        if error {
            assert!(
                messages.iter().any(|m| m == "Maximum of 150 nested includes are allowed!"),
                "{main}: {messages:?}"
            );
        } else {
            assert!(messages.is_empty(), "{main}: {messages:?}");
            assert_eq!(jobs.len(), 1, "{main}");
        }
    }
}

#[test]
fn inherit_default_preview() {
    let (_, messages, view) = run("inherit/case", ".gitlab-ci-inherit-default.yml");
    assert!(messages.is_empty(), "{messages:?}");
    let view = view.unwrap();
    let keys = |job: &str| -> Vec<String> {
        let mut keys: Vec<String> =
            view.get(job).and_then(Node::as_map).unwrap().keys().map(str::to_string).collect();
        keys.sort();
        keys
    };
    assert_eq!(keys("inherit-default-true"), ["after_script", "before_script", "image", "script"]);
    assert_eq!(keys("inherit-default-false"), ["inherit", "script"]);
    assert_eq!(
        keys("inherit-default-before_script_and_image"),
        ["before_script", "image", "inherit", "script"]
    );
}
