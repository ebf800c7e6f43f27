//! `[runners.docker]` of GitLab Runner's `config.toml`: the settings this executor honours,
//! with GitLab Runner's names, defaults and value formats (`memory = "512m"`,
//! `cpus = "1.5"`, `pull_policy` as a string or a list).
//!
//! Keys this executor does not know are ignored, as GitLab Runner ignores keys of newer
//! versions; a known key with a value of the wrong type is an error that names it.

use std::collections::BTreeMap;

use serde::Deserialize;

/// Why `[runners.docker]` could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid [runners.docker] configuration: {0}")]
    Invalid(String),
    #[error("invalid [runners.docker] {key} value {value:?}: {reason}")]
    Value { key: &'static str, value: String, reason: String },
}

/// One `[[runners.docker.services]]` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ConfigService {
    pub name: String,
    pub alias: String,
    pub entrypoint: Vec<String>,
    pub command: Vec<String>,
    pub environment: Vec<String>,
}

/// `[runners.docker]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct DockerConfig {
    /// The engine: `unix:///var/run/docker.sock`, `tcp://host:2375`, ... (else
    /// `DOCKER_HOST`, else the local socket).
    pub host: Option<String>,
    pub hostname: Option<String>,
    /// The image of jobs without `image:`.
    pub image: String,
    pub privileged: bool,
    pub services_privileged: Option<bool>,
    pub disable_entrypoint_overwrite: bool,
    pub user: Option<String>,
    pub allowed_users: Vec<String>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub security_opt: Vec<String>,
    pub devices: Vec<String>,
    pub disable_cache: bool,
    pub volumes: Vec<String>,
    /// Host directory for the runner side of builds and caches (relative to the
    /// working directory).
    pub cache_dir: Option<String>,
    pub extra_hosts: Vec<String>,
    pub links: Vec<String>,
    pub network_mode: Option<String>,
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub memory: Option<String>,
    pub memory_swap: Option<String>,
    pub memory_reservation: Option<String>,
    pub cpus: Option<String>,
    pub cpuset_cpus: Option<String>,
    pub cpu_shares: Option<i64>,
    pub shm_size: Option<i64>,
    pub oom_kill_disable: bool,
    pub tmpfs: BTreeMap<String, String>,
    pub services_tmpfs: BTreeMap<String, String>,
    pub sysctls: BTreeMap<String, String>,
    #[serde(deserialize_with = "string_or_list")]
    pub pull_policy: Vec<String>,
    pub allowed_pull_policies: Vec<String>,
    pub allowed_images: Vec<String>,
    pub allowed_services: Vec<String>,
    /// Seconds; 0 means GitLab Runner's default (30), negative disables the wait.
    pub wait_for_services_timeout: i64,
    /// Not used: predefined stages run on the runner's machine (see the crate doc).
    pub helper_image: Option<String>,
    pub services: Vec<ConfigService>,
    pub services_limit: Option<i64>,
}

/// GitLab Runner's `DefaultWaitForServicesTimeout`.
pub const DEFAULT_WAIT_FOR_SERVICES_TIMEOUT: i64 = 30;

/// `pull_policy = "always"` or `pull_policy = ["always", "if-not-present"]`.
fn string_or_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a string or a list of strings")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(vec![v.to_string()])
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(s) = seq.next_element::<String>()? {
                out.push(s);
            }
            Ok(out)
        }
    }
    d.deserialize_any(V)
}

impl DockerConfig {
    /// Reads `[runners.docker]` (a missing table is the default configuration).
    pub fn from_table(table: Option<&toml::Table>) -> Result<DockerConfig, ConfigError> {
        let Some(table) = table else { return Ok(DockerConfig::default()) };
        let config: DockerConfig = toml::Value::Table(table.clone())
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid(e.message().to_string()))?;
        // Check the values whose format is only known at use once, up front.
        config.resources()?;
        Ok(config)
    }

    /// The wait for services, `None` when disabled.
    pub fn wait_for_services(&self) -> Option<std::time::Duration> {
        let secs = match self.wait_for_services_timeout {
            0 => DEFAULT_WAIT_FOR_SERVICES_TIMEOUT,
            n if n < 0 => return None,
            n => n,
        };
        u64::try_from(secs).ok().map(std::time::Duration::from_secs)
    }

    /// Memory and CPU limits in the engine's units.
    pub fn resources(&self) -> Result<Resources, ConfigError> {
        let bytes = |key: &'static str, v: &Option<String>| -> Result<Option<i64>, ConfigError> {
            match v.as_deref().map(str::trim) {
                None | Some("") => Ok(None),
                Some(s) => ram_in_bytes(s).map(Some).ok_or_else(|| ConfigError::Value {
                    key,
                    value: s.into(),
                    reason: "invalid size".into(),
                }),
            }
        };
        let nano_cpus = match self.cpus.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(s) => {
                let cpus: f64 = s.parse().map_err(|_| ConfigError::Value {
                    key: "cpus",
                    value: s.into(),
                    reason: "not a number".into(),
                })?;
                if !cpus.is_finite() || cpus < 0.0 {
                    return Err(ConfigError::Value {
                        key: "cpus",
                        value: s.into(),
                        reason: "not a positive number".into(),
                    });
                }
                // Saturating float-to-int is what we want for absurd values.
                #[allow(clippy::cast_possible_truncation)]
                Some((cpus * 1e9).round() as i64)
            }
        };
        Ok(Resources {
            memory: bytes("memory", &self.memory)?,
            memory_swap: bytes("memory_swap", &self.memory_swap)?,
            memory_reservation: bytes("memory_reservation", &self.memory_reservation)?,
            nano_cpus,
        })
    }
}

