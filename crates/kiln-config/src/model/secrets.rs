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

use crate::model::cx::{Cx, sub};
use crate::yaml::{Map, Node, Value};

const PROVIDERS: &[&str] = &[
    "vault",
    "azure_key_vault",
    "gcp_secret_manager",
    "aws_secrets_manager",
    "akeyless",
    "gitlab_secrets_manager",
];

/// `secrets:` (`loc` = `jobs:name`).
pub(crate) fn parse_secrets(cx: &mut Cx<'_>, node: &Node, loc: &str) -> Vec<Secret> {
    let sloc = sub(loc, "secrets");
    let Some(map) = cx.map(node, &sloc) else { return Vec::new() };
    let mut out = Vec::new();
    for (key, value) in map.iter() {
        let eloc = sub(&sloc, &key.name);
        let Some(m) = cx.map(value, &eloc) else { continue };
        let mut keys: Vec<&str> = PROVIDERS.to_vec();
        keys.extend(["file", "token"]);
        cx.check_keys(m, &keys, &eloc);
        let present: Vec<&str> = PROVIDERS.iter().copied().filter(|p| m.contains_key(p)).collect();
        if present.len() != 1 {
            cx.err(
                value.span,
                &eloc,
                &format!("config must use exactly one of these keys: {}", PROVIDERS.join(", ")),
            );
            continue;
        }
        let provider = match present[0] {
            "vault" => vault(cx, m.get("vault"), &sub(&eloc, "vault")),
            "azure_key_vault" => {
                let ploc = sub(&eloc, "azure_key_vault");
                provider_map(cx, m.get("azure_key_vault"), &ploc, &["name", "version"], &["name"]).map(|p| {
                    SecretProvider::AzureKeyVault {
                        name: p.get("name").cloned().unwrap_or_default(),
                        version: p.get("version").cloned(),
                    }
                })
            }
            "gcp_secret_manager" => {
                let ploc = sub(&eloc, "gcp_secret_manager");
                provider_map(cx, m.get("gcp_secret_manager"), &ploc, &["name", "version"], &["name"]).map(
                    |p| SecretProvider::GcpSecretManager {
                        name: p.get("name").cloned().unwrap_or_default(),
                        version: p.get("version").cloned(),
                    },
                )
            }
            "aws_secrets_manager" => {
                let ploc = sub(&eloc, "aws_secrets_manager");
                let keys = [
                    "secret_id",
                    "version_id",
                    "version_stage",
                    "region",
                    "role_arn",
                    "role_session_name",
                    "field",
                ];
                match m.get("aws_secrets_manager").and_then(|n| n.as_str()) {
                    Some(s) => Some(SecretProvider::AwsSecretsManager {
                        secret_id: s.to_string(),
                        version_id: None,
                        version_stage: None,
                        region: None,
                        role_arn: None,
                        role_session_name: None,
                        field: None,
                    }),
                    None => provider_map(cx, m.get("aws_secrets_manager"), &ploc, &keys, &["secret_id"]).map(
                        |p| SecretProvider::AwsSecretsManager {
                            secret_id: p.get("secret_id").cloned().unwrap_or_default(),
                            version_id: p.get("version_id").cloned(),
                            version_stage: p.get("version_stage").cloned(),
                            region: p.get("region").cloned(),
                            role_arn: p.get("role_arn").cloned(),
                            role_session_name: p.get("role_session_name").cloned(),
                            field: p.get("field").cloned(),
                        },
                    ),
                }
            }
            "akeyless" => {
                let ploc = sub(&eloc, "akeyless");
                provider_map(cx, m.get("akeyless"), &ploc, &["name"], &[])
                    .map(|p| SecretProvider::Akeyless { name: p.get("name").cloned() })
            }
            _ => {
                let ploc = sub(&eloc, "gitlab_secrets_manager");
                provider_map(cx, m.get("gitlab_secrets_manager"), &ploc, &["name"], &["name"]).map(|p| {
                    SecretProvider::GitlabSecretsManager { name: p.get("name").cloned().unwrap_or_default() }
                })
            }
        };
        let file = match m.get("file") {
            Some(f) => cx.boolean(f, &eloc, "file").unwrap_or(true),
            None => true,
        };
        let token = m.get("token").and_then(|t| cx.string(t, &eloc, "token")).map(|s| s.value);
        if let Some(provider) = provider {
            out.push(Secret { name: Spanned::new(key.name.clone(), key.span), provider, file, token });
        }
    }
    out
}

