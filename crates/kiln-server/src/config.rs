//! The server's configuration: command-line flags and `KILN_*` variables
//! (parsed by the binary) over a TOML file over defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::error::ServerError;

/// Every setting as it may appear in the TOML file or on the command line;
/// `None` means "not given here".
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
    pub database_url: Option<String>,
    pub external_url: Option<String>,
    pub blob_url: Option<String>,
    #[serde(default)]
    pub limits: LimitsFile,
}

/// The `[limits]` table.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsFile {
    /// Largest REST API request body, in bytes.
    pub max_request_body: Option<u64>,
    /// Largest git push, in bytes.
    pub max_push_size: Option<u64>,
    /// Longest git clone, fetch or push, in seconds.
    pub git_timeout: Option<u64>,
    /// A pending job no online runner can take is dropped after this many seconds.
    pub stuck_pending_timeout: Option<u64>,
    /// A running job without any runner update is failed after this many seconds.
    pub running_no_update_timeout: Option<u64>,
    /// Seconds a graceful shutdown waits for requests in flight.
    pub shutdown_timeout: Option<u64>,
    /// Seconds `POST /jobs/request` waits for a job before answering 204.
    pub long_poll_timeout: Option<u64>,
}

impl ConfigFile {
    /// Reads a TOML file.
    pub fn load(path: &Path) -> Result<ConfigFile, ServerError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ServerError::Config(format!("cannot read {}: {e}", path.display())))?;
        toml::from_str(&text).map_err(|e| ServerError::Config(format!("{}: {e}", path.display())))
    }

    /// `self` where it says something, `base` elsewhere.
    pub fn over(self, base: ConfigFile) -> ConfigFile {
        ConfigFile {
            data_dir: self.data_dir.or(base.data_dir),
            listen: self.listen.or(base.listen),
            database_url: self.database_url.or(base.database_url),
            external_url: self.external_url.or(base.external_url),
            blob_url: self.blob_url.or(base.blob_url),
            limits: LimitsFile {
                max_request_body: self.limits.max_request_body.or(base.limits.max_request_body),
                max_push_size: self.limits.max_push_size.or(base.limits.max_push_size),
                git_timeout: self.limits.git_timeout.or(base.limits.git_timeout),
                stuck_pending_timeout: self
                    .limits
                    .stuck_pending_timeout
                    .or(base.limits.stuck_pending_timeout),
                running_no_update_timeout: self
                    .limits
                    .running_no_update_timeout
                    .or(base.limits.running_no_update_timeout),
                shutdown_timeout: self.limits.shutdown_timeout.or(base.limits.shutdown_timeout),
                long_poll_timeout: self.limits.long_poll_timeout.or(base.limits.long_poll_timeout),
            },
        }
    }

    /// Fills in defaults and checks the values.
    pub fn resolve(self) -> Result<Config, ServerError> {
        let data_dir = self.data_dir.unwrap_or_else(|| PathBuf::from("kiln-data"));
        let listen = self.listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
        let database_url =
            self.database_url.unwrap_or_else(|| format!("sqlite://{}", data_dir.join("kiln.db").display()));
        let external_url = self.external_url.unwrap_or_else(|| format!("http://{listen}"));
        let external_url = external_url.trim_end_matches('/').to_string();
        let parsed = url::Url::parse(&external_url)
            .map_err(|e| ServerError::Config(format!("external url `{external_url}`: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(ServerError::Config(format!(
                "external url `{external_url}`: must be http(s)://host"
            )));
        }
        let defaults = Limits::default();
        let secs = |v: Option<u64>, d: Duration| v.map_or(d, Duration::from_secs);
        let limits = Limits {
            max_request_body: self.limits.max_request_body.unwrap_or(defaults.max_request_body),
            max_push_size: self.limits.max_push_size.unwrap_or(defaults.max_push_size),
            git_timeout: secs(self.limits.git_timeout, defaults.git_timeout),
            stuck_pending_timeout: secs(self.limits.stuck_pending_timeout, defaults.stuck_pending_timeout),
            running_no_update_timeout: secs(
                self.limits.running_no_update_timeout,
                defaults.running_no_update_timeout,
            ),
            shutdown_timeout: secs(self.limits.shutdown_timeout, defaults.shutdown_timeout),
            long_poll_timeout: secs(self.limits.long_poll_timeout, defaults.long_poll_timeout),
        };
        Ok(Config { data_dir, listen, database_url, external_url, blob_url: self.blob_url, limits })
    }
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub database_url: String,
    /// The URL users and runners reach the server at, without a trailing `/`.
    pub external_url: String,
    /// `s3://bucket/prefix?...` for an object store; `None`: `<data_dir>/blobs`.
    pub blob_url: Option<String>,
    pub limits: Limits,
}

/// Server-side limits.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_request_body: u64,
    pub max_push_size: u64,
    pub git_timeout: Duration,
    /// GitLab's 1 hour for pending jobs no runner can take.
    pub stuck_pending_timeout: Duration,
    /// GitLab 19: 30 minutes for running jobs without updates.
    pub running_no_update_timeout: Duration,
    pub shutdown_timeout: Duration,
    /// How long a job request is held open when no job matches (Workhorse's 50 s).
    pub long_poll_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_request_body: 10 * 1024 * 1024,
            max_push_size: 1024 * 1024 * 1024,
            git_timeout: Duration::from_secs(30 * 60),
            stuck_pending_timeout: Duration::from_secs(3600),
            running_no_update_timeout: Duration::from_secs(1800),
            shutdown_timeout: Duration::from_secs(30),
            long_poll_timeout: Duration::from_secs(50),
        }
    }
}

impl Config {
    /// Where the bare repositories live.
    pub fn repositories_dir(&self) -> PathBuf {
        self.data_dir.join("repositories")
    }

    /// The first-start credentials file.
    pub fn credentials_file(&self) -> PathBuf {
        self.data_dir.join("initial_root_credentials")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_file_and_defaults_fill_the_rest() {
        let file: ConfigFile = toml::from_str(
            "data_dir = \"/srv/kiln\"\nlisten = \"0.0.0.0:9000\"\n[limits]\nmax_request_body = 1024\n",
        )
        .unwrap();
        let flags = ConfigFile { listen: Some("127.0.0.1:7000".parse().unwrap()), ..ConfigFile::default() };
        let config = flags.over(file).resolve().unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:7000");
        assert_eq!(config.data_dir, PathBuf::from("/srv/kiln"));
        assert_eq!(config.database_url, "sqlite:///srv/kiln/kiln.db");
        assert_eq!(config.external_url, "http://127.0.0.1:7000");
        assert_eq!(config.limits.max_request_body, 1024);
        assert_eq!(config.limits.stuck_pending_timeout, Duration::from_secs(3600));
    }

    #[test]
    fn unknown_keys_and_bad_urls_are_refused() {
        assert!(toml::from_str::<ConfigFile>("data_dri = \"x\"").is_err());
        let bad = ConfigFile { external_url: Some("ftp://x".into()), ..ConfigFile::default() };
        assert!(bad.resolve().is_err());
    }
}
