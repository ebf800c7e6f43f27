//! `kiln server`: the coordinator (REST API, git hosting, pipelines).

use std::process::ExitCode;

use anyhow::Context;
pub(crate) use kiln_server::ServerArgs;
use kiln_server::{Server, shutdown_signal};

/// Runs the server until SIGTERM or SIGINT; prints the administrator's
/// credentials when this start created the instance.
pub(crate) fn run(args: ServerArgs) -> anyhow::Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KILN_LOG").unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let config = args.resolve()?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        let server = Server::start(config).await?;
        if let Some(c) = server.initial_credentials() {
            #[allow(clippy::print_stdout)]
            {
                println!(
                    "Created the administrator `{}` (credentials also in {}):",
                    c.username,
                    c.file.display()
                );
                println!("  password: {}", c.password);
                println!("  token:    {}", c.token);
            }
        }
        tracing::info!(address = %server.local_addr()?, "listening");
        server.run(shutdown_signal()).await?;
        Ok(ExitCode::SUCCESS)
    })
}