/// A provider hash of string values, with its required keys.
fn provider_map(
    cx: &mut Cx<'_>,
    node: Option<&Node>,
    loc: &str,
    keys: &[&str],
    required: &[&str],
) -> Option<std::collections::BTreeMap<String, String>> {
    let node = node?;
    let map = cx.map(node, loc)?;
    cx.check_keys(map, keys, loc);
    let mut out = std::collections::BTreeMap::new();
    for (k, v) in map.iter() {
        if let Some(s) = v.scalar_to_string().filter(|s| !s.is_empty()) {
            out.insert(k.name.clone(), s);
        }
    }
    let missing: Vec<&str> = required.iter().copied().filter(|r| !out.contains_key(*r)).collect();
    if !missing.is_empty() {
        cx.err(node.span, loc, &format!("config missing required keys: {}", missing.join(", ")));
        return None;
    }
    Some(out)
}

fn vault(cx: &mut Cx<'_>, node: Option<&Node>, loc: &str) -> Option<SecretProvider> {
    let node = node?;
    match &node.value {
        // `path/to/secret/field@engine-path`, engine `kv-v2` by default.
        Value::Str(s) => {
            let (rest, engine_path) = s.split_once('@').unwrap_or((s.as_str(), "kv-v2"));
            let (path, field) = rest.rsplit_once('/').unwrap_or((rest, ""));
            Some(SecretProvider::Vault {
                engine_name: "kv-v2".into(),
                engine_path: engine_path.into(),
                path: path.into(),
                field: field.into(),
            })
        }
        Value::Map(map) => vault_hash(cx, node, map, loc),
        _ => {
            cx.err(node.span, loc, "config should be a hash or a string");
            None
        }
    }
}

fn vault_hash(cx: &mut Cx<'_>, node: &Node, map: &Map, loc: &str) -> Option<SecretProvider> {
    cx.check_keys(map, &["engine", "path", "field"], loc);
    let missing: Vec<&str> =
        ["engine", "path", "field"].into_iter().filter(|k| !map.contains_key(k)).collect();
    if !missing.is_empty() {
        cx.err(node.span, loc, &format!("config missing required keys: {}", missing.join(", ")));
        return None;
    }
    let engine = map.get("engine")?;
    let eng = provider_map(cx, Some(engine), &sub(loc, "engine"), &["name", "path"], &["name", "path"])?;
    let s = |k: &str| map.get(k).and_then(|n| n.scalar_to_string()).unwrap_or_default();
    Some(SecretProvider::Vault {
        engine_name: eng.get("name").cloned().unwrap_or_default(),
        engine_path: eng.get("path").cloned().unwrap_or_default(),
        path: s("path"),
        field: s("field"),
    })
}

/// `id_tokens:` (`loc` = `jobs:name` or `default`).
pub(crate) fn parse_id_tokens(cx: &mut Cx<'_>, node: &Node, loc: &str) -> Vec<IdToken> {
    let iloc = sub(loc, "id_tokens");
    let Some(map) = cx.map(node, &iloc) else { return Vec::new() };
    let mut out = Vec::new();
    for (key, value) in map.iter() {
        let tloc = sub(&iloc, &key.name);
        let Some(m) = cx.map(value, &tloc) else { continue };
        cx.check_keys(m, &["aud"], &tloc);
        let Some(aud) = m.get("aud") else {
            cx.err(value.span, &tloc, "aud can't be blank");
            continue;
        };
        let Some(list) = cx.string_or_strings(aud, &tloc, "aud") else { continue };
        out.push(IdToken {
            name: Spanned::new(key.name.clone(), key.span),
            aud: list.into_iter().map(|s| s.value).collect(),
        });
    }
    out
}

/// `identity:`.
pub(crate) fn parse_identity(cx: &mut Cx<'_>, node: &Node, loc: &str) -> Option<Identity> {
    match node.as_str() {
        Some("google_cloud") => Some(Identity::GoogleCloud),
        _ => {
            cx.err(node.span, &sub(loc, "identity"), "config should be one of: google_cloud");
            None
        }
    }
}
