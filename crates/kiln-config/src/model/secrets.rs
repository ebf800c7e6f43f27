//! `secrets:`, `id_tokens:` and `identity:`.

use crate::model::common::Spanned;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secret {
    /// The CI variable the secret is exposed as.
    pub name: Spanned<String>,
    pub provider: SecretProvider,
    /// Expose as a file variable (default true).
    pub file: bool,
    /// `token: $ID_TOKEN` used to authenticate.
    pub token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretProvider {
    /// `vault: path/to/secret/field@engine` or the hash form.
    Vault {
        engine_name: String,
        engine_path: String,
        path: String,
        field: String,
    },
    AzureKeyVault {
        name: String,
        version: Option<String>,
    },
    GcpSecretManager {
        name: String,
        version: Option<String>,
    },
    AwsSecretsManager {
        secret_id: String,
        version_id: Option<String>,
        version_stage: Option<String>,
        region: Option<String>,
        role_arn: Option<String>,
        role_session_name: Option<String>,
        field: Option<String>,
    },
    Akeyless {
        name: Option<String>,
    },
    GitlabSecretsManager {
        name: String,
    },
}

/// One entry of `id_tokens:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdToken {
    pub name: Spanned<String>,
    pub aud: Vec<String>,
}

/// `identity:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identity {
    GoogleCloud,
}
