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
//!
//! `get_sources` from a repository on this machine is the one stage whose native
//! form does more than the helpers: see [`LocalSources`].

use std::path::PathBuf;

use crate::helper::HelperCommand;
use crate::script::stages::GitStrategy;

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
    /// `get_sources` from a repository on this machine (see [`LocalSources`]).
    Sources(Box<LocalSources>),
}

/// `get_sources` from a repository on this machine, as the script would do it with
/// `git init`, `git fetch` and `git checkout`, but borrowing the source's objects
/// (`objects/info/alternates`, as `git clone --shared` does) instead of copying them
/// through `git upload-pack`: a fetch from a local snapshot is a dozen processes and
/// most of a short job's time. Run by `crate::executor::local_sources`.
#[derive(Debug, Clone)]
pub struct LocalSources {
    pub strategy: GitStrategy,
    /// The source repository (the `file://` URL's path); empty for `none` and `empty`.
    pub source: PathBuf,
    pub url: String,
    /// Forced refspecs (`+<src>:<dst>`): names, or `<prefix>/*` patterns on both sides.
    pub refspecs: Vec<String>,
    /// `GIT_DEPTH`; `0` is the full history.
    pub depth: i64,
    pub sha: String,
    pub ref_name: String,
    /// `GIT_CHECKOUT` is not `false`.
    pub checkout: bool,
    /// `GIT_CLEAN_FLAGS`, split; `None` for `none`.
    pub clean_flags: Option<Vec<String>>,
    /// `GIT_LFS_SKIP_SMUDGE` was unset: LFS files are pulled where `.gitattributes` ask.
    pub lfs: bool,
    /// What the script's git commands would see: the job's variables (file variables as
    /// their paths) and the git settings the script exports.
    pub env: Vec<(String, String)>,
    /// File variables to write, as the script's prelude does: path and content.
    pub files: Vec<(PathBuf, String)>,
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

impl NativeScript {
    /// Whether the stage leaves a repository that points at objects on this machine
    /// ([`LocalSources`]): only for executors whose later stages run here too, not in a
    /// container that cannot see the source's path.
    pub fn borrows_objects(&self) -> bool {
        self.steps.iter().any(|s| matches!(s, NativeStep::Sources(_)))
    }
}
