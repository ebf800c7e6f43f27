//! `system_id`: the identity of this runner manager, kept in `.runner_system_id` beside
//! `config.toml` (`s_` + 12 hex digits of HMAC-SHA256(machine-id, "gitlab-runner"), or
//! `r_` + 12 random alphanumerics when there is no machine id).

use std::path::{Path, PathBuf};

use rand::Rng;
use sha2::{Digest, Sha256};

/// The file could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("failed to {action} {path}: {source}")]
pub struct SystemIdError {
    action: &'static str,
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

/// Reads `.runner_system_id` beside `config_path`, creating it when missing or invalid.
pub fn load_or_create_system_id(config_path: &Path) -> Result<String, SystemIdError> {
    let path = config_path.parent().unwrap_or(Path::new(".")).join(".runner_system_id");
    if let Ok(text) = std::fs::read_to_string(&path) {
        let id = text.trim();
        if is_valid(id) {
            return Ok(id.to_string());
        }
    }
    let machine_id = ["/etc/machine-id", "/var/lib/dbus/machine-id"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let id = match machine_id {
        Some(m) => system_id_from_machine_id(&m),
        None => random_system_id(),
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| SystemIdError {
            action: "create",
            path: dir.into(),
            source,
        })?;
    }
    std::fs::write(&path, &id).map_err(|source| SystemIdError {
        action: "write",
        path: path.clone(),
        source,
    })?;
    Ok(id)
}

fn is_valid(id: &str) -> bool {
    let Some((prefix, rest)) = id.split_once('_') else { return false };
    matches!(prefix, "s" | "r") && rest.len() == 12 && rest.chars().all(|c| c.is_ascii_alphanumeric())
}

/// `s_` + the first 12 hex digits of HMAC-SHA256 keyed on the machine id over "gitlab-runner".
pub fn system_id_from_machine_id(machine_id: &str) -> String {
    let mac = hmac_sha256(machine_id.as_bytes(), b"gitlab-runner");
    format!("s_{}", &hex::encode(mac)[..12])
}

fn random_system_id() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::rng();
    let body: String = (0..12).map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())])).collect();
    format!("r_{body}")
}

/// HMAC-SHA256 (RFC 2104); small enough to write out rather than pull in another crate.
pub(crate) fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(message);
    let inner = inner.finalize();
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner);
    outer.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(hex::encode(mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn system_ids_have_gitlabs_shape_and_persist() {
        let id = system_id_from_machine_id("0123456789abcdef0123456789abcdef");
        assert!(id.starts_with("s_") && id.len() == 14 && is_valid(&id));
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.toml");
        let a = load_or_create_system_id(&config).unwrap();
        let b = load_or_create_system_id(&config).unwrap();
        assert_eq!(a, b);
        assert!(is_valid(&a));
    }
}