/// Limits for the build container.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resources {
    pub memory: Option<i64>,
    pub memory_swap: Option<i64>,
    pub memory_reservation: Option<i64>,
    pub nano_cpus: Option<i64>,
}

/// Docker's `units.RAMInBytes`: a number with an optional binary unit (`b`, `k`, `m`,
/// `g`, `t`, `p`, optionally followed by `b`/`ib`), case-insensitive; `-1` means
/// unlimited (memory swap).
pub fn ram_in_bytes(s: &str) -> Option<i64> {
    let s = s.trim();
    if s == "-1" {
        return Some(-1);
    }
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let num: f64 = num.parse().ok()?;
    let unit = unit.trim().to_ascii_lowercase();
    let unit = unit.strip_suffix("ib").or_else(|| unit.strip_suffix('b')).unwrap_or(&unit);
    let factor: f64 = match unit {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024.0_f64.powi(4),
        "p" => 1024.0_f64.powi(5),
        _ => return None,
    };
    let bytes = num * factor;
    // Values past i64 are refused rather than wrapped.
    #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
    (bytes.is_finite() && bytes >= 0.0 && bytes < i64::MAX as f64).then_some(bytes as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<DockerConfig, ConfigError> {
        let table: toml::Table = toml::from_str(text).unwrap();
        DockerConfig::from_table(Some(&table))
    }

    #[test]
    fn gitlab_runner_settings_are_read_with_their_formats() {
        let c = parse(
            r#"
            image = "alpine:3"
            privileged = true
            volumes = ["/cache", "/srv/data:/data:ro"]
            extra_hosts = ["db.local:10.0.0.5"]
            memory = "512m"
            cpus = "1.5"
            shm_size = 268435456
            pull_policy = "if-not-present"
            allowed_pull_policies = ["if-not-present", "never"]
            wait_for_services_timeout = -1
            some_newer_setting = { nested = true }
            [[services]]
            name = "redis:7"
            alias = "cache"
            "#,
        )
        .unwrap();
        assert_eq!(c.image, "alpine:3");
        assert!(c.privileged);
        assert_eq!(c.pull_policy, ["if-not-present"]);
        assert_eq!(c.services[0].alias, "cache");
        assert_eq!(c.wait_for_services(), None);
        let r = c.resources().unwrap();
        assert_eq!(r.memory, Some(512 * 1024 * 1024));
        assert_eq!(r.nano_cpus, Some(1_500_000_000));
        let list = parse("pull_policy = [\"always\", \"never\"]").unwrap();
        assert_eq!(list.pull_policy, ["always", "never"]);
        assert_eq!(parse("").unwrap().wait_for_services(), Some(std::time::Duration::from_secs(30)));
    }

    #[test]
    fn bad_values_are_named() {
        let e = parse("memory = \"lots\"").unwrap_err();
        assert_eq!(e.to_string(), "invalid [runners.docker] memory value \"lots\": invalid size");
        assert!(parse("cpus = \"fast\"").unwrap_err().to_string().contains("cpus"));
        assert!(parse("privileged = \"yes\"").unwrap_err().to_string().contains("invalid [runners.docker]"));
    }

    #[test]
    fn sizes_use_binary_units() {
        assert_eq!(ram_in_bytes("1g"), Some(1 << 30));
        assert_eq!(ram_in_bytes("64MB"), Some(64 << 20));
        assert_eq!(ram_in_bytes("100"), Some(100));
        assert_eq!(ram_in_bytes("2kib"), Some(2048));
        assert_eq!(ram_in_bytes("-1"), Some(-1));
        assert_eq!(ram_in_bytes("1x"), None);
        assert_eq!(ram_in_bytes("99999999999p"), None);
    }
}
