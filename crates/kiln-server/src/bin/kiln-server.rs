//! `kiln server` as a stand-alone binary, so this crate's tests can run the
//! real server as a process without building the whole `kiln` binary. The
//! `kiln` binary's `server` subcommand does exactly the same.

use std::process::ExitCode;

use clap::Parser;
use kiln_server::{Server, ServerArgs, shutdown_signal};

#[derive(Debug, Parser)]
#[command(name = "kiln-server", about = "Run the Kiln coordinator")]
struct Cli {
    #[command(flatten)]
    args: ServerArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KILN_LOG").unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = async {
        let server = Server::start(cli.args.resolve()?).await?;
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
        server.run(shutdown_signal()).await
    }
    .await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "kiln server failed");
            ExitCode::FAILURE
        }
    }
}
