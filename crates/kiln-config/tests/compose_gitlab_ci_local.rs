//! gitlab-ci-local's behaviour cases, composed by Kiln and compared with
//! what gitlab-ci-local 4.75.1 printed for `--preview`
//! (`oracle/preview.yml`): the same visible jobs, in the same order, each
//! with the same `script` and `stage`. Cases the oracle expects to fail
//! must fail here too. Where gitlab-ci-local differs from GitLab, GitLab
//! wins and the case is named below with the reason.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kiln_config::compose::{ComposeOptions, compose, expanded_view};
use kiln_config::context::{PipelineContext, Project};
use kiln_config::diag::Diagnostics;
use kiln_config::source::{FileId, SourceMap};
use kiln_config::sources::{Repository, SourceError, Sources, Unavailable};
use kiln_config::yaml::{self, Limits, Node, Value};

fn conformance_dir() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/conformance/gitlab-ci-local"))
        .to_path_buf()
}

/// Cases whose pipelines use what compose implements: includes, inputs,
/// extends, references, default:.
const CASES: &[&str] = &[
    "before-script-default",
    "comment-directive-anchor",
    "completion",
    "component-inputs-cli",
    "component-inputs-edge-cases",
    "component-inputs-multiple",
    "duplicated-keys",
    "extends",
    "include-invalid-local",
    "include-local",
    "include-local-wildcard",
    "include-rules",
    "reference",
    "reference-circular-chain",
];

/// Cases where gitlab-ci-local and GitLab part ways, with the reason; the
/// test asserts what GitLab does instead.
fn exception(case: &str) -> Option<&'static str> {
    match case {
        "component-inputs-cli" | "component-inputs-edge-cases" | "component-inputs-multiple" => Some(
            "gitlab-ci-local serves components from the case's templates/ folder with inputs from \
             .gitlab-ci-local-inputs.yml; GitLab fetches them from the CI/CD catalog, which Kiln \
             does not have, so the include is reported as not available",
        ),
        "services" => Some(
            "`!reference [.service-entry-ref, 0]` indexes an array; gitlab-ci-local allows it, GitLab's \
             !reference takes only string keys and rejects the tag as not valid",
        ),
        _ => None,
    }
}

/// The message the exceptional cases must produce instead.
fn exception_message(case: &str) -> &'static str {
    match case {
        "services" => "!reference [\".service-entry-ref\", 0] is not valid",
        _ => "is not available",
    }
}

/// Cases of the broad check that are not compared, with the reason.
fn not_compared(case: &str, note: &str) -> Option<&'static str> {
    if note.starts_with("expected-error") {
        return Some("the oracle's error comes from a later phase (the model or the planner)");
    }
    match case {
        "trigger" | "variable-order" => {
            Some("gitlab-ci-local printed a preview that is not valid YAML (see the conformance README)")
        }
        _ => None,
    }
}

/// A project's working tree on disk.
struct DirRepository {
    root: PathBuf,
}

impl Repository for DirRepository {
    fn read_file(&self, path: &str) -> Result<Option<String>, SourceError> {
        match std::fs::read_to_string(self.root.join(path)) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(SourceError::new(e.to_string())),
        }
    }

    fn list_files(&self) -> Result<Vec<String>, SourceError> {
        let mut out = Vec::new();
        let mut todo = vec![self.root.clone()];
        while let Some(dir) = todo.pop() {
            for entry in std::fs::read_dir(&dir).map_err(|e| SourceError::new(e.to_string()))? {
                let path = entry.map_err(|e| SourceError::new(e.to_string()))?.path();
                if path.file_name().is_some_and(|n| n == ".git") {
                    continue;
                }
                if path.is_dir() {
                    todo.push(path);
                } else if let Ok(rel) = path.strip_prefix(&self.root) {
                    out.push(rel.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        out.sort();
        Ok(out)
    }
}

/// The pipeline gitlab-ci-local ran the cases for (see the conformance
/// README): branch `master` of `gcl/test-project`, default branch `main`.
fn gcl_context(case_dir: &Path) -> PipelineContext {
    let mut ctx = PipelineContext {
        ref_name: "master".into(),
        project: Project {
            id: 1,
            path: "gcl/test-project".into(),
            default_branch: "main".into(),
            url: "https://gitlab.com/gcl/test-project".into(),
            server_url: "https://gitlab.com".into(),
        },
        ..PipelineContext::default()
    };
    ctx.commit.sha = "02618988a1864b3d06cfee3bd79f8baa2dd21407".into();
    // gitlab-ci-local runs with GITLAB_CI=false (GitLab itself says true);
    // the cases' include rules were written against that.
    ctx.variables.push(("GITLAB_CI".into(), "false".into()));
    // The case's project variables, in gitlab-ci-local's file.
    if let Ok(text) = std::fs::read_to_string(case_dir.join(".gitlab-ci-local-variables.yml"))
        && let Ok(docs) = yaml::load_documents(FileId(0), &text, &Limits::default())
        && let Some(map) = docs.first().and_then(Node::as_map)
    {
        for (key, value) in map.iter() {
            let value = match value.get("values").and_then(|v| v.get("*")) {
                Some(any_environment) => any_environment.scalar_to_string(),
                None => value.scalar_to_string(),
            };
            if let Some(value) = value {
                ctx.variables.push((key.name.clone(), value));
            }
        }
    }
    ctx
}

/// A job as compared: its flattened script and its stage.
#[derive(Debug, PartialEq)]
struct JobShape {
    script: Option<Vec<String>>,
    stage: Option<String>,
}

fn flatten_strings(node: &Node, out: &mut Vec<String>) {
    match &node.value {
        Value::Seq(items) => items.iter().for_each(|i| flatten_strings(i, out)),
        _ => out.push(node.scalar_to_string().unwrap_or_else(|| format!("{:?}", node.value))),
    }
}

fn jobs_of(view: &Node) -> Vec<(String, JobShape)> {
    let Some(map) = view.as_map() else { return Vec::new() };
    map.iter()
        .filter(|(k, _)| !["stages", "variables", "workflow"].contains(&k.name.as_str()))
        .map(|(k, job)| {
            let script = job.get("script").map(|s| {
                let mut lines = Vec::new();
                flatten_strings(s, &mut lines);
                lines
            });
            let stage = job.get("stage").and_then(Node::scalar_to_string);
            (k.name.clone(), JobShape { script, stage })
        })
        .collect()
}

fn summary() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(conformance_dir().join("ORACLE_SUMMARY.tsv")).unwrap();
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            Some((cols.first()?.to_string(), cols.get(4).copied().unwrap_or("").to_string()))
        })
        .collect()
}

