//! GitLab's JSON-schema fixtures for `.gitlab-ci.yml`, run through the strict
//! structural check: every positive case must pass and every negative case
//! must fail.
//!
//! As GitLab's own spec runs them, each top-level key of a YAML fixture is a
//! document `{key: value}` of its own (under `workflow/auto_cancel/` each
//! top-level value is a whole document), and a JSON fixture is one document.

use std::path::{Path, PathBuf};

use kiln_config::diag::Diagnostics;
use kiln_config::model::{ModelOptions, check_document};
use kiln_config::source::{FileId, SourceMap};
use kiln_config::yaml::{Limits, Map, Node, Value, load_documents};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/conformance/gitlab-schema");

/// Cases where the fixture's verdict is not what GitLab does today, with the
/// reason. Each is `(file relative to the fixture root, top-level key)`.
const EXCEPTIONS: &[(&str, &str, &str)] = &[
    (
        "positive/include.yml",
        "trigger:include accepts project and file properties",
        "GitLab's processor rejects a job with both `script:` and `trigger:` (a script job does not allow `trigger`); the schema does not model that",
    ),
    (
        "positive/include.yml",
        "trigger:include accepts optional ref property",
        "GitLab's processor rejects a job with both `script:` and `trigger:` (a script job does not allow `trigger`); the schema does not model that",
    ),
    (
        "json_positive/gitlab-ci.json",
        "",
        "GitLab's processor rejects this document: job `build` uses `rules:` together with `only:`/`except:`",
    ),
    (
        "positive/run.yml",
        "step_using_action",
        "stale fixture: the schema renamed the step key `action` to `func` after this case was written",
    ),
];

struct Case {
    file: String,
    key: String,
    doc: Node,
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files(&path, out);
        } else if matches!(path.extension().and_then(|e| e.to_str()), Some("yml" | "yaml" | "json")) {
            out.push(path);
        }
    }
}

fn cases(kind: &str, sources: &mut SourceMap) -> Vec<Case> {
    let root = Path::new(ROOT);
    let mut paths = Vec::new();
    for dir in [kind.to_string(), format!("json_{kind}")] {
        files(&root.join(dir), &mut paths);
    }
    let mut out = Vec::new();
    for path in paths {
        let rel = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let file = sources.add(rel.clone(), text.clone());
        let docs = load_documents(file, &text, &Limits::default()).unwrap_or_else(|e| panic!("{rel}: {e:?}"));
        let doc = docs.into_iter().next().unwrap_or(Node::null(Default::default()));
        if rel.ends_with(".json") {
            out.push(Case { file: rel, key: String::new(), doc });
            continue;
        }
        let whole_values = rel.contains("workflow/auto_cancel/");
        let map = doc.as_map().cloned().unwrap_or_default();
        for (key, value) in map {
            let doc = if whole_values {
                value
            } else {
                let mut m = Map::new();
                let span = key.span;
                m.insert(key.clone(), value);
                Node::new(Value::Map(m), span)
            };
            out.push(Case { file: rel.clone(), key: key.name, doc });
        }
    }
    out
}

fn exception(case: &Case) -> Option<&'static str> {
    EXCEPTIONS.iter().find(|(f, k, _)| *f == case.file && *k == case.key).map(|(_, _, why)| *why)
}

fn strict_errors(doc: &Node) -> Diagnostics {
    let mut diags = Diagnostics::default();
    check_document(doc, &ModelOptions { strict: true }, &mut diags);
    diags
}

#[test]
fn positive_fixtures_are_accepted() {
    let mut sources = SourceMap::default();
    let cases = cases("positive", &mut sources);
    let _ = FileId::default();
    let mut failures = Vec::new();
    let mut excepted = 0;
    for case in &cases {
        let diags = strict_errors(&case.doc);
        let rejected = diags.has_errors();
        match exception(case) {
            Some(_) => {
                excepted += 1;
                assert!(
                    rejected,
                    "{} `{}` is a named exception but now passes: drop it",
                    case.file, case.key
                );
            }
            None if rejected => {
                let msgs: Vec<String> = diags.errors().map(|d| d.display(&sources).to_string()).collect();
                failures.push(format!("{} `{}`:\n    {}", case.file, case.key, msgs.join("\n    ")));
            }
            None => {}
        }
    }
    assert!(cases.len() > 100, "fixtures not found under {ROOT}");
    assert!(
        failures.is_empty(),
        "{} of {} positive cases rejected:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert_eq!(excepted, EXCEPTIONS.iter().filter(|(f, _, _)| f.contains("positive")).count());
}

#[test]
fn negative_fixtures_are_rejected() {
    let mut sources = SourceMap::default();
    let cases = cases("negative", &mut sources);
    let mut failures = Vec::new();
    for case in &cases {
        let rejected = strict_errors(&case.doc).has_errors();
        match exception(case) {
            Some(_) => {
                assert!(!rejected, "{} `{}` is a named exception but is now rejected", case.file, case.key)
            }
            None if !rejected => failures.push(format!("{} `{}`", case.file, case.key)),
            None => {}
        }
    }
    assert!(cases.len() > 50, "fixtures not found under {ROOT}");
    assert!(
        failures.is_empty(),
        "{} of {} negative cases accepted:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
