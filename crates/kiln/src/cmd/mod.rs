//! One module per subcommand; shared exit codes.

pub(crate) mod exec;
pub(crate) mod lint;
pub(crate) mod runner;
pub(crate) mod server;
pub(crate) mod up;

/// Exit code for usage and configuration errors (clap uses it too).
pub(crate) const EXIT_USAGE: u8 = 2;
