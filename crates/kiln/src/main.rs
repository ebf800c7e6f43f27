//! The `kiln` command line: argument parsing, logging set-up and exit codes.
//!
//! Everything else lives in library crates; this file only dispatches.

use clap::Parser;

/// Kiln runs GitLab CI pipelines.
#[derive(Debug, Parser)]
#[command(name = "kiln", version, about)]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
}
