//! Test helpers shared by the whole-pipeline suites: multi-file fixtures,
//! pipeline contexts from fixture headers, and a compact rendering of plans.

#![allow(dead_code)]

use std::collections::BTreeMap;

use kiln_config::context::{Commit, PipelineContext, PipelineSource, Project, RefKind};
use kiln_config::plan::Outcome;
use kiln_config::sources::{MemoryRepository, SourceError};
use kiln_config::{Processed, source::SourceMap};

/// A fixture split at `# -- /path` lines: the first part is `.gitlab-ci.yml`.
pub(crate) fn split_files(text: &str) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    let mut current = ".gitlab-ci.yml".to_string();
    let mut body = String::new();
    for line in text.split_inclusive('\n') {
        if let Some(path) = line.trim_end().strip_prefix("# -- /") {
            files.insert(std::mem::replace(&mut current, path.trim().to_string()), std::mem::take(&mut body));
        } else {
            body.push_str(line);
        }
    }
    files.insert(current, body);
    files
}

/// A repository holding the fixture's files.
pub(crate) fn repository(files: &BTreeMap<String, String>) -> MemoryRepository {
    files.iter().fold(MemoryRepository::default(), |repo, (path, text)| repo.with(path, text))
}

/// The context GitLab's conformance cases ran in: branch `master`, default
/// branch `main`, project `gcl/test-project`.
pub(crate) fn default_context() -> PipelineContext {
    PipelineContext {
        source: PipelineSource::Push,
        ref_name: "master".into(),
        ref_kind: RefKind::Branch,
        ref_protected: false,
        commit: Commit {
            sha: "02618988a1864b3d06cfee3bd79f8baa2dd21407".into(),
            before_sha: None,
            message: "Commit message".into(),
            author_name: "Kiln Test".into(),
            author_email: "test@example.com".into(),
            timestamp: "2024-01-01T00:00:00+00:00".into(),
        },
        project: Project {
            id: 1,
            path: "gcl/test-project".into(),
            default_branch: "main".into(),
            url: "https://gitlab.com/gcl/test-project".into(),
            server_url: "https://gitlab.com".into(),
        },
        changed_paths: None,
        variables: Vec::new(),
    }
}

/// Applies a `# kiln: key=value ...` header line: `ref=`, `tag`,
/// `source=`, `var=KEY=VALUE`, `changed=a,b`, `protected`.
pub(crate) fn context_from_header(text: &str) -> PipelineContext {
    let mut ctx = default_context();
    for line in text.lines().take_while(|l| l.starts_with('#')) {
        let Some(settings) = line.strip_prefix("# kiln:") else { continue };
        for setting in settings.split_whitespace() {
            match setting.split_once('=') {
                Some(("ref", r)) => ctx.ref_name = r.into(),
                Some(("source", s)) => ctx.source = PipelineSource::parse(s).expect("a pipeline source"),
                Some(("var", kv)) => {
                    let (k, v) = kv.split_once('=').expect("var=KEY=VALUE");
                    ctx.variables.push((k.into(), v.into()));
                }
                Some(("changed", paths)) => {
                    ctx.changed_paths =
                        Some(paths.split(',').filter(|p| !p.is_empty()).map(String::from).collect())
                }
                Some(("default_branch", b)) => ctx.project.default_branch = b.into(),
                None if setting == "tag" => ctx.ref_kind = RefKind::Tag,
                None if setting == "protected" => ctx.ref_protected = true,
                _ => panic!("unknown fixture setting `{setting}`"),
            }
        }
    }
    ctx
}

/// Diagnostics as `file:line:col: severity: message` lines.
pub(crate) fn render_diagnostics(p: &Processed) -> String {
    p.diagnostics.iter().map(|d| format!("{}\n", d.display(&p.sources))).collect()
}

/// The outcome as indented `key: value` lines, leaving out empty values,
/// so snapshots show what is set and nothing else.
pub(crate) fn render_outcome(outcome: &Option<Outcome>) -> String {
    match outcome {
        None => "no plan\n".into(),
        Some(Outcome::NotCreated { reason }) => format!("not created: {reason}\n"),
        Some(Outcome::Created(plan)) => {
            let value = serde_json::to_value(plan).expect("plans serialize");
            let mut out = String::new();
            render_value(&value, 0, &mut out);
            out
        }
    }
}

fn render_value(value: &serde_json::Value, indent: usize, out: &mut String) {
    use serde_json::Value;
    let pad = "  ".repeat(indent);
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                // `needs: []` (start at once) differs from no `needs:`.
                if k == "needs" && v.as_array().is_some_and(Vec::is_empty) {
                    out.push_str(&format!("{pad}{k}: []\n"));
                    continue;
                }
                if is_empty(v) {
                    continue;
                }
                match v {
                    Value::Object(_) | Value::Array(_) if !is_inline(v) => {
                        out.push_str(&format!("{pad}{k}:\n"));
                        render_value(v, indent + 1, out);
                    }
                    _ => out.push_str(&format!("{pad}{k}: {}\n", inline(v))),
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                if is_inline(item) {
                    out.push_str(&format!("{pad}- {}\n", inline(item)));
                } else {
                    out.push_str(&format!("{pad}-\n"));
                    render_value(item, indent + 1, out);
                }
            }
        }
        other => out.push_str(&format!("{pad}{}\n", inline(other))),
    }
}

fn is_empty(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Null => true,
        serde_json::Value::Bool(b) => !b,
        serde_json::Value::Array(a) => a.is_empty(),
        serde_json::Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

fn is_inline(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Array(items) => items.iter().all(|i| !i.is_object() && !i.is_array()),
        serde_json::Value::Object(_) => false,
        _ => true,
    }
}

fn inline(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(items) => {
            format!("[{}]", items.iter().map(inline).collect::<Vec<_>>().join(", "))
        }
        other => other.to_string(),
    }
}

/// A source map's paths, for messages.
pub(crate) fn paths(sources: &SourceMap) -> Vec<String> {
    sources.iter().map(|(_, f)| f.path.clone()).collect()
}

pub(crate) fn unavailable(what: &str) -> SourceError {
    SourceError::new(format!("{what} is not available in tests"))
}
