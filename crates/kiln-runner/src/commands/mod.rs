//! What the `kiln runner` subcommands do, as library functions the CLI calls.

mod manage;
mod rotation;
mod run;
mod worker;

pub use manage::{ManageError, RegisterOptions, list, register, reset_token, unregister, verify};
pub use run::{RunControl, RunError, RunOptions, run_with_signals, serve};
pub use worker::{JobReport, process_job};
