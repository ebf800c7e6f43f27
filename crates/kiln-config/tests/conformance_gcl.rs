//! gitlab-ci-local's behaviour cases (../shared/conformance/gitlab-ci-local)
//! against our processor: for every case whose oracle ran, the planned jobs
//! match `oracle/list.json` (names, stages, `when`, `allow_failure`, needs),
//! and every case that is meant to fail is rejected.
//!
//! gitlab-ci-local mirrors GitLab closely but not perfectly. Where GitLab's
//! documented behaviour differs, GitLab wins and the case is listed in
//! [`EXCEPTIONS`] with the reason.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use kiln_config::plan::Outcome;
use kiln_config::source::FileId;
use kiln_config::sources::{Repository, SourceError, Sources, Unavailable};
use kiln_config::{ProcessOptions, process};
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/gitlab-ci-local")
}

/// What GitLab does with a case where its behaviour and the oracle differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gitlab {
    /// GitLab rejects the configuration (gitlab-ci-local's `--list` does
    /// not run every check its pipeline run does).
    Rejects,
    /// GitLab creates no pipeline for it.
    CreatesNoPipeline,
    /// The job list differs for a reason that cannot be reproduced here.
    Differs,
}

/// Cases whose oracle output is not GitLab's behaviour, with the reason.
const EXCEPTIONS: &[(&str, Gitlab, &str)] = &[
    (
        "cache-docker-mount",
        Gitlab::Rejects,
        "a cache key cannot contain `/` (`Entry::Key`, KeyValidator), and the case uses `key: maven/`",
    ),
    (
        "self-dependency",
        Gitlab::Rejects,
        "a job that needs itself is a cycle (`YamlProcessor::Dag`: \"The pipeline has circular \
         dependencies: self-dependency: job\"); gitlab-ci-local's own test expects that error too",
    ),
    (
        "needs-parallel-matrix-error",
        Gitlab::Rejects,
        "every selector names an instance that does not exist (`undefined need: build-job: [foo]`); \
         gitlab-ci-local's own tests expect these errors too",
    ),
    (
        "needs-parallel-matrix-static",
        Gitlab::Rejects,
        "GitLab builds a selector's instance name from the selector's values only, so the partial \
         selector `ARCH: x64` names `build-multi: [x64]`, which does not exist (`undefined need`); \
         gitlab-ci-local matches partial selectors against every permutation",
    ),
    (
        "services",
        Gitlab::Rejects,
        "`!reference [.service-entry-ref, 0]` indexes an array; GitLab's `Tags::Reference#valid?` \
         accepts string keys only (\"!reference [...] is not valid\")",
    ),
    (
        "never-needs",
        Gitlab::Rejects,
        "`test-job` needs `never-job` (not optional) whose rules say `when: never`; GitLab fails the \
         pipeline (\"'test-job' job needs 'never-job' job, but 'never-job' does not exist in the \
         pipeline\")",
    ),
    (
        "needs-parallel-matrix-expressions",
        Gitlab::Rejects,
        "`linux:test-mixed` selects `PROVIDER: $[[ matrix.PROVIDER ]]` of a job whose matrix also has \
         `STACK`; GitLab names the selected job from the selector's values only (`linux:build: [aws]`), \
         which does not exist (`undefined need`); the other consumers of the case are checked by \
         test_data/ok/matrix_needs_interpolation.yml",
    ),
    (
        "component-inputs-cli",
        Gitlab::Differs,
        "gitlab-ci-local feeds its `.gitlab-ci-local-inputs.yml` file to the component; in GitLab a \
         component only gets the inputs of its `include:inputs`, so its defaults apply (`deploy-dev`)",
    ),
    (
        "component-inputs-edge-cases",
        Gitlab::Differs,
        "as component-inputs-cli: the inputs come from gitlab-ci-local's own inputs file",
    ),
    (
        "log-padding",
        Gitlab::CreatesNoPipeline,
        "every job is in `.pre`; GitLab creates no pipeline that only has `.pre`/`.post` jobs",
    ),
    (
        "interactive",
        Gitlab::Differs,
        "gitlab-ci-local's `# @Interactive` decorator makes the manual job blocking; in GitLab a job \
         that is manual by its own `when:` has allow_failure: true",
    ),
    (
        "rules-changes",
        Gitlab::Differs,
        "the oracle evaluated `changes` against a diff from gitlab-ci-local's mocked git history, \
         which the case does not carry; `rules:changes` is covered by test_data/ok/changes_*.yml",
    ),
];

