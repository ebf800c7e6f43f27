//! GitLab Runner's `config.toml`: the model, loading with positioned errors, comment-keeping
//! edits, and the `system_id` file beside it.
//!
//! Field names are GitLab Runner's, including the CamelCase keys of `[runners.cache]`.
//! `[runners.docker]` and `[runners.kubernetes]` are kept as raw tables: their executors
//! (separate crates) own their schema.

mod edit;
mod load;
mod system_id;

pub(crate) use system_id::hmac_sha256;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use edit::{ConfigEditor, EditError, NewRunner};
pub use load::{ConfigError, LoadedConfig, Warning, default_config_path, load, parse};
pub use system_id::{SystemIdError, load_or_create_system_id, system_id_from_machine_id};

/// The whole file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    pub concurrent: usize,
    pub check_interval: i64,
    pub log_level: Option<String>,
    pub log_format: Option<String>,
    pub listen_address: Option<String>,
    /// Seconds.
    pub shutdown_timeout: i64,
    pub session_server: Option<SessionServer>,
    pub runners: Vec<RunnerConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            concurrent: 1,
            check_interval: 0,
            log_level: None,
            log_format: None,
            listen_address: None,
            shutdown_timeout: 0,
            session_server: None,
            runners: Vec::new(),
        }
    }
}

impl Config {
    /// `check_interval`, 3 s when unset or not positive.
    pub fn check_interval(&self) -> Duration {
        secs_or(self.check_interval, 3)
    }

    /// `shutdown_timeout`, 30 s when unset or not positive.
    pub fn shutdown_timeout(&self) -> Duration {
        secs_or(self.shutdown_timeout, 30)
    }

    /// `concurrent`, at least 1.
    pub fn concurrent(&self) -> usize {
        self.concurrent.max(1)
    }
}

fn secs_or(v: i64, default: u64) -> Duration {
    Duration::from_secs(u64::try_from(v).ok().filter(|v| *v > 0).unwrap_or(default))
}

/// `[session_server]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SessionServer {
    pub listen_address: String,
    pub advertise_address: String,
    pub session_timeout: i64,
}

/// One `[[runners]]` entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunnerConfig {
    pub name: String,
    pub url: String,
    pub id: i64,
    pub token: String,
    pub token_obtained_at: Option<toml::value::Datetime>,
    pub token_expires_at: Option<toml::value::Datetime>,
    #[serde(rename = "tls-ca-file")]
    pub tls_ca_file: Option<String>,
    #[serde(rename = "tls-cert-file")]
    pub tls_cert_file: Option<String>,
    #[serde(rename = "tls-key-file")]
    pub tls_key_file: Option<String>,
    pub clone_url: Option<String>,
    pub executor: String,
    pub shell: Option<String>,
    pub limit: usize,
    pub request_concurrency: usize,
    pub builds_dir: Option<String>,
    pub cache_dir: Option<String>,
    pub environment: Vec<String>,
    /// KiB; 4096 when unset.
    pub output_limit: i64,
    pub pre_get_sources_script: Option<String>,
    pub post_get_sources_script: Option<String>,
    pub pre_build_script: Option<String>,
    pub post_build_script: Option<String>,
    pub debug_trace_disabled: bool,
    pub unhealthy_requests_limit: i64,
    /// A Go duration (`"1h"`, `"30s"`) or seconds.
    pub unhealthy_interval: Option<toml::Value>,
    pub job_status_final_update_retry_limit: i64,
    pub strict_check_interval: bool,
    pub custom_build_dir: Option<CustomBuildDir>,
    pub feature_flags: BTreeMap<String, bool>,
    pub cache: Option<CacheConfig>,
    pub custom: Option<CustomConfig>,
    pub docker: Option<toml::Table>,
    pub kubernetes: Option<toml::Table>,
}

impl RunnerConfig {
    /// The short token (first 9 characters after known prefixes).
    pub fn short_token(&self) -> String {
        kiln_api::runners::short_token(&self.token)
    }

    /// `output_limit` in bytes (4096 KiB by default).
    pub fn output_limit_bytes(&self) -> u64 {
        let kib = u64::try_from(self.output_limit).ok().filter(|v| *v > 0).unwrap_or(4096);
        kib * 1024
    }

    /// `request_concurrency`, at least 1.
    pub fn request_concurrency(&self) -> usize {
        self.request_concurrency.max(1)
    }

