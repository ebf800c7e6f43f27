//! `kiln-exec-helper`: the runner's helper subcommands as a small binary, so that this
//! crate's tests run pipelines without the `kiln` binary (which offers the same code as
//! `kiln runner helper`).

use std::process::ExitCode;

use clap::Parser;

#[derive(Debug, Parser)]
struct Args {
    #[command(subcommand)]
    command: kiln_runner::helper::HelperCommand,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(_) => return ExitCode::from(2),
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