/// Rewrites gitlab-ci-local's output into GitLab's terms before comparing:
/// - jobs whose rules give `when: never` are listed by gitlab-ci-local but
///   never created by GitLab, so they are dropped, and optional needs on
///   them are dropped as GitLab drops them;
/// - `parallel: N` jobs are `job 1/2` in GitLab, `job: [1/2]` in gitlab-ci-local;
/// - matrix names are `job: [a, b]` in GitLab, `job: [a,b]` in
///   gitlab-ci-local (compared with `, ` written as `,` on both sides).
fn normalize(mut rows: BTreeMap<String, Row>) -> BTreeMap<String, Row> {
    rows.retain(|_, r| r.when != "never");
    let present: BTreeSet<String> = rows.keys().map(|n| base_name(n).to_string()).collect();
    rows.into_iter()
        .map(|(name, mut row)| {
            if let Some(needs) = row.needs.as_mut() {
                needs.retain(|(job, _, optional)| !optional || present.contains(job));
            }
            (comparable_name(&name), row)
        })
        .collect()
}

fn comparable_name(name: &str) -> String {
    if let Some((base, rest)) = name.split_once(": [")
        && let Some(index) = rest.strip_suffix(']')
        && index.split_once('/').is_some_and(|(a, b)| a.parse::<u32>().is_ok() && b.parse::<u32>().is_ok())
    {
        return format!("{base} {index}");
    }
    name.replace(", ", ",")
}

/// A case's `case/` folder as the repository.
struct CaseDir(PathBuf);

impl Repository for CaseDir {
    fn read_file(&self, path: &str) -> Result<Option<String>, SourceError> {
        let full = self.0.join(path.trim_start_matches('/'));
        if !full.starts_with(&self.0) || path.split('/').any(|c| c == "..") {
            return Ok(None);
        }
        match std::fs::read_to_string(&full) {
            Ok(text) => Ok(Some(text)),
            Err(_) => Ok(None),
        }
    }

    fn list_files(&self) -> Result<Vec<String>, SourceError> {
        let mut out = Vec::new();
        let mut stack = vec![self.0.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).map_err(|e| SourceError::new(e.to_string()))? {
                let path = entry.map_err(|e| SourceError::new(e.to_string()))?.path();
                if path.is_dir() {
                    stack.push(path);
                } else if let Ok(rel) = path.strip_prefix(&self.0) {
                    out.push(rel.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        out.sort();
        Ok(out)
    }
}

/// The case's own project (`gcl/test-project`) at any ref, as
/// gitlab-ci-local serves components and project includes of it from the
/// working tree; other projects are not available.
struct OwnProject<'a>(&'a CaseDir);

impl kiln_config::sources::Projects for OwnProject<'_> {
    fn read_file(&self, project: &str, _: Option<&str>, path: &str) -> Result<Option<String>, SourceError> {
        if project == "gcl/test-project" {
            self.0.read_file(path)
        } else {
            kiln_config::sources::Projects::read_file(&Unavailable, project, None, path)
        }
    }

    fn list_files(&self, project: &str, _: Option<&str>) -> Result<Vec<String>, SourceError> {
        if project == "gcl/test-project" {
            self.0.list_files()
        } else {
            kiln_config::sources::Projects::list_files(&Unavailable, project, None)
        }
    }
}

/// One row of `ORACLE_SUMMARY.tsv`.
struct Summary {
    case: String,
    list_rc: String,
    note: String,
}

fn summaries() -> Vec<Summary> {
    let text = std::fs::read_to_string(root().join("ORACLE_SUMMARY.tsv")).unwrap();
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            Summary {
                case: cols[0].to_string(),
                list_rc: cols.get(2).unwrap_or(&"").to_string(),
                note: cols.get(4).unwrap_or(&"").to_string(),
            }
        })
        .collect()
}

fn process_case(case: &str) -> kiln_config::Processed {
    let dir = root().join(case);
    let case_dir = dir.join("case");
    let main = ["case/.gitlab-ci.yml", "gitlab-ci.yml"]
        .iter()
        .map(|p| dir.join(p))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{case}: no pipeline file"));
    let text = std::fs::read_to_string(&main).unwrap();
    let repo = CaseDir(case_dir.clone());
    let mut ctx = common::default_context();
    // gitlab-ci-local's project variables file: the oracle saw these. A
    // value is a string or `{values: {"<environment>": value}}`.
    if let Ok(vars) = std::fs::read_to_string(case_dir.join(".gitlab-ci-local-variables.yml")) {
        let docs = kiln_config::yaml::load_documents(FileId(0), &vars, &Default::default()).unwrap();
        for (key, value) in docs.first().and_then(|d| d.as_map()).into_iter().flat_map(|m| m.iter()) {
            let value = value
                .get("values")
                .and_then(|v| v.as_map())
                .and_then(|m| m.iter().next().map(|(_, v)| v))
                .unwrap_or(value);
            if let Some(text) = value.scalar_to_string() {
                ctx.variables.push((key.name.clone(), text));
            }
        }
    }
    let projects = OwnProject(&repo);
    let sources = Sources { repository: &repo, projects: &projects, remote: &Unavailable };
    let mut options = ProcessOptions::default();
    options.compose.components_from_projects = true;
    process(".gitlab-ci.yml", &text, &ctx, sources, &options)
}

