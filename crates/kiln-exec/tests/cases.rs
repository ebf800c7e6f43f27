//! Data-driven `kiln exec` runs: each `test_data/exec/<case>/` is a project
//! (its `.gitlab-ci.yml` and the files it needs) with `expected.json`, the
//! `--report` the run must produce (`"*"` stands for any duration), and
//! optionally `options.json` (command-line options, uncommitted files, the
//! exit code) and `expected_output.txt` (lines that must appear, as
//! `job > text`). Job scripts check what they see with `test`, so a wrong
//! variable, artifact, cache or directory fails the job and the report.
//! Cases whose options name an `executor` other than `shell` need the Docker
//! engine (see `support::docker`): skipped with a message without one, failed
//! under `CI=true`.

mod support;

use std::path::Path;

use kiln_config::context::PipelineSource;
use kiln_exec::Executor;
use serde::Deserialize;
use serde_json::Value;
use support::{exec, files_of, job_lines, options, project};

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct CaseOptions {
    jobs: Vec<String>,
    needs: bool,
    only_needs: bool,
    manual: Vec<String>,
    manual_all: bool,
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    /// Tags to create on the commit.
    tags: Vec<String>,
    source: Option<String>,
    variables: Vec<(String, String)>,
    in_place: bool,
    file: Option<String>,
    /// Files written after the commit.
    uncommitted: Vec<(String, String)>,
    exit_code: Option<u8>,
    /// Runs before the checked one (cache kept between runs).
    runs_before: usize,
    /// The run fails before any job: the message must contain this.
    error: Option<String>,
    /// Files that must exist in the working tree afterwards (`!path`: must not).
    files_after: Vec<String>,
    /// `--executor`: `shell` (the default here), `docker` or `auto`.
    executor: Option<String>,
}

const META: [&str; 3] = ["expected.json", "options.json", "expected_output.txt"];

/// `expected` with `"*"` matching anything but `null`.
fn matches(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::String(s), a) if s == "*" => !a.is_null(),
        (Value::Object(e), Value::Object(a)) => {
            e.len() == a.len() && e.iter().all(|(k, v)| a.get(k).is_some_and(|av| matches(v, av)))
        }
        (Value::Array(e), Value::Array(a)) => {
            e.len() == a.len() && e.iter().zip(a).all(|(e, a)| matches(e, a))
        }
        (e, a) => e == a,
    }
}

fn run_case(path: &Path) -> datatest_stable::Result<()> {
    let case = path.parent().ok_or("no case directory")?;
    let opts: CaseOptions = match std::fs::read(case.join("options.json")) {
        Ok(bytes) => serde_json::from_slice(&bytes)?,
        Err(_) => CaseOptions::default(),
    };
    let tmp = tempfile::tempdir()?;
    let root = tmp.path().join("project");
    project(&root, &files_of(case, &META), &opts.uncommitted, "git@gitlab.example.com:acme/widget.git");
    for tag in &opts.tags {
        support::git(&root, &["tag", tag]);
    }
    let mut o = options(&root);
    o.selection.jobs = opts.jobs.clone();
    o.selection.needs = opts.needs;
    o.selection.only_needs = opts.only_needs;
    o.manual = opts.manual.clone();
    o.manual_all = opts.manual_all;
    o.git_ref = opts.git_ref.clone();
    o.source = opts.source.as_deref().map_or(PipelineSource::Push, |s| PipelineSource::parse(s).unwrap());
    o.variables = opts.variables.clone();
    o.in_place = opts.in_place;
    o.file = opts.file.as_ref().map(Into::into);
    match opts.executor.as_deref() {
        None | Some("shell") => {}
        Some(asked) => {
            o.executor = if asked == "docker" { Executor::Docker } else { Executor::Auto };
            match support::docker::docker() {
                Ok(d) => o.docker = Some(d),
                Err(why) => {
                    let note = format!("skipped {}: no Docker engine answers ({why})\n", case.display());
                    let _ = std::io::Write::write_all(&mut std::io::stderr(), note.as_bytes());
                    return Ok(());
                }
            }
        }
    }
    for _ in 0..opts.runs_before {
        let (result, output) = exec(o.clone());
        result.map_err(|e| format!("{e}\n{output}"))?;
    }
    let (result, output) = exec(o);
    if let Some(message) = &opts.error {
        let err = match result {
            Ok(_) => return Err(format!("expected an error, got a run:\n{output}").into()),
            Err(e) => e.to_string(),
        };
        if !err.contains(message.as_str()) {
            return Err(format!("error {err:?} does not contain {message:?}").into());
        }
        return Ok(());
    }
    let outcome = result.map_err(|e| format!("{e}\n{output}"))?;
    let report = serde_json::to_value(outcome.report.ok_or("no report")?)?;
    let expected: Value = serde_json::from_slice(&std::fs::read(path)?)?;
    if !matches(&expected, &report) {
        return Err(format!(
            "report differs\nexpected: {}\nactual:   {}\n--- output\n{output}",
            serde_json::to_string_pretty(&expected)?,
            serde_json::to_string_pretty(&report)?
        )
        .into());
    }
    let exit = opts.exit_code.unwrap_or(if report["status"] == "success" { 0 } else { 1 });
    if outcome.exit_code != exit {
        return Err(format!("exit code {} instead of {exit}\n{output}", outcome.exit_code).into());
    }
    if let Ok(wanted) = std::fs::read_to_string(case.join("expected_output.txt")) {
        let lines = job_lines(&output);
        for want in wanted.lines().filter(|l| !l.trim().is_empty()) {
            if !lines.iter().any(|l| l == want) {
                return Err(format!("missing output line {want:?}\n--- output\n{output}").into());
            }
        }
    }
    for f in &opts.files_after {
        let (must_exist, rel) = match f.strip_prefix('!') {
            Some(rel) => (false, rel),
            None => (true, f.as_str()),
        };
        if root.join(rel).exists() != must_exist {
            return Err(
                format!("{rel} should {}exist after the run", if must_exist { "" } else { "not " }).into()
            );
        }
    }
    Ok(())
}

datatest_stable::harness! {
    { test = run_case, root = "test_data/exec", pattern = r"expected\.json$" },
}