    /// `unhealthy_requests_limit`, 3 by default.
    pub fn unhealthy_requests_limit(&self) -> u32 {
        u32::try_from(self.unhealthy_requests_limit).ok().filter(|v| *v > 0).unwrap_or(3)
    }

    /// `unhealthy_interval`, 60 minutes by default.
    pub fn unhealthy_interval(&self) -> Duration {
        self.unhealthy_interval.as_ref().and_then(parse_duration_value).unwrap_or(Duration::from_secs(3600))
    }

    /// `job_status_final_update_retry_limit`, 10 by default.
    pub fn final_update_retry_limit(&self) -> u32 {
        u32::try_from(self.job_status_final_update_retry_limit).ok().filter(|v| *v > 0).unwrap_or(10)
    }

    /// The executor kind, if it is one this runner knows.
    pub fn executor_kind(&self) -> Option<crate::executor::ExecutorKind> {
        crate::executor::ExecutorKind::parse(&self.executor)
    }
}

/// Parses a Go duration string (`1h30m`, `45s`, `500ms`) or an integer number of seconds.
pub fn parse_duration_value(v: &toml::Value) -> Option<Duration> {
    match v {
        toml::Value::Integer(i) => u64::try_from(*i).ok().map(Duration::from_secs),
        toml::Value::String(s) => parse_go_duration(s),
        _ => None,
    }
}

/// Parses a Go duration string.
pub fn parse_go_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let (num, tail) = rest.split_at(num_end);
        let num: f64 = num.parse().ok()?;
        let unit_end = tail.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_end);
        let factor = match unit {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            "us" | "µs" => 0.000_001,
            "ns" => 0.000_000_001,
            _ => return None,
        };
        total += num * factor;
        rest = tail;
    }
    Some(Duration::from_secs_f64(total))
}

/// `[runners.custom_build_dir]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CustomBuildDir {
    pub enabled: Option<bool>,
}

/// `[runners.cache]` (CamelCase keys, as in GitLab Runner).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CacheConfig {
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(rename = "Path")]
    pub path: String,
    #[serde(rename = "Shared")]
    pub shared: bool,
    #[serde(rename = "MaxUploadedArchiveSize")]
    pub max_uploaded_archive_size: i64,
    #[serde(rename = "s3")]
    pub s3: Option<S3Config>,
    #[serde(rename = "gcs")]
    pub gcs: Option<toml::Table>,
    #[serde(rename = "azure")]
    pub azure: Option<toml::Table>,
}

/// `[runners.cache.s3]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct S3Config {
    #[serde(rename = "ServerAddress")]
    pub server_address: String,
    #[serde(rename = "AccessKey")]
    pub access_key: String,
    #[serde(rename = "SecretKey")]
    pub secret_key: String,
    #[serde(rename = "SessionToken")]
    pub session_token: String,
    #[serde(rename = "BucketName")]
    pub bucket_name: String,
    #[serde(rename = "BucketLocation")]
    pub bucket_location: String,
    #[serde(rename = "Insecure")]
    pub insecure: bool,
    #[serde(rename = "AuthenticationType")]
    pub authentication_type: String,
    #[serde(rename = "PathStyle")]
    pub path_style: Option<bool>,
}

/// `[runners.custom]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CustomConfig {
    pub config_exec: Option<String>,
    pub config_args: Vec<String>,
    pub config_exec_timeout: Option<i64>,
    pub prepare_exec: Option<String>,
    pub prepare_args: Vec<String>,
    pub prepare_exec_timeout: Option<i64>,
    pub run_exec: String,
    pub run_args: Vec<String>,
    pub cleanup_exec: Option<String>,
    pub cleanup_args: Vec<String>,
    pub cleanup_exec_timeout: Option<i64>,
    pub graceful_kill_timeout: Option<i64>,
    pub force_kill_timeout: Option<i64>,
}

/// The configuration file path: `/etc/kiln/config.toml` as root, `~/.kiln/config.toml`
/// otherwise.
pub fn default_path_for(is_root: bool, home: Option<&Path>) -> PathBuf {
    if is_root {
        return PathBuf::from("/etc/kiln/config.toml");
    }
    home.map(|h| h.join(".kiln").join("config.toml")).unwrap_or_else(|| PathBuf::from("config.toml"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse() {
        assert_eq!(parse_go_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_go_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_go_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_go_duration("12"), Some(Duration::from_secs(12)));
        assert_eq!(parse_go_duration("3 parsecs"), None);
    }
}
