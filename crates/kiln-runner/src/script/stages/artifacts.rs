//! `download_artifacts` and `upload_artifacts_on_{success,failure}`: calls to the
//! `artifacts-downloader` / `artifacts-uploader` helpers.

use crate::script::stages::ScriptContext;
use crate::script::stages::plan::Step;
use crate::vars::expand;

pub(crate) fn download(ctx: &ScriptContext<'_>) -> Option<Vec<Step>> {
    let deps: Vec<_> = ctx.job.dependencies.iter().filter(|d| d.artifacts_file.is_some()).collect();
    if deps.is_empty() {
        return None;
    }
    // One helper process for all dependencies (it prints each one's notice): the helper
    // is a large binary, and a job can depend on many jobs.
    let mut line: Vec<String> =
        vec!["artifacts-downloader".into(), "--url".into(), ctx.coordinator_url.into()];
    for dep in deps {
        line.extend([
            "--id".into(),
            dep.id.to_string(),
            "--token".into(),
            dep.token.clone(),
            "--name".into(),
            dep.name.clone(),
        ]);
    }
    Some(vec![Step::Helper(line)])
}

pub(crate) fn upload(ctx: &ScriptContext<'_>, on_failure: bool) -> Option<Vec<Step>> {
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
        plan.push(Step::Notice("Uploading artifacts...".into()));
        let mut line: Vec<String> =
            ["artifacts-uploader", "--url", ctx.coordinator_url, "--token", &ctx.job.token]
                .map(String::from)
                .to_vec();
        line.extend(["--id".into(), id.clone()]);
        // GitLab Runner expands the job's variables in paths, excludes and the name
        // (its own `$VAR` / `${VAR}` expansion, not the shell's).
        for p in &a.paths {
            line.extend(["--path".into(), expand(p, ctx.variables)]);
        }
        for e in &a.exclude {
            line.extend(["--exclude".into(), expand(e, ctx.variables)]);
        }
        if a.untracked {
            line.push("--untracked".into());
        }
        line.extend(["--artifact-format".into(), a.artifact_format.as_str().to_string()]);
        let name = expand(&a.name, ctx.variables);
        for (flag, value) in
            [("--artifact-type", &a.artifact_type), ("--name", &name), ("--expire-in", &a.expire_in)]
        {
            if !value.is_empty() {
                line.extend([flag.to_string(), value.clone()]);
            }
        }
        plan.push(Step::Helper(line));
    }
    Some(plan)
}
