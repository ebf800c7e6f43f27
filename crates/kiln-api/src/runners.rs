//! Runner management endpoints: register, verify, unregister, reset token.

use serde::{Deserialize, Serialize};

use crate::request::VersionInfo;

/// The body of `POST /runners` (legacy registration with a registration token).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RegisterRunnerRequest {
    pub token: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub maintenance_note: String,
    /// Comma-separated.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub tag_list: String,
    pub run_untagged: bool,
    pub locked: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub access_level: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_timeout: Option<i64>,
    pub paused: bool,
    pub info: VersionInfo,
}

/// The `201` body of `POST /runners`, and the newer `200` body of `POST /runners/verify`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RegisterRunnerResponse {
    pub id: i64,
    pub token: String,
    /// ISO 8601, or absent/null when the token does not expire.
    pub token_expires_at: Option<String>,
}

/// The body of `POST /runners/verify`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VerifyRunnerRequest {
    pub token: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub system_id: String,
    pub info: VersionInfo,
}

/// The body of `DELETE /runners`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UnregisterRunnerRequest {
    pub token: String,
}

/// The body of `DELETE /runners/managers`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UnregisterManagerRequest {
    pub token: String,
    pub system_id: String,
}

/// The body of `POST /runners/reset_authentication_token`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResetTokenRequest {
    pub token: String,
}

/// The `201` body of a token reset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResetTokenResponse {
    pub token: String,
    pub token_expires_at: Option<String>,
}

/// Prefix of runner tokens created in the UI or API ("new workflow").
pub const CREATED_RUNNER_TOKEN_PREFIX: &str = "glrt-";

/// Whether a token is a UI/API-created runner authentication token.
pub fn is_created_runner_token(token: &str) -> bool {
    token.starts_with(CREATED_RUNNER_TOKEN_PREFIX)
}

/// The short token shown in logs and used in paths: the first 9 characters after known
/// prefixes (`glrt-`, `glrtr-`, partition markers `t1_`..`t3_`) are stripped.
pub fn short_token(token: &str) -> String {
    let mut t = token;
    for prefix in ["glrtr-", "glrt-"] {
        if let Some(rest) = t.strip_prefix(prefix) {
            t = rest;
            break;
        }
    }
    for prefix in ["t1_", "t2_", "t3_"] {
        if let Some(rest) = t.strip_prefix(prefix) {
            t = rest;
            break;
        }
    }
    t.chars().take(9).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_tokens_strip_known_prefixes() {
        assert_eq!(short_token("glrt-t1_abcdefghijkl"), "abcdefghi");
        assert_eq!(short_token("glrt-abcdefghijkl"), "abcdefghi");
        assert_eq!(short_token("abc"), "abc");
        assert_eq!(short_token("t3_0123456789"), "012345678");
    }
}
