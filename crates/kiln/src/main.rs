//! The `kiln` command line: argument parsing, logging set-up and exit codes.
//!
//! Everything else lives in library crates; each subcommand has one file under
//! `cmd/` that turns parsed arguments into a library call and an exit code.

mod allocator;
mod cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Kiln runs GitLab CI pipelines.
#[derive(Debug, Parser)]
#[command(name = "kiln", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the working tree's pipeline on this machine with the real engine.
    Exec(Box<cmd::exec::ExecArgs>),
    /// Validate a `.gitlab-ci.yml` and show the jobs it would create.
    Lint(cmd::lint::LintArgs),
    /// Run the GitLab-compatible runner agent.
    Runner(cmd::runner::RunnerArgs),
    /// Run the coordinator: REST API, git hosting, pipelines.
    Server(Box<cmd::server::ServerArgs>),
    /// Start a coordinator and a runner in one process, with a demo project.
    Up(cmd::up::UpArgs),
}

fn main() -> ExitCode {
    allocator::purge_freed_memory_at_once();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Exec(args) => cmd::exec::run(*args),
        Command::Lint(args) => cmd::lint::run(args),
        Command::Runner(args) => cmd::runner::run(args),
        Command::Server(args) => cmd::server::run(*args),
        Command::Up(args) => cmd::up::run(args),
    };
    match result {
        Ok(code) => code,
        // Output piped into `head` and closed early is not an error (as ripgrep does it).
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("error: {err:#}");
            }
            ExitCode::from(cmd::EXIT_USAGE)
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
