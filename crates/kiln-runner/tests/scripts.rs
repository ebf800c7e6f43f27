//! The generated script of every stage, for bash, sh and pwsh, from payload fixtures in
//! `tests/fixtures/scripts/` (one job per file, with the runner settings it needs),
//! compared with reviewed `insta` snapshots. The bash and sh scripts (and the stage body
//! they `eval`) also pass `shellcheck` when it is installed (Debian package `shellcheck`).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use kiln_api::JobResponse;
use kiln_runner::config::RunnerConfig;
use kiln_runner::executor::Environment;
use kiln_runner::job::{job_dirs, runner_variables};
use kiln_runner::script::ShellKind;
use kiln_runner::script::stages::{self, RunnerHooks, ScriptContext};
use kiln_runner::stage::Stage;

#[derive(serde::Deserialize)]
struct Fixture {
    runner: RunnerConfig,
    job: JobResponse,
}

fn stages_of(job: &JobResponse) -> Vec<Stage> {
    let mut v = vec![
        Stage::PrepareScript,
        Stage::GetSources,
        Stage::ClearWorktree,
        Stage::RestoreCache,
        Stage::DownloadArtifacts,
    ];
    v.extend(job.steps.iter().filter(|s| s.name != "after_script").map(|s| Stage::Step(s.name.clone())));
    v.extend([
        Stage::AfterScript,
        Stage::ArchiveCache,
        Stage::ArchiveCacheOnFailure,
        Stage::UploadArtifactsOnSuccess,
        Stage::UploadArtifactsOnFailure,
        Stage::CleanupFileVariables,
    ]);
    v
}

/// The `eval` argument of a bash/sh script, decoded by the shell itself.
fn decoded_body(shell: ShellKind, script: &str) -> Option<String> {
    let line = script.lines().find(|l| l.starts_with("( trap 'exit 1' TERM; eval "))?;
    let quoted = line.strip_prefix("( trap 'exit 1' TERM; eval ")?.strip_suffix(" ) < /dev/null")?;
    let out = Command::new(shell.name()).arg("-c").arg(format!("printf '%s' {quoted}")).output().ok()?;
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn shellcheck_available() -> bool {
    Command::new("shellcheck").arg("--version").output().is_ok_and(|o| o.status.success())
}

/// Checks that do not apply to generated scripts, each for a reason:
/// - SC2163 (`export "$line"`): exporting each `KEY=value` line of the `GITLAB_ENV` file
///   is the point, as in gitlab-runner's `SourceEnv`;
/// - SC2164 (`cd` without `|| exit`): every script runs with `set -o errexit`;
/// - SC3040 (`pipefail` in sh): it is only set after `set -o | grep pipefail` found it,
///   gitlab-runner's own guard.
const NOT_APPLICABLE: &str = "SC2163,SC2164,SC3040";

/// Problems shellcheck reports for `text` as a `dialect` script.
fn shellcheck(dialect: &str, text: &str) -> String {
    use std::io::Write;
    let mut child = Command::new("shellcheck")
        .args(["--shell", dialect, "--format", "gcc", "--exclude", NOT_APPLICABLE, "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn render(fixture: &Fixture, shell: ShellKind) -> (String, Vec<(String, String)>) {
    let job = &fixture.job;
    let runner = &fixture.runner;
    let env = Environment {
        builds_dir: "/builds".into(),
        cache_dir: "/cache".into(),
        builds_dir_is_shared: true,
        shell,
        hostname: None,
        job_env: Vec::new(),
        predefined: None,
    };
    let dirs = job_dirs(job, &env, &runner.short_token(), 0, true).unwrap();
    let variables = runner_variables(job, runner, &dirs, 0, 0, true);
    let cache_urls = BTreeMap::new();
    let helper = ["kiln".to_string(), "runner".into(), "helper".into()];
    let debug_trace = job.variable("CI_DEBUG_TRACE") == Some("true");
    let mut out = String::new();
    let mut checked = Vec::new();
    for stage in stages_of(job) {
        let ctx = ScriptContext {
            job,
            variables: &variables,
            shell,
            builds_dir: &dirs.builds_dir,
            project_dir: &dirs.project_dir,
            tmp_dir: &dirs.tmp_dir,
            cache_dir: &dirs.cache_dir,
            helper: &helper,
            cache_urls: &cache_urls,
            coordinator_url: &runner.url,
            hooks: RunnerHooks {
                pre_get_sources: runner.pre_get_sources_script.as_deref(),
                post_get_sources: runner.post_get_sources_script.as_deref(),
                pre_build: runner.pre_build_script.as_deref(),
                post_build: runner.post_build_script.as_deref(),
            },
            job_status: if stage == Stage::AfterScript { "failed" } else { "running" },
            debug_trace,
        };
        out.push_str(&format!("===== {stage} =====\n"));
        let Some(script) = stages::build(&stage, &ctx) else {
            out.push_str("(skipped: nothing to do)\n\n");
            continue;
        };
        let script = script.replace(kiln_runner::version::VERSION, "KILN_VERSION");
        out.push_str(&script);
        if let Some(body) = decoded_body(shell, &script) {
            out.push_str("----- eval body, decoded -----\n");
            out.push_str(&body);
            checked.push((stage.name(), body));
        }
        checked.push((format!("{stage} (script)"), script.clone()));
        out.push('\n');
    }
    (out, checked)
}

#[test]
fn stage_scripts_match_the_reviewed_snapshots() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/scripts");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(!files.is_empty());
    let lint = shellcheck_available();
    let mut problems = String::new();
    for file in files {
        let case = file.file_stem().unwrap().to_string_lossy().into_owned();
        let fixture: Fixture = serde_json::from_str(&std::fs::read_to_string(&file).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for shell in [ShellKind::Bash, ShellKind::Sh, ShellKind::Pwsh] {
            let (text, checked) = render(&fixture, shell);
            insta::assert_snapshot!(format!("{case}-{}", shell.name()), text);
            if lint && shell != ShellKind::Pwsh {
                for (what, body) in checked {
                    let found = shellcheck(shell.name(), &body);
                    if !found.is_empty() {
                        problems.push_str(&format!("{case} {shell} {what}:\n{found}\n"));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "shellcheck:\n{problems}");
}
