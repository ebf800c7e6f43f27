//! `kiln-docker-test-helper`: kiln-runner's helper subcommands (artifacts, caches) as a
//! binary this crate's tests can name, so the predefined stages the Docker executor runs
//! on the host work in them as they do under `kiln runner helper`. Built only with the
//! `testing` feature.

use std::process::ExitCode;

use clap::Parser;

#[derive(Debug, Parser)]
struct Args {
    #[command(subcommand)]
    command: kiln_runner::helper::HelperCommand,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
        return ExitCode::from(2);
    };
    let mut out = std::io::stdout();
    match runtime.block_on(kiln_runner::helper::run(args.command, &mut out)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "\x1b[31;1mERROR: {e}\x1b[0;m");
            ExitCode::FAILURE
        }
    }
}
