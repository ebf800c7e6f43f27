//! `step_*` and `after_script`: the user's commands, each echoed as `$ command`.

use crate::script::ScriptWriter;
use crate::script::stages::{ScriptContext, prelude};

/// A user step (`script`, `release`, ...) from the payload's `steps`.
pub(crate) fn step(ctx: &ScriptContext<'_>, name: &str, w: &mut dyn ScriptWriter) -> bool {
    let Some(step) = ctx.job.steps.iter().find(|s| s.name == name) else { return false };
    prelude(ctx, w, true);
    if let Some(pre) = ctx.hooks.pre_build {
        w.line(pre);
    }
    for line in &step.script {
        if !line.trim().is_empty() {
            w.user_command(line);
        }
    }
    if let Some(post) = ctx.hooks.post_build {
        w.line(post);
    }
    true
}

/// `after_script`: runs in a fresh shell with `CI_JOB_STATUS` set.
pub(crate) fn after_script(ctx: &ScriptContext<'_>, w: &mut dyn ScriptWriter) -> bool {
    let Some(step) = ctx.job.steps.iter().find(|s| s.name == "after_script") else { return false };
    if step.script.iter().all(|l| l.trim().is_empty()) {
        return false;
    }
    prelude(ctx, w, true);
    w.variable("CI_JOB_STATUS", ctx.job_status);
    for line in &step.script {
        if !line.trim().is_empty() {
            w.user_command(line);
        }
    }
    true
}
