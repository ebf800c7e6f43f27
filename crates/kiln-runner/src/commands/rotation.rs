//! Automatic rotation of runner tokens in `run`, as gitlab-runner does it: when 75 % of
//! `token_expires_at - token_obtained_at` has passed (unless the runner sets
//! `FF_DISABLE_AUTOMATIC_TOKEN_ROTATION`), the token is reset through
//! `POST /runners/reset_authentication_token` and `config.toml` is rewritten in place,
//! comments kept.

use std::path::Path;

use chrono::{DateTime, Utc};
use kiln_api::feature_flags::FeatureFlag;

use crate::commands::ManageError;
use crate::commands::manage::{now, parse_expiry};
use crate::config::{ConfigEditor, RunnerConfig};
use crate::network::Client;

fn instant(d: &toml::value::Datetime) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(&d.to_string()).ok().map(|t| t.with_timezone(&Utc))
}

/// When the runner's token is due for rotation, if it expires at all.
pub(crate) fn due_at(r: &RunnerConfig) -> Option<DateTime<Utc>> {
    let flag = FeatureFlag::DisableAutomaticTokenRotation;
    if r.feature_flags.get(flag.name()).copied().unwrap_or(flag.default_value()) {
        return None;
    }
    let obtained = instant(r.token_obtained_at.as_ref()?)?;
    let expires = instant(r.token_expires_at.as_ref()?)?;
    let lifetime = expires - obtained;
    (lifetime > chrono::TimeDelta::zero()).then(|| obtained + lifetime * 3 / 4)
}

/// Resets the token of `r` and saves the new one in `config_path`; returns the runner as
/// it is now configured.
pub(crate) async fn rotate(
    client: &Client,
    config_path: &Path,
    r: &RunnerConfig,
) -> Result<RunnerConfig, ManageError> {
    let answer = client.reset_token(&r.url, &r.token).await?;
    let obtained = Some(now());
    let expires = parse_expiry(answer.token_expires_at.as_deref());
    let mut editor = ConfigEditor::open(config_path)?;
    editor.set_token(&r.token, &answer.token, obtained, expires)?;
    editor.save()?;
    Ok(RunnerConfig {
        token: answer.token,
        token_obtained_at: obtained,
        token_expires_at: expires,
        ..r.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runner(obtained: &str, expires: &str) -> RunnerConfig {
        RunnerConfig {
            token_obtained_at: Some(obtained.parse().unwrap()),
            token_expires_at: Some(expires.parse().unwrap()),
            ..Default::default()
        }
    }

    #[test]
    fn rotation_is_due_at_three_quarters_of_the_lifetime() {
        let r = runner("2025-01-01T00:00:00Z", "2025-01-05T00:00:00Z");
        assert_eq!(due_at(&r).unwrap().to_rfc3339(), "2025-01-04T00:00:00+00:00");
        let mut off = r.clone();
        off.feature_flags.insert("FF_DISABLE_AUTOMATIC_TOKEN_ROTATION".into(), true);
        assert_eq!(due_at(&off), None);
        assert_eq!(due_at(&RunnerConfig::default()), None);
        assert_eq!(due_at(&runner("2025-01-05T00:00:00Z", "2025-01-01T00:00:00Z")), None);
    }
}
