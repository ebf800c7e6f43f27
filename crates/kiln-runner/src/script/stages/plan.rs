//! A stage made only of messages and helper calls, planned once and then rendered
//! either as a script or as a [`NativeScript`] the runner can do itself, so the
//! helper gets the same arguments and the log the same lines either way.

use crate::helper::HelperCommand;
use crate::script::ScriptWriter;
use crate::script::native::{NativeScript, NativeStep};
use crate::script::stages::{ScriptContext, prelude};

/// One step; helper command lines start with the subcommand.
pub(crate) enum Step {
    Notice(String),
    Warning(String),
    /// The helper must succeed (the script's `errexit` ends the stage otherwise).
    Helper(Vec<String>),
    /// `if helper; then ok; else failed; fi`, the helper's output in the log.
    Try {
        helper: Vec<String>,
        ok: Vec<Step>,
        failed: Vec<Step>,
    },
}

/// The stage's script: the prelude (variables, `cd` into the project), then the steps.
pub(crate) fn render(ctx: &ScriptContext<'_>, w: &mut dyn ScriptWriter, plan: &[Step]) {
    prelude(ctx, w, true);
    render_steps(ctx, w, plan);
}

fn render_steps(ctx: &ScriptContext<'_>, w: &mut dyn ScriptWriter, steps: &[Step]) {
    for step in steps {
        match step {
            Step::Notice(text) => w.notice(text),
            Step::Warning(text) => w.warning(text),
            Step::Helper(line) => {
                let (program, args) = helper_argv(ctx, line);
                w.command(program, &args);
            }
            Step::Try { helper, ok, failed } => {
                let (program, args) = helper_argv(ctx, helper);
                w.if_cmd_with_output(program, &args);
                render_steps(ctx, w, ok);
                w.else_branch();
                render_steps(ctx, w, failed);
                w.end_if();
            }
        }
    }
}

fn helper_argv<'a>(ctx: &'a ScriptContext<'_>, line: &'a [String]) -> (&'a str, Vec<&'a str>) {
    let program = ctx.helper.first().map_or("kiln", String::as_str);
    let args = ctx.helper.iter().skip(1).chain(line).map(String::as_str).collect();
    (program, args)
}

/// The plan as in-process steps; `None` when a helper line does not parse (the script
/// then shows the helper's own error).
pub(crate) fn native(ctx: &ScriptContext<'_>, plan: &[Step]) -> Option<NativeScript> {
    Some(NativeScript {
        dir: ctx.project_dir.into(),
        tmp_dir: ctx.tmp_dir.into(),
        steps: native_steps(plan)?,
    })
}

fn native_steps(steps: &[Step]) -> Option<Vec<NativeStep>> {
    steps
        .iter()
        .map(|step| match step {
            Step::Notice(text) => Some(NativeStep::Notice(text.clone())),
            Step::Warning(text) => Some(NativeStep::Warning(text.clone())),
            Step::Helper(line) => HelperCommand::parse(line).ok().map(NativeStep::Helper),
            Step::Try { helper, ok, failed } => Some(NativeStep::Try {
                helper: HelperCommand::parse(helper).ok()?,
                ok: native_steps(ok)?,
                failed: native_steps(failed)?,
            }),
        })
        .collect()
}
