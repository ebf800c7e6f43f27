//! `download_artifacts` and `upload_artifacts_on_{success,failure}`: calls to the
//! `artifacts-downloader` / `artifacts-uploader` helpers.
//!
//! Each stage is planned once ([`Plan`]) and then rendered as a script or as a
//! [`NativeScript`], so the helper gets the same arguments either way.

use crate::helper::HelperCommand;
use crate::script::ScriptWriter;
use crate::script::native::{NativeScript, NativeStep};
use crate::script::stages::{ScriptContext, prelude};

/// A stage's steps: notices and helper calls (subcommand first).
enum Step {
    Notice(&'static str),
    Helper(Vec<String>),
}

type Plan = Vec<Step>;

fn download_plan(ctx: &ScriptContext<'_>) -> Option<Plan> {
    let deps: Vec<_> = ctx.job.dependencies.iter().filter(|d| d.artifacts_file.is_some()).collect();
    if deps.is_empty() {
        return None;
    }
    // One helper process for all dependencies (it prints each one's notice): the helper
    // is a large binary, and a job can depend on many jobs.
    let mut argv: Vec<String> =
        vec!["artifacts-downloader".into(), "--url".into(), ctx.coordinator_url.into()];
    for dep in deps {
        argv.extend([
            "--id".into(),
            dep.id.to_string(),
            "--token".into(),
            dep.token.clone(),
            "--name".into(),
            dep.name.clone(),
        ]);
    }
    Some(vec![Step::Helper(argv)])
}

fn upload_plan(ctx: &ScriptContext<'_>, on_failure: bool) -> Option<Plan> {
    let artifacts = ctx.job.artifacts.as_ref()?;
    let selected: Vec<_> = artifacts
        .iter()
        .filter(|a| a.when.applies(!on_failure) && (!a.paths.is_empty() || a.untracked))
        .collect();
    if selected.is_empty() {
        return None;
    }
    let id = ctx.job.id.to_string();
    let mut plan = Vec::new();
    for a in selected {
        plan.push(Step::Notice("Uploading artifacts..."));
        let mut argv: Vec<String> = vec!["artifacts-uploader".into()];
        argv.extend(
            ["--url", ctx.coordinator_url, "--token", ctx.job.token.as_str(), "--id", id.as_str()]
                .map(String::from),
        );
        for p in &a.paths {
            argv.extend(["--path".into(), p.clone()]);
        }
        for e in &a.exclude {
            argv.extend(["--exclude".into(), e.clone()]);
        }
        if a.untracked {
            argv.push("--untracked".into());
        }
        argv.extend(["--artifact-format".into(), a.artifact_format.as_str().to_string()]);
        if !a.artifact_type.is_empty() {
            argv.extend(["--artifact-type".into(), a.artifact_type.clone()]);
        }
        if !a.name.is_empty() {
            argv.extend(["--name".into(), a.name.clone()]);
        }
        if !a.expire_in.is_empty() {
            argv.extend(["--expire-in".into(), a.expire_in.clone()]);
        }
        plan.push(Step::Helper(argv));
    }
    Some(plan)
}

fn render(ctx: &ScriptContext<'_>, w: &mut dyn ScriptWriter, plan: Plan) {
    prelude(ctx, w, true);
    for step in plan {
        match step {
            Step::Notice(text) => w.notice(text),
            Step::Helper(argv) => {
                let (program, mut args) = ctx.helper_args(&argv[0]);
                args.extend(argv[1..].iter().map(String::as_str));
                w.command(program, &args);
            }
        }
    }
}

/// The plan as in-process steps; `None` when a helper line does not parse (the
/// script then shows the helper's own error).
fn native(ctx: &ScriptContext<'_>, plan: Plan) -> Option<NativeScript> {
    let steps = plan
        .into_iter()
        .map(|step| match step {
            Step::Notice(text) => Some(NativeStep::Notice(text.to_string())),
            Step::Helper(argv) => HelperCommand::parse(&argv).ok().map(NativeStep::Helper),
        })
        .collect::<Option<Vec<_>>>()?;
    Some(NativeScript { dir: ctx.project_dir.into(), tmp_dir: ctx.tmp_dir.into(), steps })
}

pub(crate) fn download(ctx: &ScriptContext<'_>, w: &mut dyn ScriptWriter) -> bool {
    download_plan(ctx).map(|plan| render(ctx, w, plan)).is_some()
}

pub(crate) fn upload(ctx: &ScriptContext<'_>, w: &mut dyn ScriptWriter, on_failure: bool) -> bool {
    upload_plan(ctx, on_failure).map(|plan| render(ctx, w, plan)).is_some()
}

pub(crate) fn download_native(ctx: &ScriptContext<'_>) -> Option<NativeScript> {
    download_plan(ctx).and_then(|plan| native(ctx, plan))
}

pub(crate) fn upload_native(ctx: &ScriptContext<'_>, on_failure: bool) -> Option<NativeScript> {
    upload_plan(ctx, on_failure).and_then(|plan| native(ctx, plan))
}