/// Composes one case and compares it with the oracle; `Ok` holds the
/// number of jobs compared.
fn check_case(case: &str, note: &str) -> Result<usize, String> {
    let dir = conformance_dir().join(case);
    let case_dir = dir.join("case");
    let main =
        std::fs::read_to_string(case_dir.join(".gitlab-ci.yml")).map_err(|e| format!("{case}: {e}"))?;
    let repository = DirRepository { root: case_dir.clone() };
    let sources = Sources { repository: &repository, projects: &Unavailable, remote: &Unavailable };
    let ctx = gcl_context(&case_dir);
    let mut files = SourceMap::default();
    let mut diags = Diagnostics::default();
    let composed =
        compose(".gitlab-ci.yml", &main, &ctx, sources, &ComposeOptions::default(), &mut files, &mut diags);
    let rendered: Vec<String> = diags.iter().map(|d| d.display(&files).to_string()).collect();
    if let Some(reason) = exception(case) {
        return if rendered.iter().any(|d| d.contains(exception_message(case))) {
            Ok(0)
        } else {
            Err(format!("{case}: expected the exception ({reason}), got {rendered:?}"))
        };
    }
    if note.starts_with("expected-error") {
        return if diags.has_errors() {
            Ok(0)
        } else {
            Err(format!("{case}: the oracle failed ({note}) but compose reported nothing"))
        };
    }
    if diags.has_errors() {
        return Err(format!("{case}: unexpected errors {rendered:?}"));
    }
    let preview_text =
        std::fs::read_to_string(dir.join("oracle/preview.yml")).map_err(|e| format!("{case}: {e}"))?;
    let preview = yaml::load_documents(FileId(0), &preview_text, &Limits::default())
        .map_err(|e| format!("{case}: oracle preview does not load: {}", e.message))?;
    let expected = preview.first().map(jobs_of).unwrap_or_default();
    let actual = composed.root.as_ref().map(|r| jobs_of(&expanded_view(r))).unwrap_or_default();
    if expected != actual {
        return Err(format!("{case}:\n  oracle: {expected:?}\n  kiln:   {actual:?}"));
    }
    if expected.is_empty() {
        return Err(format!("{case}: no jobs to compare"));
    }
    Ok(expected.len())
}

#[test]
fn compose_matches_gitlab_ci_local_previews() {
    let summary = summary();
    let mut failures = Vec::new();
    let mut jobs = 0;
    for case in CASES {
        let note = summary.get(*case).unwrap_or_else(|| panic!("{case} is not in ORACLE_SUMMARY.tsv"));
        assert!(!note.contains("NETWORK-DEPENDENT"), "{case}: the oracle did not run it");
        match check_case(case, note) {
            Ok(n) => jobs += n,
            Err(failure) => failures.push(failure),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(jobs > 0);
}

/// Every other case the oracle ran is composed too: compose must handle
/// any pipeline, not only the ones about includes.
#[test]
fn compose_handles_every_gitlab_ci_local_case() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for (case, note) in summary() {
        if CASES.contains(&case.as_str()) || note.contains("NETWORK-DEPENDENT") {
            continue;
        }
        if not_compared(&case, &note).is_some() {
            continue;
        }
        checked += 1;
        if let Err(failure) = check_case(&case, &note) {
            failures.push(failure);
        }
    }
    assert!(failures.is_empty(), "{} of {checked} cases differ:\n{}", failures.len(), failures.join("\n"));
}
