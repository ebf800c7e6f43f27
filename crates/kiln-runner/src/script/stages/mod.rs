//! Stage builders: turn a job and its resolved context into one script per stage.
//!
//! A builder returns `None` when its stage has nothing to do; the stage is then skipped
//! entirely (no section, no executor call), as GitLab Runner does.

mod artifacts;
mod cache;
mod get_sources;
mod plan;

pub use get_sources::{GitStrategy, git_strategy};
mod user_script;

use std::collections::BTreeMap;

use kiln_api::{JobResponse, JobVariable};

use crate::script::native::{NativeScript, NativeStep};
use crate::script::{ScriptWriter, ShellKind};
use crate::stage::Stage;

pub use cache::{CacheUrls, cache_archive_path, cache_key};

/// Runner-side scripts from `config.toml`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunnerHooks<'a> {
    pub pre_get_sources: Option<&'a str>,
    pub post_get_sources: Option<&'a str>,
    pub pre_build: Option<&'a str>,
    pub post_build: Option<&'a str>,
}

/// Everything a stage builder needs.
#[derive(Debug, Clone)]
pub struct ScriptContext<'a> {
    pub job: &'a JobResponse,
    /// Final variables: job variables plus the runner's, values already expanded.
    pub variables: &'a [JobVariable],
    pub shell: ShellKind,
    pub builds_dir: &'a str,
    pub project_dir: &'a str,
    /// `<project_dir>.tmp`: file variables, `GITLAB_ENV`, git templates.
    pub tmp_dir: &'a str,
    /// The project's local cache directory (`<cache_dir>/<namespace>/<project>`).
    pub cache_dir: &'a str,
    /// How scripts call our helper subcommands: program and leading arguments.
    pub helper: &'a [String],
    /// Remote cache URLs per resolved cache key, when a remote cache is configured.
    pub cache_urls: &'a BTreeMap<String, CacheUrls>,
    /// The coordinator URL for artifact transfers.
    pub coordinator_url: &'a str,
    pub hooks: RunnerHooks<'a>,
    /// `CI_JOB_STATUS` for `after_script`.
    pub job_status: &'a str,
    /// `CI_DEBUG_TRACE` is on and not disabled by the runner.
    pub debug_trace: bool,
}

impl ScriptContext<'_> {
    /// A variable's final value.
    pub fn var(&self, key: &str) -> Option<&str> {
        self.variables.iter().rev().find(|v| v.key == key).map(|v| v.value.as_str())
    }

    fn file_variable_path(&self, key: &str) -> String {
        format!("{}/{key}", self.tmp_dir)
    }
}

/// A stage ready to run: the script every executor can run and, for the stages
/// that are only helper calls or a known line, the same stage as steps the runner
/// may do itself ([`crate::script::native`]); there is no native form under
/// `CI_DEBUG_TRACE`, whose shell trace of each command the job log must show.
#[derive(Debug, Clone)]
pub struct Built {
    pub script: String,
    pub native: Option<NativeScript>,
}

/// The stage, or `None` when it has nothing to do. A planned stage is planned once
/// for both of its forms.
pub fn build_stage(stage: &Stage, ctx: &ScriptContext<'_>) -> Option<Built> {
    let Some(plan) = planned(stage, ctx) else {
        let native = match stage {
            Stage::PrepareScript if !ctx.debug_trace => Some(NativeScript {
                dir: ctx.builds_dir.into(),
                tmp_dir: ctx.tmp_dir.into(),
                steps: vec![NativeStep::HostLine],
            }),
            Stage::GetSources => get_sources::native(ctx),
            _ => None,
        };
        return build(stage, ctx).map(|script| Built { script, native });
    };
    let mut w = ctx.shell.writer();
    plan::render(ctx, w.as_mut(), &plan);
    let native = if ctx.debug_trace { None } else { plan::native(ctx, &plan) };
    Some(Built { script: w.finish(ctx.debug_trace), native })
}

/// The script for a stage, or `None` when the stage has nothing to do.
pub fn build(stage: &Stage, ctx: &ScriptContext<'_>) -> Option<String> {
    let mut w = ctx.shell.writer();
    let any = match stage {
        Stage::PrepareExecutor => return None,
        Stage::PrepareScript => {
            prepare_script(ctx, w.as_mut());
            true
        }
        Stage::GetSources => get_sources::get_sources(ctx, w.as_mut()),
        Stage::ClearWorktree => get_sources::clear_worktree(ctx, w.as_mut()),
        Stage::Step(name) => user_script::step(ctx, name, w.as_mut()),
        Stage::AfterScript => user_script::after_script(ctx, w.as_mut()),
        Stage::CleanupFileVariables => cleanup_file_variables(ctx, w.as_mut()),
        _ => match planned(stage, ctx) {
            Some(p) => {
                plan::render(ctx, w.as_mut(), &p);
                true
            }
            None => false,
        },
    };
    any.then(|| w.finish(ctx.debug_trace))
}

/// The stages made only of messages and helper calls, as plans.
fn planned(stage: &Stage, ctx: &ScriptContext<'_>) -> Option<Vec<plan::Step>> {
    match stage {
        Stage::RestoreCache => cache::restore(ctx),
        Stage::DownloadArtifacts => artifacts::download(ctx),
        Stage::ArchiveCache => cache::archive(ctx, false),
        Stage::ArchiveCacheOnFailure => cache::archive(ctx, true),
        Stage::UploadArtifactsOnSuccess => artifacts::upload(ctx, false),
        Stage::UploadArtifactsOnFailure => artifacts::upload(ctx, true),
        _ => None,
    }
}

fn prepare_script(ctx: &ScriptContext<'_>, w: &mut dyn ScriptWriter) {
    match ctx.shell {
        // bash knows its host name (`$HOSTNAME`) without running a process.
        ShellKind::Bash => w.line("echo \"Running on ${HOSTNAME:-$(hostname 2>/dev/null || uname -n)}...\""),
        ShellKind::Sh => w.line("echo \"Running on $(hostname 2>/dev/null || uname -n)...\""),
        ShellKind::Pwsh | ShellKind::Powershell => {
            w.line("echo \"Running on $([Environment]::MachineName)...\"")
        }
    }
}

/// Exports every variable (file variables as files in the temporary directory), sets up
/// `GITLAB_ENV`, and optionally enters the project directory.
pub(crate) fn prelude(ctx: &ScriptContext<'_>, w: &mut dyn ScriptWriter, cd_project: bool) {
    w.mkdir(ctx.tmp_dir);
    for v in ctx.variables {
        if v.file {
            let path = ctx.file_variable_path(&v.key);
            w.write_file(&path, &v.value);
            w.variable(&v.key, &path);
        } else {
            w.variable(&v.key, &v.value);
        }
    }
    let env_file = format!("{}/gitlab_runner_env", ctx.tmp_dir);
    w.variable("GITLAB_ENV", &env_file);
    w.source_env_file(&env_file);
    if cd_project {
        w.cd(ctx.project_dir);
    }
}

fn cleanup_file_variables(ctx: &ScriptContext<'_>, w: &mut dyn ScriptWriter) -> bool {
    let files: Vec<_> = ctx.variables.iter().filter(|v| v.file).collect();
    if files.is_empty() {
        return false;
    }
    for v in files {
        w.rm_file(&ctx.file_variable_path(&v.key));
    }
    true
}
