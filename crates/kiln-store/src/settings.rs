//! Instance settings: one typed record, stored as JSON so that adding a setting
//! needs no migration (missing fields take their defaults).

use serde::{Deserialize, Serialize};

use crate::Store;
use crate::db::{read_tx, write_tx};
use crate::error::{Error, Result};
use crate::token::{self, TokenKind};

/// The instance-wide settings, with GitLab's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct InstanceSettings {
    /// Legacy runner registration with a registration token (`POST /runners`).
    pub allow_runner_registration_token: bool,
    /// Digest of the instance's runner registration token, once one was made.
    pub runner_registration_token_digest: Option<String>,
    /// `max_artifacts_size` in MiB.
    pub max_artifacts_size_mb: i64,
    /// Per-job log size limit in bytes.
    pub max_trace_size_bytes: i64,
    /// Default job timeout in seconds for new projects.
    pub default_build_timeout: i64,
    /// Default `expire_in` of artifacts in seconds (`None`: never).
    pub default_artifacts_expire_in: Option<i64>,
    /// Whether new projects may use instance runners.
    pub shared_runners_enabled: bool,
}

impl Default for InstanceSettings {
    fn default() -> InstanceSettings {
        InstanceSettings {
            allow_runner_registration_token: true,
            runner_registration_token_digest: None,
            max_artifacts_size_mb: 100,
            max_trace_size_bytes: 100 * 1024 * 1024,
            default_build_timeout: 3600,
            default_artifacts_expire_in: Some(30 * 24 * 3600),
            shared_runners_enabled: true,
        }
    }
}

const KEY: &str = "instance";

impl Store {
    /// The instance settings (defaults until something is saved).
    pub async fn instance_settings(&self) -> Result<InstanceSettings> {
        read_tx!(self, |c, q| q::settings::get(c, KEY).await?)
    }

    /// Changes the settings with `change`, atomically, and returns the result.
    pub async fn update_instance_settings(
        &self,
        change: impl FnOnce(&mut InstanceSettings),
    ) -> Result<InstanceSettings> {
        write_tx!(self, |c, q| {
            let mut settings: InstanceSettings = q::settings::get(c, KEY).await?;
            change(&mut settings);
            q::settings::put(c, KEY, &settings).await?;
            settings
        })
    }

    /// Makes a new runner registration token (the old one stops working); shown once.
    pub async fn reset_runner_registration_token(&self) -> Result<String> {
        let token = token::generate(TokenKind::RunnerRegistration)?;
        let digest = token.digest.clone();
        self.update_instance_settings(|s| s.runner_registration_token_digest = Some(digest)).await?;
        Ok(token.token)
    }

    /// Checks a registration token; refuses when legacy registration is disabled.
    pub async fn check_runner_registration_token(&self, presented: &str) -> Result<()> {
        let settings = self.instance_settings().await?;
        let ok = settings.allow_runner_registration_token
            && settings
                .runner_registration_token_digest
                .as_deref()
                .is_some_and(|d| token::matches(presented, d));
        if ok { Ok(()) } else { Err(Error::NotFound("registration token")) }
    }
}