/// The configured job a planned job came from (`test 1/3` → `test`).
fn base_name(name: &str) -> &str {
    if let Some((base, _)) = name.split_once(": [") {
        return base;
    }
    match name.rsplit_once(' ') {
        Some((base, idx))
            if idx
                .split_once('/')
                .is_some_and(|(a, b)| a.parse::<u32>().is_ok() && b.parse::<u32>().is_ok()) =>
        {
            base
        }
        _ => name,
    }
}

#[derive(Debug, PartialEq, Eq)]
struct Row {
    stage: String,
    when: String,
    allow_failure: bool,
    /// Needed base job names with (artifacts, optional), or `None` for stage order.
    needs: Option<BTreeSet<(String, bool, bool)>>,
}

fn expected_rows(case: &str) -> BTreeMap<String, Row> {
    let text = std::fs::read_to_string(root().join(case).join("oracle/list.json")).unwrap();
    // gitlab-ci-local prints warnings before the JSON in a few cases.
    let json_start = text.find("\n[").map_or(0, |i| i + 1);
    let list: Value = serde_json::from_str(&text[json_start..]).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .map(|j| {
            let needs = j.get("needs").and_then(Value::as_array).map(|needs| {
                needs
                    .iter()
                    .map(|n| {
                        (
                            n["job"].as_str().unwrap_or_default().to_string(),
                            n["artifacts"].as_bool().unwrap_or(true),
                            n["optional"].as_bool().unwrap_or(false),
                        )
                    })
                    .collect()
            });
            (
                j["name"].as_str().unwrap().to_string(),
                Row {
                    stage: j["stage"].as_str().unwrap().to_string(),
                    when: j["when"].as_str().unwrap().to_string(),
                    allow_failure: j["allow_failure"].as_bool().unwrap_or(false),
                    needs,
                },
            )
        })
        .collect()
}

fn actual_rows(p: &kiln_config::Processed) -> Result<BTreeMap<String, Row>, String> {
    match &p.outcome {
        Some(Outcome::Created(plan)) => Ok(plan
            .jobs
            .iter()
            .map(|j| {
                (
                    j.name.clone(),
                    Row {
                        stage: j.stage.clone(),
                        when: j.when.as_str().to_string(),
                        allow_failure: j.allow_failure,
                        needs: j.needs.as_ref().map(|needs| {
                            needs
                                .iter()
                                .map(|n| (base_name(&n.job).to_string(), n.artifacts, n.optional))
                                .collect()
                        }),
                    },
                )
            })
            .collect()),
        Some(Outcome::NotCreated { .. }) => Ok(BTreeMap::new()),
        None => Err(common::render_diagnostics(p)),
    }
}

#[test]
fn exceptions_behave_as_gitlab_does() {
    for (case, gitlab, reason) in EXCEPTIONS {
        let processed = process_case(case);
        match gitlab {
            Gitlab::Rejects => assert!(!processed.is_valid(), "{case} must be rejected: {reason}"),
            Gitlab::CreatesNoPipeline => assert!(
                matches!(processed.outcome, Some(Outcome::NotCreated { .. })),
                "{case} must create no pipeline: {reason}\n{}",
                common::render_diagnostics(&processed)
            ),
            Gitlab::Differs => assert!(processed.is_valid(), "{case} must be accepted: {reason}"),
        }
    }
}

#[test]
fn job_lists_match_the_oracle() {
    let exceptions: BTreeMap<&str, &str> = EXCEPTIONS.iter().map(|(c, _, r)| (*c, *r)).collect();
    let mut compared = 0;
    let mut failures = Vec::new();
    for s in summaries() {
        if s.list_rc != "0" || exceptions.contains_key(s.case.as_str()) {
            continue;
        }
        compared += 1;
        let processed = process_case(&s.case);
        let expected = normalize(expected_rows(&s.case));
        match actual_rows(&processed).map(normalize) {
            Err(diags) => failures.push(format!("{}: rejected:\n{diags}", s.case)),
            Ok(actual) if actual != expected => {
                failures.push(format!("{}:\n  expected {expected:?}\n  actual   {actual:?}", s.case))
            }
            Ok(_) => {}
        }
    }
    assert!(compared > 100, "only {compared} cases compared");
    assert!(failures.is_empty(), "{} of {compared} cases differ:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn intended_errors_are_rejected() {
    let mut checked = 0;
    let mut accepted = Vec::new();
    for s in summaries().iter().filter(|s| s.note.starts_with("expected-error")) {
        checked += 1;
        let processed = process_case(&s.case);
        if processed.is_valid() {
            accepted.push(format!("{} ({})", s.case, s.note));
        }
    }
    assert_eq!(checked, 20, "the summary lists 20 intended errors");
    assert!(accepted.is_empty(), "accepted but should be rejected:\n{}", accepted.join("\n"));
}
