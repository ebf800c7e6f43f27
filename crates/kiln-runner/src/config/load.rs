//! Loading `config.toml`: errors with line and column, warnings for unknown keys.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::config::Config;

/// A file that could not be read or parsed.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("failed to read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Parse { path: PathBuf, line: usize, column: usize, message: String },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// A key this runner does not know (it is ignored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Dotted path of the key, e.g. `runners[0].docker_image`.
    pub key: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown configuration key `{}` is ignored", self.key)
    }
}

/// A parsed configuration and what was odd about it.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    pub config: Config,
    pub warnings: Vec<Warning>,
}

/// Reads and parses a file.
pub fn load(path: &Path) -> Result<LoadedConfig, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
    parse(path, &text)
}

/// Parses text (`path` is only used in messages).
pub fn parse(path: &Path, text: &str) -> Result<LoadedConfig, ConfigError> {
    let table: toml::Table = toml::from_str(text).map_err(|e| positioned(path, text, &e))?;
    let config: Config = toml::from_str(text).map_err(|e| positioned(path, text, &e))?;
    if config.concurrent == 0 && table.contains_key("concurrent") {
        return Err(ConfigError::Invalid {
            path: path.to_path_buf(),
            message: "`concurrent` must be at least 1".into(),
        });
    }
    let mut warnings = Vec::new();
    unknown_keys(&table, GLOBAL_KEYS, "", &mut warnings);
    if let Some(toml::Value::Table(t)) = table.get("session_server") {
        unknown_keys(t, SESSION_KEYS, "session_server.", &mut warnings);
    }
    if let Some(toml::Value::Array(runners)) = table.get("runners") {
        for (i, r) in runners.iter().enumerate() {
            let Some(r) = r.as_table() else { continue };
            let prefix = format!("runners[{i}].");
            unknown_keys(r, RUNNER_KEYS, &prefix, &mut warnings);
            for (section, keys) in
                [("cache", CACHE_KEYS), ("custom", CUSTOM_KEYS), ("custom_build_dir", &["enabled"][..])]
            {
                if let Some(toml::Value::Table(t)) = r.get(section) {
                    unknown_keys(t, keys, &format!("{prefix}{section}."), &mut warnings);
                    if section == "cache"
                        && let Some(toml::Value::Table(s3)) = t.get("s3")
                    {
                        unknown_keys(s3, S3_KEYS, &format!("{prefix}cache.s3."), &mut warnings);
                    }
                }
            }
        }
    }
    Ok(LoadedConfig { config, warnings })
}

fn positioned(path: &Path, text: &str, e: &toml::de::Error) -> ConfigError {
    let (line, column) = match e.span() {
        Some(span) => line_col(text, span.start),
        None => (1, 1),
    };
    ConfigError::Parse { path: path.to_path_buf(), line, column, message: e.message().trim().to_string() }
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
    (line, column)
}

fn unknown_keys(table: &toml::Table, known: &[&str], prefix: &str, out: &mut Vec<Warning>) {
    for key in table.keys() {
        if !known.contains(&key.as_str()) {
            out.push(Warning { key: format!("{prefix}{key}") });
        }
    }
}

const GLOBAL_KEYS: &[&str] = &[
    "concurrent",
    "check_interval",
    "log_level",
    "log_format",
    "listen_address",
    "shutdown_timeout",
    "session_server",
    "runners",
    "sentry_dsn",
    "connection_max_age",
    "user",
    "labels",
    "experimental",
    "machine",
    "usage_logger",
];
const SESSION_KEYS: &[&str] = &["listen_address", "advertise_address", "session_timeout"];
const RUNNER_KEYS: &[&str] = &[
    "name",
    "url",
    "id",
    "token",
    "token_obtained_at",
    "token_expires_at",
    "tls-ca-file",
    "tls-cert-file",
    "tls-key-file",
    "clone_url",
    "executor",
    "shell",
    "limit",
    "request_concurrency",
    "builds_dir",
    "cache_dir",
    "environment",
    "output_limit",
    "pre_get_sources_script",
    "post_get_sources_script",
    "pre_build_script",
    "post_build_script",
    "debug_trace_disabled",
    "unhealthy_requests_limit",
    "unhealthy_interval",
    "job_status_final_update_retry_limit",
    "strict_check_interval",
    "custom_build_dir",
    "feature_flags",
    "cache",
    "custom",
    "docker",
    "kubernetes",
    "labels",
    "prepare_timeout",
    "get_sources_timeout",
    "safe_directory_checkout",
    "clean_git_config",
    "referees",
    "artifact",
    "step_runner_image",
    "machine",
    "autoscaler",
    "instance",
    "ssh",
    "parallels",
    "virtualbox",
];
const CACHE_KEYS: &[&str] = &["Type", "Path", "Shared", "MaxUploadedArchiveSize", "s3", "gcs", "azure"];
const S3_KEYS: &[&str] = &[
    "ServerAddress",
    "AccessKey",
    "SecretKey",
    "SessionToken",
    "BucketName",
    "BucketLocation",
    "Insecure",
    "AuthenticationType",
    "ServerSideEncryption",
    "ServerSideEncryptionKeyID",
    "DualStack",
    "PathStyle",
    "Accelerate",
    "RoleARN",
    "UploadRoleARN",
    "AssumeRoleMaxConcurrency",
];
const CUSTOM_KEYS: &[&str] = &[
    "config_exec",
    "config_args",
    "config_exec_timeout",
    "prepare_exec",
    "prepare_args",
    "prepare_exec_timeout",
    "run_exec",
    "run_args",
    "cleanup_exec",
    "cleanup_args",
    "cleanup_exec_timeout",
    "graceful_kill_timeout",
    "force_kill_timeout",
];

/// The default configuration path for the current user.
pub fn default_config_path() -> PathBuf {
    let is_root = nix::unistd::geteuid().is_root();
    let home = std::env::var_os("HOME").map(PathBuf::from);
    crate::config::default_path_for(is_root, home.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_carry_line_and_column() {
        let err = parse(Path::new("c.toml"), "concurrent = 2\n[[runners]]\nname = \n").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("c.toml:3:"), "{text}");
    }

    #[test]
    fn type_errors_carry_line_and_column() {
        let err = parse(Path::new("c.toml"), "concurrent = 2\n[[runners]]\nlimit = \"many\"\n").unwrap_err();
        assert!(err.to_string().starts_with("c.toml:3:"), "{err}");
    }

    #[test]
    fn unknown_keys_warn() {
        let text = "concurrent = 2\nbogus = 1\n[[runners]]\nname = \"a\"\nfrobnicate = true\n[runners.cache]\nType = \"s3\"\nColour = 1\n";
        let loaded = parse(Path::new("c.toml"), text).unwrap();
        let keys: Vec<_> = loaded.warnings.iter().map(|w| w.key.as_str()).collect();
        assert_eq!(keys, ["bogus", "runners[0].frobnicate", "runners[0].cache.Colour"]);
    }

    #[test]
    fn zero_concurrency_is_refused() {
        assert!(parse(Path::new("c.toml"), "concurrent = 0\n").is_err());
    }
}
