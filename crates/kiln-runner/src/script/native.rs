//! Stages the runner can do itself, without starting a shell.
//!
//! Some stages are nothing but calls to our own helper subcommands (artifact
//! transfers) or a line the runner already knows (`prepare_script`'s host name). On
//! an executor whose scripts run on this machine, as this user, with this
//! environment (the shell executor), starting `bash` and then the helper binary for
//! them costs two processes and a helper's memory per stage and gains nothing. A
//! stage builder therefore describes such a stage twice: as the script every
//! executor can run, and as a [`NativeScript`] that such an executor may run in
//! process instead, printing the same lines.

use std::path::PathBuf;

use crate::helper::HelperCommand;

/// One step of a stage done in process.
#[derive(Debug, Clone)]
pub enum NativeStep {
    /// `Running on <host name>...`.
    HostLine,
    /// A bold green line, as the script's `notice` prints it.
    Notice(String),
    /// A yellow `WARNING:` line, as the script's `warning` prints it.
    Warning(String),
    /// A helper subcommand, run in the project directory; its failure fails the stage.
    Helper(HelperCommand),
    /// A helper whose failure is handled: `ok` after success, `failed` after failure.
    Try { helper: HelperCommand, ok: Vec<NativeStep>, failed: Vec<NativeStep> },
}

/// A stage as steps the runner performs itself.
#[derive(Debug, Clone)]
pub struct NativeScript {
    /// Where the helpers run (the script `cd`s there first).
    pub dir: PathBuf,
    /// The job's temporary area (`<project dir>.tmp`): downloads wait here.
    pub tmp_dir: PathBuf,
    pub steps: Vec<NativeStep>,
}
