//! Registry credentials for pulls, looked up in GitLab Runner's order: the job's
//! `DOCKER_AUTH_CONFIG` variable, the runner user's `~/.docker/config.json`, then the
//! job payload's `credentials` (the GitLab registry).

use base64::Engine;
use bollard::auth::DockerCredentials;
use kiln_api::job::Credentials;

/// Credentials found for an image, and where they came from (for the log).
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub source: String,
    pub credentials: DockerCredentials,
}

/// The registry an image comes from, as Docker names it (`docker.io` for Docker Hub).
pub fn registry_of(image: &str) -> String {
    match image.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            normalize(first)
        }
        _ => "docker.io".into(),
    }
}

/// A registry key without scheme and path; Docker Hub's spellings become `docker.io`.
fn normalize(key: &str) -> String {
    let k = key.trim();
    let k = k.strip_prefix("https://").or_else(|| k.strip_prefix("http://")).unwrap_or(k);
    let host = k.split('/').next().unwrap_or(k);
    match host {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => "docker.io".into(),
        h => h.to_string(),
    }
}

/// Reads `{"auths": {"<registry>": {"auth": "<base64 user:pass>"} | {"username", "password"}}}`.
fn from_config_json(text: &str, registry: &str) -> Option<DockerCredentials> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    let auths = value.get("auths")?.as_object()?;
    let (key, entry) = auths.iter().find(|(k, _)| normalize(k) == registry)?;
    let (mut username, mut password) = (
        entry.get("username").and_then(|v| v.as_str()).map(str::to_string),
        entry.get("password").and_then(|v| v.as_str()).map(str::to_string),
    );
    if let Some(auth) = entry.get("auth").and_then(|v| v.as_str()) {
        let decoded = base64::engine::general_purpose::STANDARD.decode(auth.trim()).ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (u, p) = decoded.split_once(':')?;
        username = Some(u.to_string());
        password = Some(p.to_string());
    }
    Some(DockerCredentials { username, password, serveraddress: Some(key.clone()), ..Default::default() })
}

/// The credentials for `image`, if any source has some.
pub fn resolve(image: &str, docker_auth_config: Option<&str>, payload: &[Credentials]) -> Option<Found> {
    let registry = registry_of(image);
    if let Some(c) = docker_auth_config.and_then(|t| from_config_json(t, &registry)) {
        return Some(Found { source: "$DOCKER_AUTH_CONFIG".into(), credentials: c });
    }
    if let Some(home) = std::env::var_os("HOME") {
        let path = std::path::Path::new(&home).join(".docker").join("config.json");
        if let Some(c) = std::fs::read_to_string(&path).ok().and_then(|t| from_config_json(&t, &registry)) {
            return Some(Found { source: path.to_string_lossy().into_owned(), credentials: c });
        }
    }
    payload.iter().find(|c| c.kind == "registry" && normalize(&c.url) == registry).map(|c| Found {
        source: "job payload (GitLab Registry)".into(),
        credentials: DockerCredentials {
            username: Some(c.username.clone()),
            password: Some(c.password.clone()),
            serveraddress: Some(c.url.clone()),
            ..Default::default()
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registries_are_named_as_docker_names_them() {
        assert_eq!(registry_of("busybox"), "docker.io");
        assert_eq!(registry_of("library/busybox:1"), "docker.io");
        assert_eq!(registry_of("127.0.0.1:5000/kiln/busybox"), "127.0.0.1:5000");
        assert_eq!(registry_of("registry.example.com/a/b"), "registry.example.com");
        assert_eq!(registry_of("localhost/x"), "localhost");
    }

    #[test]
    fn docker_auth_config_comes_first_then_the_payload() {
        let auth = base64::engine::general_purpose::STANDARD.encode("user:pa:ss");
        let json = format!(r#"{{"auths": {{"https://registry.example.com/v1/": {{"auth": "{auth}"}}}}}}"#);
        let found = resolve("registry.example.com/app:1", Some(&json), &[]).unwrap();
        assert_eq!(found.source, "$DOCKER_AUTH_CONFIG");
        assert_eq!(found.credentials.username.as_deref(), Some("user"));
        assert_eq!(found.credentials.password.as_deref(), Some("pa:ss"));
        let payload = vec![Credentials {
            kind: "registry".into(),
            url: "registry.example.com".into(),
            username: "gitlab-ci-token".into(),
            password: "glcbt-x".into(),
        }];
        let found = resolve("registry.example.com/app:1", None, &payload).unwrap();
        assert_eq!(found.source, "job payload (GitLab Registry)");
        assert!(resolve("other.example.com/app", Some("not json"), &payload).is_none());
    }
}
