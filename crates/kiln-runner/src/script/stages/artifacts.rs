//! `download_artifacts` and `upload_artifacts_on_{success,failure}`: calls to the
//! `artifacts-downloader` / `artifacts-uploader` helpers.

use crate::script::ScriptWriter;
use crate::script::stages::{ScriptContext, prelude};

pub(crate) fn download(ctx: &ScriptContext<'_>, w: &mut dyn ScriptWriter) -> bool {
    let deps: Vec<_> = ctx.job.dependencies.iter().filter(|d| d.artifacts_file.is_some()).collect();
    if deps.is_empty() {
        return false;
    }
    prelude(ctx, w, true);
    // One helper process for all dependencies (it prints each one's notice): the helper
    // is a large binary, and a job can depend on many jobs.
    let ids: Vec<String> = deps.iter().map(|d| d.id.to_string()).collect();
    let (program, mut argv) = ctx.helper_args("artifacts-downloader");
    argv.extend(["--url", ctx.coordinator_url]);
    for (dep, id) in deps.iter().zip(&ids) {
        argv.extend(["--id", id.as_str(), "--token", dep.token.as_str(), "--name", dep.name.as_str()]);
    }
    w.command(program, &argv);
    true
}

pub(crate) fn upload(ctx: &ScriptContext<'_>, w: &mut dyn ScriptWriter, on_failure: bool) -> bool {
    let Some(artifacts) = &ctx.job.artifacts else { return false };
    let selected: Vec<_> = artifacts
        .iter()
        .filter(|a| a.when.applies(!on_failure) && (!a.paths.is_empty() || a.untracked))
        .collect();
    if selected.is_empty() {
        return false;
    }
    prelude(ctx, w, true);
    let id = ctx.job.id.to_string();
    for a in selected {
        w.notice("Uploading artifacts...");
        let (program, mut argv) = ctx.helper_args("artifacts-uploader");
        argv.extend(["--url", ctx.coordinator_url, "--token", ctx.job.token.as_str(), "--id", id.as_str()]);
        for p in &a.paths {
            argv.extend(["--path", p.as_str()]);
        }
        for e in &a.exclude {
            argv.extend(["--exclude", e.as_str()]);
        }
        if a.untracked {
            argv.push("--untracked");
        }
        argv.extend(["--artifact-format", a.artifact_format.as_str()]);
        if !a.artifact_type.is_empty() {
            argv.extend(["--artifact-type", a.artifact_type.as_str()]);
        }
        if !a.name.is_empty() {
            argv.extend(["--name", a.name.as_str()]);
        }
        if !a.expire_in.is_empty() {
            argv.extend(["--expire-in", a.expire_in.as_str()]);
        }
        w.command(program, &argv);
    }
    true
}
