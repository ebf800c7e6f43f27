//! `kiln runner`: the GitLab-Runner-compatible agent and its subcommands.

use std::process::ExitCode;

/// Arguments of `kiln runner`.
#[derive(Debug, clap::Args)]
pub(crate) struct RunnerArgs {}

pub(crate) fn run(_args: RunnerArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("the runner is not available yet")
}
