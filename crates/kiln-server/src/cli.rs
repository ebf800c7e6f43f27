//! The `kiln server` command line: flags with their `KILN_*` variables,
//! layered over the TOML file given with `--config`.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::config::{Config, ConfigFile, LimitsFile};
use crate::error::ServerError;

/// Arguments of `kiln server`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
    /// A TOML file with the same settings; flags and environment win over it.
    #[arg(long, env = "KILN_CONFIG")]
    pub config: Option<PathBuf>,
    /// Where repositories, the SQLite database and local blobs live.
    #[arg(long, env = "KILN_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:8080).
    #[arg(long, env = "KILN_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// `sqlite://<path>` (default: `<data-dir>/kiln.db`) or `postgres://...`.
    #[arg(long, env = "KILN_DATABASE_URL")]
    pub database_url: Option<String>,
    /// The URL users and runners reach this server at (default: http://<listen>).
    #[arg(long, env = "KILN_EXTERNAL_URL")]
    pub external_url: Option<String>,
    /// `s3://bucket/prefix?endpoint=...` for blobs (default: `<data-dir>/blobs`).
    #[arg(long, env = "KILN_BLOB_URL")]
    pub blob_url: Option<String>,
    /// Largest REST API request body in bytes.
    #[arg(long, env = "KILN_MAX_REQUEST_BODY")]
    pub max_request_body: Option<u64>,
    /// Largest git push in bytes.
    #[arg(long, env = "KILN_MAX_PUSH_SIZE")]
    pub max_push_size: Option<u64>,
    /// Seconds a runner's job request waits for a job (default 50; 0 answers at once).
    #[arg(long, env = "KILN_LONG_POLL_TIMEOUT")]
    pub long_poll_timeout: Option<u64>,
}

impl ServerArgs {
    /// The configuration: these arguments over the file over defaults.
    pub fn resolve(&self) -> Result<Config, ServerError> {
        let flags = ConfigFile {
            data_dir: self.data_dir.clone(),
            listen: self.listen,
            database_url: self.database_url.clone(),
            external_url: self.external_url.clone(),
            blob_url: self.blob_url.clone(),
            limits: LimitsFile {
                max_request_body: self.max_request_body,
                max_push_size: self.max_push_size,
                long_poll_timeout: self.long_poll_timeout,
                ..LimitsFile::default()
            },
        };
        let file = match &self.config {
            Some(path) => ConfigFile::load(path)?,
            None => ConfigFile::default(),
        };
        flags.over(file).resolve()
    }
}
