//! `kiln lint`: validate a `.gitlab-ci.yml` and print the planned jobs.

use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `kiln lint`.
#[derive(Debug, clap::Args)]
pub(crate) struct LintArgs {
    /// The pipeline file to check.
    #[arg(default_value = ".gitlab-ci.yml")]
    file: PathBuf,
}

pub(crate) fn run(args: LintArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("lint is not available yet: {}", args.file.display())
}
