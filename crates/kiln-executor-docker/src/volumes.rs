//! `[runners.docker] volumes`: `host:container[:mode]` and `name:container[:mode]` are
//! passed to the engine as binds; a bare `container` path becomes GitLab Runner's cache
//! volume, one named volume per runner, project and concurrency slot that outlives the
//! job (unless `disable_cache`, when no volume is made).

use sha2::{Digest, Sha256};

/// What the volumes setting asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Volumes {
    /// `source:destination[:mode]` entries for the engine.
    pub binds: Vec<String>,
    /// Named cache volumes to create: (volume name, container path).
    pub cache: Vec<(String, String)>,
    /// Paths skipped because cache volumes are disabled.
    pub skipped: Vec<String>,
}

/// Why a volume entry is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid volume specification: {0:?}")]
pub struct VolumeError(pub String);

/// Splits the configured volumes; `unique` is the job's `runner-...-concurrent-N` name.
pub fn plan(entries: &[String], unique: &str, disable_cache: bool) -> Result<Volumes, VolumeError> {
    let mut out = Volumes::default();
    for entry in entries {
        let parts: Vec<&str> = entry.split(':').collect();
        let valid_mode = |m: &str| {
            m.split(',').all(|o| {
                matches!(
                    o,
                    "ro" | "rw"
                        | "z"
                        | "Z"
                        | "shared"
                        | "slave"
                        | "private"
                        | "rshared"
                        | "rslave"
                        | "rprivate"
                        | "nocopy"
                        | "consistent"
                        | "cached"
                        | "delegated"
                )
            })
        };
        match parts.as_slice() {
            [dest] if dest.starts_with('/') => {
                if disable_cache {
                    out.skipped.push((*dest).to_string());
                } else {
                    let name =
                        format!("{unique}-cache-{}", &hex::encode(Sha256::digest(dest.as_bytes()))[..32]);
                    out.binds.push(format!("{name}:{dest}"));
                    out.cache.push((name, (*dest).to_string()));
                }
            }
            [source, dest] if !source.is_empty() && dest.starts_with('/') => out.binds.push(entry.clone()),
            [source, dest, mode] if !source.is_empty() && dest.starts_with('/') && valid_mode(mode) => {
                out.binds.push(entry.clone());
            }
            _ => return Err(VolumeError(entry.clone())),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_cache_volumes_and_errors() {
        let v = plan(
            &["/cache".into(), "/srv/data:/data:ro".into(), "named:/named".into()],
            "runner-abc-project-7-concurrent-0",
            false,
        )
        .unwrap();
        assert_eq!(v.binds.len(), 3);
        assert!(v.binds[0].starts_with("runner-abc-project-7-concurrent-0-cache-"));
        assert!(v.binds[0].ends_with(":/cache"));
        assert_eq!(v.cache.len(), 1);
        assert_eq!(v.binds[1], "/srv/data:/data:ro");
        let off = plan(&["/cache".into()], "u", true).unwrap();
        assert!(off.binds.is_empty());
        assert_eq!(off.skipped, ["/cache"]);
        assert!(plan(&["relative".into()], "u", false).is_err());
        assert!(plan(&["/a:/b:bogus".into()], "u", false).is_err());
        assert!(plan(&["/a:/b:ro:x".into()], "u", false).is_err());
    }
}
