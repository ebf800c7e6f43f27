//! `cargo xtask`: repository chores.

use std::process::ExitCode;

fn main() -> anyhow::Result<ExitCode> {
    let task = std::env::args().nth(1).unwrap_or_default();
    match task.as_str() {
        "tidy" => {
            let root = xtask::tidy::workspace_root();
            let problems = xtask::tidy::check_all(&root)?;
            for problem in &problems {
                #[allow(clippy::print_stderr)]
                {
                    eprintln!("{problem}");
                }
            }
            Ok(if problems.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        _ => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("usage: cargo xtask tidy");
            }
            Ok(ExitCode::from(2))
        }
    }
}
